/**
 * The replay engine: applies trace rows to one SMMU model and produces the
 * STE, fault and DMA streams.
 *
 * Rows other than `op` go straight to the model.  `op` rows go to the
 * variant's driver, which answers with low-level rows (register writes,
 * memory writes, commands) that the engine applies exactly like trace rows,
 * attributed to the op's line.  The engine knows nothing about any variant.
 */
import type { CachingPolicy } from '../model/caches.js';
import { encodeCommand, type CommandName } from '../model/commands.js';
import { formatEventDetail, type EventRecord } from '../model/events.js';
import { hex64 } from '../model/fields.js';
import { DEFAULT_CAP_PAGES, EABT, MemoryCapExceeded, PhysicalMemory } from '../model/memory.js';
import type { Profile } from '../model/profiles.js';
import { qFull, qIndex, qInc } from '../model/queue.js';
import { registerByName } from '../model/registers.js';
import { Smmu, type Transaction, type TxnResult } from '../model/smmu.js';
import { decodeSte, interpretSte, type SteVerdict } from '../model/ste.js';
import { stePlace, type StrtabGeometry } from '../model/streamTable.js';
import { TraceError, type DmaRow, type Expect, type MemReadRow, type OpRow, type Row } from '../trace/format.js';
import type { DmaOutcome, DmaStreamRow, FaultRow, SteState, StreamSink } from './streams.js';
import { SteBacklogFull, SteTracker } from './steTracker.js';
import { equalEntries } from '../policy/usedBits.js';

/** Low-level rows a driver may produce for an operation (the same kinds a trace holds). */
export type Action = Exclude<Row, OpRow | { kind: 'meta' }>;

/** What a driver-policy variant's engine sees while it executes an `op` row. */
export interface DriverContext {
  readonly smmu: Smmu;
  readonly line: number;
  /** Apply a low-level row now (attributed to the op's line). */
  apply(a: Action): void;
  /** Report a driver failure (BUG_ON, WARN, -EINVAL ...) as a `driver` row of the fault stream. */
  driverFault(type: string, detail: string, sid?: number): void;
  /** Report a hazard row (issue: live STE updates). */
  hazard(type: string, detail: string, sid?: number): void;
}

/** The replay's view of a driver: a variant plugs in here. */
export interface Driver {
  op(row: OpRow, ctx: DriverContext): void;
}

export interface ReplayOptions {
  readonly file: string;
  readonly variant: string;
  readonly profile: Profile;
  readonly caching: CachingPolicy;
  readonly driver?: Driver | undefined;
  /** Cap on simulated memory, in 4 KiB pages. */
  readonly memoryCapPages?: number;
  /** Bound on the actions of one `op` row (default MAX_OP_ACTIONS; tests use smaller ones). */
  readonly maxOpActions?: number;
  /** Bound on the STE-stream rows held back (default MAX_HELD_ROWS; tests use smaller ones). */
  readonly maxHeldSteRows?: number;
  /**
   * Explains a failed `expect` check: given the case and the trace's `meta`
   * rows so far, the name of a documented reason (for example a known
   * deviation of the emulator the expectations were recorded from), or
   * undefined.  An explained check is counted apart and stays in the fault
   * stream as a `check` row of type `explained`.
   */
  readonly explain?: ((c: CheckCase | ReadCheckCase, meta: Readonly<Record<string, string>>) => string | undefined) | undefined;
}

/** A DMA whose outcome differed from its `expect=`. */
export interface CheckCase {
  readonly kind: 'dma';
  readonly line: number;
  readonly row: DmaRow;
  /** Address of this piece (a DMA is split at 4 KiB). */
  readonly addr: bigint;
  readonly expect: Expect;
  readonly got: TxnResult;
  /** The SMMU model, read-only use: the state the outcome came from. */
  readonly smmu: Smmu;
}

/** A `mem_read` whose value differed from its `expect=`. */
export interface ReadCheckCase {
  readonly kind: 'mem_read';
  readonly line: number;
  readonly row: MemReadRow;
  readonly expect: bigint;
  /** What memory held (the model's), or EABT for a read of a mem_abort range. */
  readonly got: bigint | typeof EABT;
  readonly smmu: Smmu;
}

export interface CheckCounts {
  matched: number;
  explained: number;
  mismatched: number;
}

export interface ReplaySummary {
  trace: string;
  variant: string;
  profile: string;
  caching: CachingPolicy;
  meta: Record<string, string>;
  rows: { ste: number; faults: number; dma: number };
  ste: { store: number; cfgi: number; fetch: number };
  commands: Record<string, number>;
  faults: Record<string, number>;
  dma: Record<string, number>;
  /** Interrupts the SMMU raised, by source and how (`eventq:msi`, `gerror:wired`, `cmd-sync:sev`, ...). */
  interrupts: Record<string, number>;
  hazards: number;
  checks: CheckCounts;
}

const DMA_SPLIT = 4096n;

/** accessBits() of a DMA row's access, but for its privilege (bit 2): r, w (1), x (instruction, 2), - (no permission check, 8). */
const DMA_ACCESS: Readonly<Record<string, number>> = { r: 0, w: 1, x: 2, '-': 8 };

/** The last DMA row any Replay saw and Number() of its address (see Replay.dma). */
let lastDmaRow: DmaRow | undefined;
let lastDmaAddr = 0;
let lastDmaBits = 0;

/** Actions one `op` row may apply (mapping 16 GiB with 4 KiB pages takes about 2^22). */
export const MAX_OP_ACTIONS = 1 << 22;

/** Where STEs live in memory: the whole linear table, or one level-2 array of a 2-level table. */
interface StRange {
  readonly start: bigint;
  readonly end: bigint;
  readonly firstSid: number;
  /** L1 index (0 for a linear table). */
  readonly index: number;
}

/** The stream table as the STE stream sees it, derived from the registers and, for a 2-level table, the L1 array. */
interface Strtab {
  readonly key: string;
  gen: number;
  readonly geo: StrtabGeometry;
  linear: StRange | undefined;
  l1Count: number;
  l1End: bigint;
  /** Level-2 arrays by L1 index, and by the 64 KiB region of memory they lie in. */
  readonly byIndex: Map<number, StRange>;
  readonly byRegion: Map<number, StRange[]>;
}

/** The 64 KiB region of an address (a level-2 array never crosses one). */
function region(addr: bigint): number {
  return Number(addr >> 16n);
}

export class Replay {
  readonly smmu: Smmu;
  private line = 0;
  private readonly tracker: SteTracker;
  private readonly summary: ReplaySummary;
  private strtab: Strtab | undefined;

  constructor(private readonly opts: ReplayOptions, private readonly sink: StreamSink) {
    const memory = new PhysicalMemory(opts.memoryCapPages ?? DEFAULT_CAP_PAGES);
    this.summary = {
      trace: opts.file, variant: opts.variant, profile: opts.profile.name, caching: opts.caching, meta: {},
      rows: { ste: 0, faults: 0, dma: 0 }, ste: { store: 0, cfgi: 0, fetch: 0 },
      commands: {}, faults: {}, dma: {}, interrupts: {}, hazards: 0, checks: { matched: 0, explained: 0, mismatched: 0 },
    };
    this.tracker = new SteTracker((r) => {
      this.summary.rows.ste++;
      this.summary.ste[r.action]++;
      this.sink.ste(r);
    }, opts.maxHeldSteRows);
    this.smmu = new Smmu(opts.profile, {
      memory,
      caching: opts.caching,
      observer: {
        steFetched: (sid, _addr, q, v) => {
          this.changedSinceCached.delete(sid);
          this.tracker.fetch(this.line, sid, q, verdictState(v));
        },
        configInvalidated: (name, first, count) => this.onCfgi(name, first, count),
        commandConsumed: (c) => {
          const n = c.def!.name;
          this.summary.commands[n] = (this.summary.commands[n] ?? 0) + 1;
        },
        eventWritten: (e) => this.eventRow('evtq', e, ''),
        eventLost: (e, why) => this.eventRow('lost', e, why),
        gerrorActivated: (bit, detail) => this.fault({ source: 'gerror', type: bit, sid: undefined, ssid: undefined, addr: undefined, detail }),
        interrupt: (source, how) => {
          const k = `${source}:${how}`;
          this.summary.interrupts[k] = (this.summary.interrupts[k] ?? 0) + 1;
        },
        note: (kind, text) => this.fault({ source: 'model', type: kind.toUpperCase(), sid: undefined, ssid: undefined, addr: undefined, detail: text }),
      },
    });
    memory.beforeWrite = (addr, size) => this.beforeMemWrite(addr, size);
    memory.onWrite = (addr, size) => this.afterMemWrite(addr, size);
  }

  /** Apply one trace row. */
  apply(row: Row): void {
    this.line = row.line;
    try {
      if (row.kind === 'op') return this.op(row);
      if (row.kind === 'meta') {
        this.summary.meta[row.key] = row.value;
        return;
      }
      this.action(row);
    } catch (e) {
      if (e instanceof MemoryCapExceeded || e instanceof SteBacklogFull) throw new TraceError(this.opts.file, row.line, e.message);
      throw e;
    }
  }

  /** End of trace: flush waiting STE rows and return the summary. */
  finish(): ReplaySummary {
    this.tracker.finish((sid) => this.entryOf(sid));
    this.flushDmaCounts();
    return this.summary;
  }

  // DMA outcomes are counted in a fixed-shape object (a keyed update of summary.dma per transaction
  // costs more than the rest of a memoised DMA) and copied into summary.dma, in the order each outcome
  // first occurred, when the summary is read.
  private readonly dmaCounts: Record<DmaOutcome, number> = { translated: 0, bypass: 0, abort: 0, fault: 0, unsupported: 0 };
  private readonly dmaOrder: DmaOutcome[] = [];

  private countDma(outcome: DmaOutcome): void {
    this.summary.rows.dma++;
    if (this.dmaCounts[outcome]++ === 0) this.dmaOrder.push(outcome);
  }

  private flushDmaCounts(): void {
    for (const o of this.dmaOrder) this.summary.dma[o] = this.dmaCounts[o];
  }

  private op(row: OpRow): void {
    const driver = this.opts.driver;
    if (!driver) {
      throw new TraceError(this.opts.file, row.line, `'op' rows are driver operations and need a driver-policy variant (--variant); variant '${this.opts.variant}' has no driver`);
    }
    let actions = 0;
    const maxActions = this.opts.maxOpActions ?? MAX_OP_ACTIONS;
    const ctx: DriverContext = {
      smmu: this.smmu,
      line: row.line,
      apply: (a) => {
        // Every loop of a driver operation applies an action per iteration: this bounds them all.
        if (++actions > maxActions) {
          throw new TraceError(this.opts.file, row.line, `'${row.name}' would take more than ${maxActions} register, memory and command actions (a size far beyond what a driver maps at once?); refused`);
        }
        this.action({ ...a, line: row.line } as Action);
      },
      driverFault: (type, detail, sid) => this.fault({ source: 'driver', type, sid, ssid: undefined, addr: undefined, detail }),
      hazard: (type, detail, sid) => {
        this.summary.hazards++;
        this.fault({ source: 'hazard', type, sid, ssid: undefined, addr: undefined, detail });
      },
    };
    driver.op(row, ctx);
  }

  private action(row: Action): void {
    const smmu = this.smmu;
    switch (row.kind) {
      case 'mmio_write':
        smmu.mmioWrite(row.offset, row.value, row.size);
        return;
      case 'mmio_read': {
        const v = smmu.mmioRead(row.offset, row.size);
        if (row.expect === undefined) return;
        if (v === row.expect) { this.summary.checks.matched++; return; }
        this.summary.checks.mismatched++;
        const name = row.reg?.name ?? `0x${row.offset.toString(16)}`;
        this.fault({ source: 'check', type: 'mmio_read', sid: undefined, ssid: undefined, addr: undefined, detail: `${name}: expected 0x${row.expect.toString(16)}, read 0x${v.toString(16)}` });
        return;
      }
      case 'mem_write':
        if (smmu.memory.write(row.addr, row.size, row.value) === EABT) {
          this.fault({ source: 'model', type: 'IGNORED', sid: undefined, ssid: undefined, addr: row.addr, detail: 'mem_write to a range declared with mem_abort: the store aborts and memory is unchanged' });
        }
        return;
      case 'mem_read':
        return this.memRead(row);
      case 'mem_abort':
        smmu.memory.declareAbort(row.addr, row.size);
        return;
      case 'cmd':
        return this.command(row.raw ?? encodeCommand(row.def!, row.fields));
      case 'dma':
        return this.dma(row);
    }
  }

  /** Put a command in the next free slot the way software does, then publish it with a CMDQ_PROD write. */
  private command(words: readonly [bigint, bigint]): void {
    const smmu = this.smmu;
    const base = smmu.reg('CMDQ_BASE');
    const log2 = Math.min(Number(base & 0x1fn), smmu.features.cmdqs);
    const prod = Number(smmu.reg('CMDQ_PROD'));
    const cons = Number(smmu.reg('CMDQ_CONS')) & 0xfffff;
    if (qFull(prod, cons, log2)) {
      this.fault({ source: 'model', type: 'CMDQ_FULL', sid: undefined, ssid: undefined, addr: undefined, detail: 'command queue full (commands are not being consumed: CMDQEN=0 or CMDQ_ERR active); the cmd row is dropped' });
      return;
    }
    const qbase = base & 0x00ffffffffffffe0n & ~((16n << BigInt(log2)) - 1n);
    const slot = qbase + BigInt(qIndex(prod, log2)) * 16n;
    if (smmu.memory.write(slot, 8, words[0]) === EABT || smmu.memory.write(slot + 8n, 8, words[1]) === EABT) {
      this.fault({ source: 'model', type: 'IGNORED', sid: undefined, ssid: undefined, addr: slot, detail: 'writing the command into its queue slot aborted (mem_abort); the slot keeps its old contents' });
    }
    smmu.mmioWrite(registerByName('CMDQ_PROD')!.offset, BigInt(qInc(prod, log2)), 4);
  }

  private dma(row: DmaRow): void {
    // Split at 4 KiB boundaries, as a PCIe requester must not cross them.  (Most transactions do not
    // cross one: found without BigInt arithmetic when the address is below 2^53, where Number() is exact.)
    if (row !== lastDmaRow) {
      // Every variant's Replay gets the same row object: the first converts, the others reuse it.
      lastDmaRow = row;
      lastDmaAddr = Number(row.addr);
      lastDmaBits = DMA_ACCESS[row.access]! | (row.priv ? 4 : 0);
    }
    const n = lastDmaAddr;
    if (n < 9007199254740992 && (n % 4096) + row.size <= 4096) {
      this.dmaPiece(row, row.addr, row.size, n, lastDmaBits);
      return;
    }
    let addr = row.addr;
    const end = row.addr + BigInt(row.size);
    while (addr < end) {
      const next = (addr / DMA_SPLIT + 1n) * DMA_SPLIT;
      const pieceEnd = next < end ? next : end;
      this.dmaPiece(row, addr, Number(pieceEnd - addr), Number(addr), DMA_ACCESS[row.access]! | (row.priv ? 4 : 0));
      addr = pieceEnd;
    }
  }

  /** `n`: Number(addr); `bits`: the memo's access bits of the row (see Smmu.memoFind). */
  private dmaPiece(row: DmaRow, addr: bigint, size: number, n: number, bits: number): void {
    // The common case, a DMA the SMMU's translation memo answers (a TLB hit or a bypass) with nothing
    // to store and nothing to check: the same row as below, without the intermediate objects.
    if (row.data === undefined && row.expect === undefined) {
      const m = this.smmu.memoFind(row.sid, row.ssid, addr, bits, n);
      if (m) {
        this.countDma(m.outcome);
        const detail = this.changedSinceCached.size === 0 ? m.detail : m.detail + this.staleNote(row.sid);
        const sink = this.sink;
        if (sink.dmaMemo) sink.dmaMemo(this.line, row.sid, row.ssid, addr, row.access, m.outcome, m.delta, m.deltaNum, detail);
        else sink.dma({ line: this.line, sid: row.sid, ssid: row.ssid, addr, access: row.access, outcome: m.outcome, pa: addr + m.delta, detail });
        return;
      }
    }
    const t: Transaction = {
      sid: row.sid, ssid: row.ssid, addr,
      write: row.access === 'w', instr: row.access === 'x', priv: row.priv, noPermissionCheck: row.access === '-',
    };
    const r = this.smmu.translate(t);
    const pa = r.outcome === 'translated' || r.outcome === 'bypass' ? r.pa : undefined;
    if (pa !== undefined && row.data !== undefined) {
      const shift = (addr - row.addr) * 8n;
      for (let i = 0; i < size; i++) {
        this.smmu.memory.write(pa + BigInt(i), 1, (row.data >> (shift + BigInt(8 * i))) & 0xffn);
      }
    }
    const out: DmaStreamRow = {
      line: this.line, sid: row.sid, ssid: row.ssid, addr, access: row.access, outcome: r.outcome, pa,
      detail: r.detail + this.staleNote(row.sid),
    };
    this.countDma(r.outcome);
    this.sink.dma(out);
    if (row.expect) this.check(row, addr, r, row.expect);
  }

  /**
   * A diagnostic for a missing invalidation: the SMMU used a cached STE that
   * no longer matches the table in memory, and no CFGI covered the change.
   */
  private staleNote(sid: number): string {
    if (!this.changedSinceCached.has(sid)) return '';
    const cached = this.smmu.config.getSte(sid);
    if (!cached || equalEntries(cached.qwords, this.entryOf(sid))) return '';
    return '; stale STE: the entry in memory changed after the SMMU cached it and no CFGI covered it';
  }

  private check(row: DmaRow, addr: bigint, r: TxnResult, e: Expect): void {
    let ok: boolean;
    let want: string;
    switch (e.kind) {
      case 'pa': {
        const pa = e.pa + (addr - row.addr);
        ok = r.outcome === 'translated' && r.pa === pa;
        want = `pa:${hex64(pa)}`;
        break;
      }
      case 'bypass': ok = r.outcome === 'bypass'; want = 'bypass'; break;
      case 'abort': ok = r.outcome === 'abort'; want = 'abort'; break;
      case 'fault': ok = r.outcome === 'fault' && r.event.type === e.event; want = `fault:${e.event}`; break;
    }
    if (ok) { this.summary.checks.matched++; return; }
    const got = r.outcome === 'translated' ? `pa:${hex64(r.pa)}` : r.outcome === 'fault' ? `fault:${r.event.type}` : r.outcome;
    const why = this.opts.explain?.({ kind: 'dma', line: this.line, row, addr, expect: e, got: r, smmu: this.smmu }, this.summary.meta);
    if (why !== undefined) {
      this.summary.checks.explained++;
      this.fault({ source: 'check', type: 'explained', sid: row.sid, ssid: row.ssid, addr, detail: `expected ${want}, got ${got}: ${why}` });
      return;
    }
    this.summary.checks.mismatched++;
    this.fault({ source: 'check', type: 'dma', sid: row.sid, ssid: row.ssid, addr, detail: `expected ${want}, got ${got}` });
  }

  /** Software reads memory: with expect=, the value must be what the trace says (an event record the SMMU wrote, say). */
  private memRead(row: MemReadRow): void {
    const v = this.smmu.memory.read(row.addr, row.size);
    if (row.expect === undefined) return;
    if (v === row.expect) { this.summary.checks.matched++; return; }
    const digits = row.size * 2;
    const want = `0x${row.expect.toString(16).padStart(digits, '0')}`;
    const got = v === EABT ? 'an external abort' : `0x${v.toString(16).padStart(digits, '0')}`;
    const why = this.opts.explain?.({ kind: 'mem_read', line: this.line, row, expect: row.expect, got: v, smmu: this.smmu }, this.summary.meta);
    const base = { source: 'check', sid: undefined, ssid: undefined, addr: row.addr } as const;
    if (why !== undefined) {
      this.summary.checks.explained++;
      this.fault({ ...base, type: 'explained', detail: `mem_read expected ${want}, read ${got}: ${why}` });
      return;
    }
    this.summary.checks.mismatched++;
    this.fault({ ...base, type: 'mem_read', detail: `expected ${want}, read ${got}` });
  }

  private fault(r: Omit<FaultRow, 'line'>): void {
    this.summary.rows.faults++;
    const key = r.source === 'evtq' ? r.type : `${r.source}:${r.type}`;
    this.summary.faults[key] = (this.summary.faults[key] ?? 0) + 1;
    this.sink.fault({ line: this.line, ...r });
  }

  private eventRow(source: 'evtq' | 'lost', e: EventRecord, why: string): void {
    // The addr column holds InputAddr, or FetchAddr for the fetch events; the detail has the other fields.
    const key = e.fields.InputAddr !== undefined ? 'InputAddr' : e.fields.FetchAddr !== undefined ? 'FetchAddr' : undefined;
    const addr = key ? e.fields[key] : undefined;
    const fields = { ...e.fields };
    if (key) delete fields[key];
    const detail = formatEventDetail({ ...e, fields });
    this.fault({ source, type: e.type, sid: e.sid, ssid: e.ssid, addr, detail: why ? (detail ? `${why} ${detail}` : why) : detail });
  }

  // -------------------------------------------------------------------------
  // Stream-table stores, for the STE stream.

  private geometry(): Strtab {
    // The geometry follows STRTAB_BASE/STRTAB_BASE_CFG: unchanged while no register has been written.
    const gen = this.smmu.registerGeneration;
    if (this.strtab && this.strtab.gen === gen) return this.strtab;
    const geo = this.smmu.streamTable();
    const key = `${geo.base}|${geo.twoLevel}|${geo.split}|${geo.log2size}|${geo.sidLimit}`;
    if (this.strtab && this.strtab.key === key) {
      this.strtab.gen = gen;
      return this.strtab;
    }
    const st: Strtab = { key, gen, geo, linear: undefined, l1Count: 0, l1End: geo.base, byIndex: new Map(), byRegion: new Map() };
    if (!geo.twoLevel) {
      st.linear = { start: geo.base, end: geo.base + BigInt(geo.sidLimit) * 64n, firstSid: 0, index: 0 };
    } else {
      // At most 2^(SIDSIZE - SPLIT) L1 descriptors (SIDSIZE <= 16 in both profiles; never more than 2^16).
      st.l1Count = Math.min(Math.ceil(geo.sidLimit / 2 ** geo.split), 1 << 16);
      st.l1End = geo.base + BigInt(st.l1Count) * 8n;
      for (let i = 0; i < st.l1Count; i++) this.placeL2(st, i);
    }
    this.strtab = st;
    return st;
  }

  /** (Re)read L1STD `i` of a 2-level table and index the level-2 array it points at. */
  private placeL2(st: Strtab, i: number): void {
    const old = st.byIndex.get(i);
    if (old) {
      const list = st.byRegion.get(region(old.start))!;
      list.splice(list.indexOf(old), 1);
      if (list.length === 0) st.byRegion.delete(region(old.start));
      st.byIndex.delete(i);
    }
    const geo = st.geo;
    const d = this.smmu.memory.read(geo.base + BigInt(i) * 8n, 8);
    if (d === EABT || d === 0n) return;
    const loc = stePlace(d, i * 2 ** geo.split, geo.split, i);
    if (loc.kind !== 'ok') return;
    const span = Number(d & 0x1fn);
    // A level-2 array is aligned to its size, at most 64 << 10 bytes: it lies in one 64 KiB region.
    const r: StRange = { start: loc.addr, end: loc.addr + (64n << BigInt(span - 1)), firstSid: i * 2 ** geo.split, index: i };
    st.byIndex.set(i, r);
    let list = st.byRegion.get(region(r.start));
    if (!list) st.byRegion.set(region(r.start), (list = []));
    // Kept in L1 index order: where level-2 arrays overlap, the lowest index's StreamID is the one reported.
    let at = list.length;
    while (at > 0 && list[at - 1]!.index > i) at--;
    list.splice(at, 0, r);
  }

  /** StreamID and doubleword of a stream-table byte address, if the address is in the table. */
  private steAt(addr: bigint): { sid: number; qword: number } | undefined {
    const st = this.geometry();
    const r = st.linear ?? st.byRegion.get(region(addr))?.find((x) => addr >= x.start && addr < x.end);
    if (!r || addr < r.start || addr >= r.end) return undefined;
    const off = addr - r.start;
    return { sid: r.firstSid + Number(off / 64n), qword: Number((off % 64n) / 8n) };
  }

  private entryAddr(sid: number): bigint | undefined {
    const { geo } = this.geometry();
    if (sid >= geo.sidLimit) return undefined;
    if (!geo.twoLevel) return geo.base + BigInt(sid) * 64n;
    const idx = Math.floor(sid / 2 ** geo.split);
    const d = this.smmu.memory.read(geo.base + BigInt(idx) * 8n, 8);
    if (d === EABT) return undefined;
    const loc = stePlace(d, sid, geo.split, idx);
    return loc.kind === 'ok' ? loc.addr : undefined;
  }

  /** The entry the table holds for a StreamID now (zeros where there is none). */
  private entryOf(sid: number): bigint[] {
    const a = this.entryAddr(sid);
    if (a === undefined) return [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    const q = this.smmu.memory.readQwords(a, 8);
    return q === EABT ? [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] : q;
  }

  private pendingStore: { sid: number; qwords: number[]; before: bigint[] }[] = [];
  /** StreamIDs whose STE was stored to since the SMMU last read or invalidated it. */
  private readonly changedSinceCached = new Set<number>();

  private beforeMemWrite(addr: bigint, size: number): void {
    this.pendingStore = [];
    const first = this.steAt(addr);
    const last = size > 1 ? this.steAt(addr + BigInt(size - 1)) : first;
    for (const hit of [first, last]) {
      if (!hit || this.pendingStore.some((p) => p.sid === hit.sid)) continue;
      const qw = [hit.qword];
      if (hit === first && last && last.sid === hit.sid && last.qword !== hit.qword) qw.push(last.qword);
      this.pendingStore.push({ sid: hit.sid, qwords: qw, before: this.entryOf(hit.sid) });
    }
  }

  private afterMemWrite(addr: bigint, size: number): void {
    const stores = this.pendingStore;
    this.pendingStore = [];
    for (const s of stores) {
      const after = this.entryOf(s.sid);
      const observed = this.summary.meta.memory === 'observed';
      for (const q of s.qwords) this.tracker.store(this.line, s.sid, q, after[q]!, s.before, after, observed);
      this.changedSinceCached.add(s.sid);
    }
    // A write into a 2-level table's L1 array changes where STEs live: re-read the descriptors it touched.
    const st = this.strtab;
    if (st && st.geo.twoLevel && addr < st.l1End && addr + BigInt(size) > st.geo.base) {
      const first = addr < st.geo.base ? 0 : Number((addr - st.geo.base) / 8n);
      const last = Math.min(st.l1Count - 1, Number((addr + BigInt(size) - 1n - st.geo.base) / 8n));
      for (let i = first; i <= last; i++) this.placeL2(st, i);
    }
  }

  private onCfgi(name: CommandName, first: number, count: number): void {
    const sids = name === 'CFGI_STE' ? [first] : [...this.tracker.trackedSids].filter((s) => s >= first && s < first + count).sort((a, b) => a - b);
    for (const sid of sids) this.changedSinceCached.delete(sid);
    for (const sid of sids) {
      const q = this.entryOf(sid);
      const v = interpretSte(decodeSte(q), { features: this.smmu.features, e2h: (Number(this.smmu.reg('CR2')) & 1) === 1 });
      this.tracker.cfgi(this.line, sid, q, verdictState(v));
    }
  }
}

function verdictState(v: SteVerdict): SteState {
  return v.kind === 'invalid' ? 'invalid' : v.kind === 'illegal' ? 'illegal' : 'valid';
}
