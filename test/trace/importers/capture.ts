/**
 * Hand-made QEMU captures for the importer tests: log lines (QEMU 7.2's
 * formats, without the timestamp prefix) and snapshots placed after a given
 * log line, whose memory is a few regions of qwords.
 */
import { importQemuCapture, type CaptureInput, type ImportResult } from '../../../src/trace/importers/qemuImport.js';
import { parseQemuLog } from '../../../src/trace/importers/qemuLog.js';
import type { SnapshotMemory } from '../../../src/trace/importers/snapshots.js';

/** Regions [base, base + size) that a snapshot covers, and the non-zero qwords in them. */
export class TestMemory implements SnapshotMemory {
  constructor(readonly regions: readonly (readonly [bigint, bigint])[], readonly words: ReadonlyMap<bigint, bigint>) {}
  qwords(addr: bigint, count: number): bigint[] | undefined {
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const a = addr + BigInt(i) * 8n;
      if (!this.regions.some(([b, s]) => a >= b && a + 8n <= b + s)) return undefined;
      out.push(this.words.get(a) ?? 0n);
    }
    return out;
  }
}

export interface TestSnapshot {
  readonly name: string;
  /** Taken after this many log lines. */
  readonly afterLine: number;
  readonly memory: SnapshotMemory | undefined;
}

export function captureInput(lines: readonly string[], snapshots: readonly TestSnapshot[]): CaptureInput {
  const text = lines.map((l) => `${l}\n`).join('');
  const log = parseQemuLog(Buffer.from(text, 'latin1'), 'trace.log');
  return {
    name: 'test-capture', logFile: 'trace.log', log, qemuVersion: '7.2', kernel: '6.1.0-test', notes: undefined,
    snapshots: snapshots.map((s) => ({ name: s.name, traceOffset: log.lineStarts[s.afterLine]!, memory: s.memory })),
  };
}

export function importLines(lines: readonly string[], snapshots: readonly TestSnapshot[]): ImportResult {
  return importQemuCapture(captureInput(lines, snapshots));
}

/** The trace rows of an import (no comments, no blank lines, no meta rows). */
export function rowsOf(r: ImportResult): string[] {
  return r.text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('meta,'));
}

// ---------------------------------------------------------------------------
// A small capture: a linear stream table, one StreamID (0x8) translating through a 4-level
// 4K table, one successful read, one TLB hit, one faulting read, and the driver reading the
// event record back.  Addresses and values are those a Linux 6.1 driver writes (the CD and
// STE words are the real capture's, with other addresses).

export const W = (n: number, v: bigint) => `smmuv3_write_mmio addr: 0x${n.toString(16)} val:0x${v.toString(16)} size: 0x${n === 0x80 || n === 0x90 || n === 0xa0 ? 8 : 4}(0)`;
export const R = (n: number, v: bigint) => `smmuv3_read_mmio addr: 0x${n.toString(16)} val:0x${v.toString(16)} size: 0x4(0)`;

export const SETUP = [
  R(0x0, 0xd40101an),
  W(0x80, 0x4000_0000n), // STRTAB_BASE: linear table at 0x4000_0000
  W(0x88, 0x5n), // STRTAB_BASE_CFG: FMT linear, LOG2SIZE 5
  W(0x90, 0x4001_0004n), // CMDQ_BASE: 16 entries at 0x4001_0000
  W(0xa0, 0x4002_0004n), // EVENTQ_BASE: 16 entries at 0x4002_0000
  W(0x20, 0xcn), // CR0: CMDQEN | EVENTQEN
  'smmuv3_cmdq_consume prod=2 cons=0 prod.wrap=0 cons.wrap=0',
  'smmuv3_cmdq_opcode <--- SMMU_CMD_CFGI_STE',
  'smmuv3_cmdq_cfgi_ste streamid= 0x8',
  'smmuv3_config_cache_inv Config cache INV for sid=0x8',
  'smmuv3_cmdq_consume prod=2 cons=1 prod.wrap=0 cons.wrap=0',
  'smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC',
  'smmuv3_cmdq_consume_out prod:2, cons:2, prod_wrap:0, cons_wrap:0 ',
  W(0x98, 2n), // CMDQ_PROD: the two commands above
  R(0x9c, 2n),
  W(0x20, 0xdn), // SMMUEN
];

export const TRANSLATE = [
  'smmuv3_config_cache_miss Config cache MISS for sid=0x8 (hits=0, misses=1, hit rate=0)',
  'smmuv3_find_ste sid=0x8 features:0x0, sid_split:0x0',
  'smmuv3_get_ste STE addr: 0x40000200',
  'smmuv3_get_cd CD addr: 0x40030000',
  'smmuv3_decode_cd oas=44',
  'smmuv3_decode_cd_tt TT[0]:tsz:16 ttb:0x40040000 granule_sz:12 had:0',
  'smmu_iotlb_lookup_miss IOTLB cache MISS asid=1 addr=0x1000 hit=0 miss=1 hit rate=0',
  'smmu_get_pte baseaddr=0x40040000 index=0x0, pteaddr=0x40040000, pte=0x40041003',
  'smmu_get_pte baseaddr=0x40041000 index=0x0, pteaddr=0x40041000, pte=0x40042003',
  'smmu_get_pte baseaddr=0x40042000 index=0x0, pteaddr=0x40042000, pte=0x40043003',
  'smmu_get_pte baseaddr=0x40043000 index=0x1, pteaddr=0x40043008, pte=0x48000f47',
  'smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0x1004 translated=0x48000004 perm=0x3',
  'smmuv3_config_cache_hit Config cache HIT for sid=0x8 (hits=1, misses=1, hit rate=50)',
  'smmu_iotlb_lookup_hit IOTLB cache HIT asid=1 addr=0x1000 hit=1 miss=1 hit rate=50',
  'smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0x1ffe translated=0x48000ffe perm=0x3',
];

export const FAULT = [
  'smmuv3_config_cache_hit Config cache HIT for sid=0x8 (hits=2, misses=1, hit rate=66)',
  'smmu_get_pte baseaddr=0x40040000 index=0x0, pteaddr=0x40040000, pte=0x40041003',
  'smmu_get_pte baseaddr=0x40041000 index=0x0, pteaddr=0x40041000, pte=0x40042003',
  'smmu_get_pte baseaddr=0x40042000 index=0x1, pteaddr=0x40042008, pte=0x0',
  'smmu_ptw_invalid_pte stage=1 level=2 base@=0x40042000 pte@=0x40042008 offset=1 pte=0x0',
  'smmuv3-iommu-memory-region-8-1 translation failed for iova=0x200000 (SMMU_EVT_F_TRANSLATION)',
  'smmuv3_record_event SMMU_EVT_F_TRANSLATION sid=0x8',
  'smmuv3_trigger_irq irq=0',
  "Invalid read at addr 0x200000, size 4, region '(null)', reason: rejected",
  R(0xa8, 1n), // EVENTQ_PROD (Page 1, logged at its Page 0 alias)
  W(0xac, 1n), // EVENTQ_CONS: the driver consumed record 0
];

const words = new Map<bigint, bigint>([
  // Command queue slots 0 and 1: CFGI_STE sid 8 leaf, CMD_SYNC CS=SEV MSH=ISH MSIAttr=0xf.
  [0x4001_0000n, 0x0000_0008_0000_0003n], [0x4001_0008n, 1n],
  [0x4001_0010n, 0x0fc0_2046n], [0x4001_0018n, 0n],
  // STE of SID 8: V=1 Config=S1 S1ContextPtr=0x4003_0000; S1DSS=SSID0 S1CIR/COR=WBRA S1CSH=ISH.
  [0x4000_0200n, 0x4003_000bn], [0x4000_0208n, 0xd6n],
  // CD: T0SZ=16 TG0=4K IR0/OR0=WBWA SH0=ISH EPD1 V IPS=44 AA64 R A ASET ASID=1; TTB0; MAIR.
  [0x4003_0000n, 0x0001_e204_c000_3510n], [0x4003_0008n, 0x4004_0000n], [0x4003_0018n, 0xffff_ffff_f404_ff44n],
]);
// The event record QEMU wrote for the fault: F_TRANSLATION, SID 8, RnW=1 (DW1 bit 35), InputAddr 0x200000.
export const RECORD = [0x0000_0008_0000_0010n, 0x0000_0008_0000_0000n, 0x20_0000n, 0n] as const;

/** The whole small capture's log. */
export const ALL_LINES = [...SETUP, ...TRANSLATE, ...FAULT];

export const REGIONS: (readonly [bigint, bigint])[] = [[0x4000_0000n, 0x800n], [0x4001_0000n, 0x100n], [0x4002_0000n, 0x200n], [0x4003_0000n, 0x40n]];

export function memory(extra: Iterable<readonly [bigint, bigint]> = [], regions = REGIONS): TestMemory {
  return new TestMemory(regions, new Map([...words, ...extra]));
}

export const EVTQ_WORDS: [bigint, bigint][] = RECORD.map((w, i) => [0x4002_0000n + BigInt(i) * 8n, w]);

/** The memory as a sparse dump file (mem-<snapshot>.txt): region headers, non-zero 64-byte lines. */
export function dumpText(m: TestMemory): string {
  const out: string[] = [];
  m.regions.forEach(([base, size], i) => {
    out.push(`# region r${i} base=0x${base.toString(16)} size=0x${size.toString(16)}`);
    for (let a = base; a < base + size; a += 64n) {
      const q = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => m.words.get(a + BigInt(k * 8)) ?? 0n);
      if (q.some((x) => x !== 0n)) out.push(`${a.toString(16).padStart(16, '0')}: ${q.map((x) => `0x${x.toString(16).padStart(16, '0')}`).join(' ')}`);
    }
  });
  return `${out.join('\n')}\n`;
}

/** The memory as a RAM image of [base, base + size) (pmemsave). */
export function ramImage(m: TestMemory, base: bigint, size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (const [a, v] of m.words) buf.writeBigUInt64LE(v, Number(a - base));
  return buf;
}
