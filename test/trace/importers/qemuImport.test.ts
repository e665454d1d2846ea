import { describe, expect, it } from '@jest/globals';
import { QEMU_72_PROFILE } from '../../../src/model/profiles.js';
import { explainCheck } from '../../../src/oracle/deviations.js';
import { Replay } from '../../../src/replay/engine.js';
import type { FaultRow, SteRow } from '../../../src/replay/streams.js';
import { TraceError } from '../../../src/trace/format.js';
import { cmdRow, eventOfQemu, opcodeOfQemu } from '../../../src/trace/importers/qemuImport.js';
import { parseTraceText } from '../../../src/trace/parse.js';
import {
  ALL_LINES as ALL, EVTQ_WORDS, R, REGIONS, SETUP, TRANSLATE, W, captureInput, importLines, memory, rowsOf, type TestSnapshot,
} from './capture.js';
import { importQemuCapture } from '../../../src/trace/importers/qemuImport.js';
const END: TestSnapshot = { name: 'end', afterLine: ALL.length, memory: memory(EVTQ_WORDS) };

function importError(lines: readonly string[], snaps: readonly TestSnapshot[]): TraceError {
  try {
    importLines(lines, snaps);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error('no error');
}

async function replay(text: string) {
  const faults: FaultRow[] = [];
  const ste: SteRow[] = [];
  const r = new Replay({ file: 'imported.csv', variant: 'hw', profile: QEMU_72_PROFILE, caching: 'max', explain: explainCheck }, {
    ste: (x) => ste.push(x), fault: (f) => faults.push(f), dma() {},
  });
  for (const row of await parseTraceText(text, 'imported.csv')) r.apply(row);
  return { summary: r.finish(), faults, ste };
}

describe('importing a small capture', () => {
  const result = importLines(ALL, [END]);

  it('every register access in log order, commands from queue memory, memory where the SMMU read it, one dma row per translation', () => {
    expect(rowsOf(result)).toEqual([
      'mmio_read,IDR0,expect=0x0d40101a',
      'mmio_write,STRTAB_BASE,0x0000000040000000',
      'mmio_write,STRTAB_BASE_CFG,0x00000005',
      'mmio_write,CMDQ_BASE,0x0000000040010004',
      'mmio_write,EVENTQ_BASE,0x0000000040020004',
      'mmio_write,CR0,0x0000000c',
      // The two command words of each slot, decoded; the logged CMDQ_PROD write follows them.
      'cmd,CFGI_STE,sid=8,leaf=1',
      'cmd,CMD_SYNC,cs=2,msh=3,msiattr=0xf',
      'mmio_write,CMDQ_PROD,0x00000002',
      'mmio_read,CMDQ_CONS,expect=0x00000002',
      'mmio_write,CR0,0x0000000d',
      // The first translation: STE and CD from the snapshot (only non-zero qwords differ from empty memory),
      // then the four descriptors smmu_get_pte logged.
      'mem_write,0x40000200,0x000000004003000b',
      'mem_write,0x40000208,0x00000000000000d6',
      'mem_write,0x40030000,0x0001e204c0003510',
      'mem_write,0x40030008,0x0000000040040000',
      'mem_write,0x40030018,0xfffffffff404ff44',
      'mem_write,0x40040000,0x0000000040041003',
      'mem_write,0x40041000,0x0000000040042003',
      'mem_write,0x40042000,0x0000000040043003',
      'mem_write,0x40043008,0x0000000048000f47',
      'dma,0x8,0x1004,-,priv=0,expect=pa:0x48000004',
      // Size unknown, but 0x1ffe is 2 bytes before the page end: the row stays in the page QEMU translated.
      'dma,0x8,0x1ffe,-,size=2,priv=0,expect=pa:0x48000ffe',
      // The faulting walk read L0 and L1 again (unchanged: no rows) and a zero L2 entry (memory is zero: no row);
      // direction and size come from the memory core's guest_errors line.
      'dma,0x8,0x200000,r,size=4,priv=0,expect=fault:F_TRANSLATION',
      // EVENTQ_PROD/CONS were logged at their Page 0 aliases 0xa8/0xac.
      'mmio_read,EVENTQ_PROD,expect=0x00000001',
      'mem_read,0x40020000,expect=0x0000000800000010',
      'mem_read,0x40020008,expect=0x0000000800000000',
      'mem_read,0x40020010,expect=0x0000000000200000',
      'mem_read,0x40020018,expect=0x0000000000000000',
      'mmio_write,EVENTQ_CONS,0x00000001',
    ]);
  });

  it('declares provenance, the oracle, the profile and observed memory, and marks phases', () => {
    const meta = result.text.split('\n').filter((l) => l.startsWith('meta,'));
    expect(meta).toEqual([
      'meta,source,qemu-log', 'meta,capture,test-capture', 'meta,kernel,6.1.0-test', 'meta,qemu,7.2', 'meta,oracle,qemu-7.2',
      'meta,profile,qemu-7.2', 'meta,memory,observed', 'meta,phase,end',
    ]);
    // No log line follows the snapshot, so there is no phase after it.
    expect(result.summary.phases).toEqual([{ name: 'end', fromLine: 1, toLine: ALL.length, dma: { '0x8 fault': 1, '0x8 translated': 2 } }]);
  });

  it('counts what it took from where, and what it left out', () => {
    const s = result.summary;
    expect(s.rows).toEqual({ cmd: 2, dma: 3, mem_read: 4, mem_write: 9, mmio_read: 3, mmio_write: 8 });
    expect(s.dma).toEqual({ fault: 1, translated: 2 });
    expect(s.checks).toEqual({ dma: 3, mmio_read: 3, mem_read: 4 });
    expect(s.sources).toMatchObject({
      pteReads: 7, pteWrites: 4, steFetches: 1, cdFetches: 1, l1stdWrites: 0, structuresBySnapshot: { end: 2 },
      commands: 2, commandsBySnapshot: { end: 2 }, commandsRaw: 0, page1Restored: 2, eventRecordsChecked: 1,
    });
    expect(s.gaps).toEqual({
      directionUnknown: 2, sizeUnknown: 2, unchecked: 0, mmioRejected: 0, mmioUnpredictable: 0,
      eventRecords: 1, eventRecordsUnchecked: 0, otherInvalidAccesses: 0,
    });
    expect(s.idMismatches).toEqual([]);
  });

  it('is deterministic', () => {
    expect(importLines(ALL, [END]).text).toBe(result.text);
  });

  it('replays under qemu-7.2 with every check matched, and the CLASS of the event record explained', async () => {
    const { summary, faults, ste } = await replay(result.text);
    // 3 mmio_read + 3 dma + 3 of the 4 record qwords match; DW1 differs in CLASS only.
    expect(summary.checks).toEqual({ matched: 9, explained: 1, mismatched: 0 });
    const explained = faults.filter((f) => f.type === 'explained');
    expect(explained.map((f) => [f.addr, f.detail.replace(/ \(QEMU.*$/, '')])).toEqual([
      [0x4002_0008n, 'mem_read expected 0x0000000800000000, read 0x0000020800000000: known deviation qemu-7.2/event-class-cd'],
    ]);
    // Stores of an imported trace are observations: no update window is judged.
    expect(ste.filter((r) => r.action === 'store').map((r) => r.state)).toEqual(['observed', 'observed']);
  });
});

describe('where STEs and CDs come from', () => {
  // A CFGI_STE for SID 8 after the translations and before the only later snapshot.
  const CFGI = [
    'smmuv3_cmdq_consume prod=3 cons=2 prod.wrap=0 cons.wrap=0',
    'smmuv3_cmdq_opcode <--- SMMU_CMD_CFGI_STE',
    'smmuv3_cmdq_cfgi_ste streamid= 0x8',
    W(0x98, 3n),
  ];
  const lines = [...SETUP, ...TRANSLATE, ...CFGI];
  const slot2: [bigint, bigint][] = [[0x4001_0020n, 0x0000_0008_0000_0003n], [0x4001_0028n, 1n]];

  it('a CFGI between the fetch and the snapshot after it: the snapshot before it, if it covers the entry', () => {
    const r = importLines(lines, [{ name: 'early', afterLine: SETUP.length, memory: memory() }, { name: 'late', afterLine: lines.length, memory: memory(slot2) }]);
    expect(r.summary.sources.structuresBySnapshot).toEqual({ early: 2 });
    expect(r.text).toContain("# STE of StreamID 0x8 at 0x40000200, fetched at log line 19, from snapshot 'early': V=1 Config=S1 S1ContextPtr=0x40030000");
  });

  it('no snapshot holds the entry reliably: the rows of that StreamID are not checked until its next fetch, and counted', () => {
    const partial = memory([], REGIONS.filter(([b]) => b !== 0x4000_0000n));
    const r = importLines(lines, [{ name: 'early', afterLine: SETUP.length, memory: partial }, { name: 'late', afterLine: lines.length, memory: memory(slot2) }]);
    expect(r.summary.gaps.unchecked).toBe(2);
    expect(rowsOf(r).filter((l) => l.startsWith('dma'))).toEqual(['dma,0x8,0x1004,-,priv=0', 'dma,0x8,0x1ffe,-,size=2,priv=0']);
    expect(r.text).toContain("# not checked: STE 0x40000200 fetched at log line 19: no usable snapshot: 'late' (a CFGI for StreamID 0x8 lies in between), 'early' (does not cover 0x40000200)");
  });
});

describe('an inconsistent, truncated or incomplete capture is an error naming the log line and byte offset', () => {
  it('the queue memory holds another command than QEMU consumed', () => {
    const wrong = memory([[0x4001_0000n, 0x0001_0000_0000_0011n]]); // TLBI_NH_ASID in slot 0
    const e = importError(ALL, [{ ...END, memory: wrong }]);
    const offset = captureInput(ALL, []).log.lineStarts[6];
    expect(e.message).toBe(`trace.log:7: QEMU consumed SMMU_CMD_CFGI_STE as command 0, but the queue memory holds opcode 0x11 there (the snapshot does not hold what the SMMU read) (byte offset ${offset})`);
  });
  it('commands published after the last snapshot', () => {
    const e = importError(ALL, [{ name: 'early', afterLine: 1, memory: memory() }]);
    expect(e.message).toMatch(/^trace\.log:14: command 0 \(queue slot 0\) is published after the last snapshot: its words are in no snapshot \(byte offset \d+\)$/);
  });
  it('a snapshot that does not cover the command queue', () => {
    const e = importError(ALL, [{ ...END, memory: memory([], REGIONS.filter(([b]) => b !== 0x4001_0000n)) }]);
    expect(e.message).toMatch(/^trace\.log:14: command 0 \(queue slot 0 at 0x40010000\): snapshot 'end' does not cover the command queue/);
  });
  it('the CD QEMU decoded is not the one the snapshot holds', () => {
    const e = importError(ALL, [{ ...END, memory: memory([...EVTQ_WORDS, [0x4003_0008n, 0x4005_0000n]]) }]);
    expect(e.message).toMatch(/^trace\.log:22: QEMU decoded TT\[0\] tsz 16 ttb 0x40040000, but the CD at 0x40030000 in snapshot 'end' has T0SZ 16 TTB0 0x40050000/);
  });
  it('the STE the snapshot holds points at another CD', () => {
    const e = importError(ALL, [{ ...END, memory: memory([...EVTQ_WORDS, [0x4000_0200n, 0x4009_000bn]]) }]);
    expect(e.message).toMatch(/^trace\.log:20: QEMU fetched the CD at 0x40030000, but the STE the snapshot holds points at 0x40090000/);
  });
  it('a translation with no outcome line (a failure recorded without -d guest_errors)', () => {
    const lines = [...SETUP, ...TRANSLATE.slice(0, 11), R(0x9c, 2n)];
    const e = importError(lines, [{ ...END, afterLine: lines.length }]);
    expect(e.message).toMatch(/^trace\.log:17: the translation for StreamID 0x8 that starts here has no outcome line/);
  });
  it('an event record with no failed translation before it', () => {
    const lines = [...SETUP, 'smmuv3_record_event SMMU_EVT_F_TRANSLATION sid=0x8'];
    expect(importError(lines, [{ ...END, afterLine: lines.length }]).message).toMatch(/^trace\.log:17: smmuv3_record_event SMMU_EVT_F_TRANSLATION for StreamID 0x8 outside a translation/);
    // The failed translation's guest_errors line is missing (recorded without -d guest_errors).
    const noGuestErrors = [...SETUP, ...TRANSLATE.slice(0, 10), 'smmuv3_record_event SMMU_EVT_F_TRANSLATION sid=0x8'];
    expect(importError(noGuestErrors, [{ ...END, afterLine: noGuestErrors.length }]).message)
      .toMatch(/^trace\.log:27: smmuv3_record_event SMMU_EVT_F_TRANSLATION for StreamID 0x8, but the translation that started at line 17 has no 'translation failed' line: record with -d guest_errors/);
  });
  it('a snapshot offset beyond the end of the log (the log is truncated) or inside a line', () => {
    const input = captureInput(ALL, [END]);
    expect(() => importQemuCapture({ ...input, snapshots: [{ name: 'x', traceOffset: input.log.bytes + 10, memory: undefined }] }))
      .toThrow(`trace.log:${ALL.length}: snapshot 'x' was taken at log byte ${input.log.bytes + 10}, but the log has only ${input.log.bytes} bytes: the log is truncated`);
    expect(() => importQemuCapture({ ...input, snapshots: [{ name: 'x', traceOffset: 5, memory: undefined }] }))
      .toThrow("trace.log:1: snapshot 'x' was taken at log byte 5, inside this line: the log and the snapshots do not belong together");
  });
});

describe('odd but valid logs', () => {
  it('SMMUEN=0: translate_disable is a bypass without a configuration lookup', () => {
    const r = importLines([R(0x0, 0xd40101an), 'smmuv3_translate_disable smmuv3-iommu-memory-region-8-1 sid=0x8 bypass (smmu disabled) iova:0x1234 is_write=1'], []);
    expect(rowsOf(r)).toEqual(['mmio_read,IDR0,expect=0x0d40101a', 'dma,0x8,0x1234,-,priv=0,expect=bypass']);
    expect(r.text).toContain('meta,phase,all');
  });
  it('accesses QEMU rejected, and 8-byte accesses to 32-bit registers, are left out and counted', () => {
    const r = importLines(['smmuv3_write_mmio addr: 0x20 val:0x1 size: 0x4(1)', 'smmuv3_read_mmio addr: 0x20 val:0x0 size: 0x8(0)'], []);
    expect(rowsOf(r)).toEqual([]);
    expect(r.summary.gaps).toMatchObject({ mmioRejected: 1, mmioUnpredictable: 1 });
  });
  it('a failure QEMU records no event for (CD.R=0) expects an abort; a guest_errors line of another access is counted', () => {
    const lines = [...SETUP, ...TRANSLATE.slice(0, 10),
      'smmuv3-iommu-memory-region-8-1 translation failed for iova=0x1004 (no recorded event)',
      "Invalid write at addr 0x9999000, size 8, region '(null)', reason: rejected"];
    const r = importLines(lines, [{ ...END, afterLine: lines.length }]);
    expect(rowsOf(r).filter((l) => l.startsWith('dma'))).toEqual(['dma,0x8,0x1004,-,priv=0,expect=abort']);
    expect(r.summary.gaps.otherInvalidAccesses).toBe(1);
  });
  it('QEMU event and command names', () => {
    expect(eventOfQemu('SMMU_EVT_F_TRANS_FORBIDDEN')).toBe('F_TRANSL_FORBIDDEN');
    expect(eventOfQemu('SMMU_EVT_C_BAD_STE')).toBe('C_BAD_STE');
    expect(eventOfQemu('no recorded event')).toBeUndefined();
    expect(opcodeOfQemu('SMMU_CMD_SYNC')).toBe(0x46);
    // QEMU 7.2's enum calls 0x07 CFGI_ALL; the spec's CFGI_ALL is opcode 0x04 with Range 31.
    expect(opcodeOfQemu('SMMU_CMD_CFGI_ALL')).toBe(0x07);
    expect(opcodeOfQemu('SMMU_CMD_CFGI_STE_RANGE')).toBe(0x04);
  });
  it('command words that do not encode back exactly (a RES0 bit set) are a RAW row', () => {
    expect(cmdRow([0x0fc0_2046n, 0n])).toBe('cmd,CMD_SYNC,cs=2,msh=3,msiattr=0xf');
    expect(cmdRow([0x0000_0008_0000_0003n | 1n << 8n, 1n])).toBe('cmd,RAW,dw0=0x0000000800000103,dw1=0x0000000000000001');
    expect(cmdRow([0x0000_0000_0000_00ffn, 0n])).toBe('cmd,RAW,dw0=0x00000000000000ff,dw1=0x0000000000000000');
  });
});
