/**
 * Test helpers: an SMMU with a recording observer, register programming, and
 * builders that write STEs, CDs and translation tables with the model's own
 * field tables (so tests state intent by field name, and the hand-computed
 * values in each test check the positions).
 */
import { CD_LAYOUT, type CdField } from '../../src/model/cd.js';
import type { CachingPolicy } from '../../src/model/caches.js';
import { encodeCommand, commandByName } from '../../src/model/commands.js';
import type { EventRecord } from '../../src/model/events.js';
import { encode } from '../../src/model/fields.js';
import { GRANULES, levelShift, type Granule, type GranuleName } from '../../src/model/granule.js';
import { PhysicalMemory } from '../../src/model/memory.js';
import { DEFAULT_PROFILE, type Profile } from '../../src/model/profiles.js';
import { registerByName } from '../../src/model/registers.js';
import { Smmu, type SmmuObserver, type Transaction, type TxnResult } from '../../src/model/smmu.js';
import { STE_LAYOUT, type SteField } from '../../src/model/ste.js';

export interface Recorded {
  events: EventRecord[];
  lost: { e: EventRecord; why: string }[];
  gerrors: { bit: string; detail: string }[];
  notes: string[];
  fetches: number[];
  cfgi: { name: string; first: number; count: number }[];
  commands: string[];
  irqs: string[];
}

export function recorder(): { rec: Recorded; observer: SmmuObserver } {
  const rec: Recorded = { events: [], lost: [], gerrors: [], notes: [], fetches: [], cfgi: [], commands: [], irqs: [] };
  const observer: SmmuObserver = {
    eventWritten: (e) => rec.events.push(e),
    eventLost: (e, why) => rec.lost.push({ e, why }),
    gerrorActivated: (bit, detail) => rec.gerrors.push({ bit, detail }),
    note: (kind, text) => rec.notes.push(`${kind}: ${text}`),
    steFetched: (sid) => rec.fetches.push(sid),
    configInvalidated: (name, first, count) => rec.cfgi.push({ name, first, count }),
    commandConsumed: (c) => rec.commands.push(c.def!.name),
    interrupt: (src, how) => rec.irqs.push(`${src}:${how}`),
  };
  return { rec, observer };
}

export const STRTAB = 0x8000_0000n;
export const CMDQ = 0x8100_0000n;
export const EVTQ = 0x8200_0000n;

export interface Env {
  smmu: Smmu;
  mem: PhysicalMemory;
  rec: Recorded;
  write(reg: string, v: bigint | number): void;
  read(reg: string): bigint;
  cmd(name: string, fields?: Record<string, bigint | number>): void;
  dma(t: Partial<Transaction> & { sid: number; addr: bigint }): TxnResult;
}

export interface EnvOptions {
  profile?: Profile;
  caching?: CachingPolicy;
  log2size?: number;
  fmt?: 'linear' | '2lvl';
  split?: number;
  cmdqLog2?: number;
  evtqLog2?: number;
  recinvsid?: boolean;
  enable?: boolean;
}

/** An SMMU programmed the way a driver does at probe: tables, queues, CR2, then CR0 enables. */
export function makeEnv(o: EnvOptions = {}): Env {
  const mem = new PhysicalMemory();
  const { rec, observer } = recorder();
  const smmu = new Smmu(o.profile ?? DEFAULT_PROFILE, { memory: mem, caching: o.caching ?? 'max', observer });
  const write = (reg: string, v: bigint | number): void => {
    const d = registerByName(reg)!;
    smmu.mmioWrite(d.offset, BigInt(v), d.width === 64 ? 8 : 4);
  };
  const read = (reg: string): bigint => {
    const d = registerByName(reg)!;
    return smmu.mmioRead(d.offset, d.width === 64 ? 8 : 4);
  };
  const cmdqLog2 = o.cmdqLog2 ?? 8;
  const cmd = (name: string, fields: Record<string, bigint | number> = {}): void => {
    const def = commandByName(name)!;
    const vals: Record<string, bigint> = {};
    for (const [k, v] of Object.entries(fields)) vals[k] = BigInt(v);
    const [a, b] = encodeCommand(def, vals);
    const prod = Number(read('CMDQ_PROD'));
    const idx = prod & ((1 << cmdqLog2) - 1);
    mem.write(CMDQ + BigInt(idx * 16), 8, a);
    mem.write(CMDQ + BigInt(idx * 16) + 8n, 8, b);
    const next = (prod & ((2 << cmdqLog2) - 1)) + 1;
    write('CMDQ_PROD', next & ((2 << cmdqLog2) - 1));
  };
  const dma = (t: Partial<Transaction> & { sid: number; addr: bigint }): TxnResult =>
    smmu.translate({ write: false, instr: false, priv: true, ...t });
  const log2 = o.log2size ?? 8;
  const split = o.split ?? 6;
  write('STRTAB_BASE', STRTAB);
  write('STRTAB_BASE_CFG', (o.fmt === '2lvl' ? 1 << 16 : 0) | (split << 6) | log2);
  write('CMDQ_BASE', CMDQ | BigInt(cmdqLog2));
  write('EVENTQ_BASE', EVTQ | BigInt(o.evtqLog2 ?? 4));
  write('CR2', o.recinvsid === false ? 0 : 2);
  if (o.enable !== false) write('CR0', 0x1 | 0x4 | 0x8);
  return { smmu, mem, rec, write, read, cmd, dma };
}

export function writeQwords(mem: PhysicalMemory, addr: bigint, q: readonly bigint[]): void {
  q.forEach((v, i) => mem.write(addr + BigInt(8 * i), 8, v));
}

export function steQwords(f: Partial<Record<SteField, bigint | number>>): bigint[] {
  return encode(STE_LAYOUT, f);
}

export function cdQwords(f: Partial<Record<CdField, bigint | number>>): bigint[] {
  return encode(CD_LAYOUT, f);
}

export function writeSte(env: Env, sid: number, f: Partial<Record<SteField, bigint | number>>, base = STRTAB): bigint {
  const addr = base + BigInt(sid) * 64n;
  writeQwords(env.mem, addr, steQwords(f));
  return addr;
}

/** A CD for a 4K-granule, 48-bit VA stage 1 with TTB1 disabled, recording faults, as Linux writes it. */
export function basicCd(ttb0: bigint, asid = 1, extra: Partial<Record<CdField, bigint | number>> = {}): bigint[] {
  return cdQwords({ V: 1, T0SZ: 16, TG0: 0, EPD1: 1, IPS: 5, AA64: 1, R: 1, A: 1, ASET: 1, ASID: asid, TTB0: ttb0, MAIR0: 0x0004ff, ...extra });
}

// ---------------------------------------------------------------------------
// Translation table builder.

export interface MapAttrs {
  /** Stage 1: AP[2:1]; stage 2: S2AP. */
  ap?: number;
  af?: boolean;
  nG?: boolean;
  uxn?: boolean;
  pxn?: boolean;
  /** Stage 2 XN[1:0] (bits [54:53]). */
  xn?: number;
  /** Stage-2 MemAttr[3:0] (bits [5:2]); stage-1 AttrIndx (bits [4:2]). */
  memattr?: number;
}

/** Builds VMSAv8-64 tables in memory; tables are allocated from `next` upwards. */
export class TableBuilder {
  readonly root: bigint;
  private next: bigint;
  constructor(
    readonly mem: PhysicalMemory,
    readonly stage: 1 | 2,
    readonly granule: Granule,
    readonly inputBits: number,
    readonly startLevel: number,
    alloc: bigint,
    readonly concat = 1,
  ) {
    const g = granule;
    const k = levelShift(g, startLevel);
    const bytes = BigInt((8 << Math.min(inputBits - k, g.stride)) * concat);
    this.root = alloc;
    this.next = alloc + (bytes > BigInt(1 << g.shift) ? bytes : BigInt(1 << g.shift));
  }

  static of(mem: PhysicalMemory, stage: 1 | 2, g: GranuleName, inputBits: number, startLevel: number, alloc: bigint, concat = 1): TableBuilder {
    return new TableBuilder(mem, stage, GRANULES[g], inputBits, startLevel, alloc, concat);
  }

  private newTable(): bigint {
    const t = this.next;
    this.next += BigInt(1 << this.granule.shift);
    return t;
  }

  /** Address of the descriptor for `ia` at `level`, creating table descriptors above it. */
  slot(ia: bigint, level: number, tableBits = 0n): bigint {
    let table = this.root;
    for (let l = this.startLevel; ; l++) {
      const shift = levelShift(this.granule, l);
      const top = l === this.startLevel ? this.inputBits : shift + this.granule.stride;
      const idx = (ia >> BigInt(shift)) & ((1n << BigInt(top - shift)) - 1n);
      const addr = table + idx * 8n;
      if (l === level) return addr;
      let d = this.mem.read(addr, 8) as bigint;
      if ((d & 3n) !== 3n) {
        const t = this.newTable();
        d = t | 3n | tableBits;
        this.mem.write(addr, 8, d);
      }
      table = d & 0x0000_ffff_ffff_f000n & ~((1n << BigInt(this.granule.shift)) - 1n);
    }
  }

  /** Map one page (level 3) or block (level < 3) of this granule. */
  map(ia: bigint, oa: bigint, level = 3, a: MapAttrs = {}): bigint {
    const addr = this.slot(ia, level);
    const d = this.leaf(oa, level, a);
    this.mem.write(addr, 8, d);
    return addr;
  }

  leaf(oa: bigint, level: number, a: MapAttrs = {}): bigint {
    let d = oa | (level === 3 ? 3n : 1n);
    if (a.af !== false) d |= 1n << 10n;
    if (this.stage === 1) {
      d |= BigInt(a.ap ?? 0) << 6n;
      d |= BigInt(a.memattr ?? 0) << 2n;
      if (a.nG) d |= 1n << 11n;
      if (a.pxn) d |= 1n << 53n;
      if (a.uxn) d |= 1n << 54n;
    } else {
      d |= BigInt(a.ap ?? 3) << 6n;
      d |= BigInt(a.memattr ?? 0xf) << 2n;
      d |= BigInt(a.xn ?? 0) << 53n;
    }
    d |= 3n << 8n; // SH = ISH
    return d;
  }
}
