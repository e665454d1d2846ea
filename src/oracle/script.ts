/**
 * The model's side of the QEMU cross-check: replay a trace (under one
 * variant) through the engine, and record, in order, every low-level step
 * QEMU must be given (for `op` rows, the actions the variant's driver
 * produced, captured through DriverContext.apply) together with what the
 * model did at each step that is compared: the outcome and the event
 * records of each DMA piece, GERROR and the event-queue producer after it,
 * and the value of each register read.
 *
 * It also checks that the trace fits QEMU's physical address map: every
 * memory write and every SMMU read of memory must lie in the RAM window,
 * abort ranges where QEMU has nothing, DMA outputs not on a device.  The
 * first row that does not fit is named; nothing is relocated.
 */
import type { CachingPolicy } from '../model/caches.js';
import { decodeCd } from '../model/cd.js';
import { encodeCommand } from '../model/commands.js';
import { EABT, type AccessSize } from '../model/memory.js';
import type { Profile } from '../model/profiles.js';
import { decodeSte } from '../model/ste.js';
import { locateSte } from '../model/streamTable.js';
import type { Smmu } from '../model/smmu.js';
import { Replay, type Action, type Driver, type DriverContext, type ReplaySummary } from '../replay/engine.js';
import type { VariantRunSpec } from '../replay/run.js';
import type { DmaStreamRow } from '../replay/streams.js';
import type { DmaRow, Row } from '../trace/format.js';
import { inRam, inUnbacked, RAM_BASE, RAM_LIMIT, type QemuVersion } from './machine.js';
import { newQueueEntries } from './queues.js';

const EVENTQ_PROD = 0x100a8;

export interface DmaPiece {
  readonly addr: bigint;
  readonly size: number;
  readonly result: DmaStreamRow;
  /** Event records the model wrote during this piece (4 doublewords each). */
  readonly records: readonly (readonly bigint[])[];
  readonly gerror: number;
  readonly eventqProd: number;
  /** For a write: the bytes at the output address after the model's DMA (what QEMU's memory must hold afterwards). */
  readonly written?: Uint8Array;
  /** Why QEMU must not be given this DMA (an input that aborts that QEMU), if so. */
  readonly unsafe?: string;
}

export type Step =
  | { readonly kind: 'mmio_write'; readonly line: number; readonly offset: number; readonly value: bigint; readonly size: 4 | 8 }
  | { readonly kind: 'mmio_read'; readonly line: number; readonly offset: number; readonly size: 4 | 8; readonly reg: string | undefined; readonly model: bigint }
  | { readonly kind: 'mem_write'; readonly line: number; readonly addr: bigint; readonly size: AccessSize; readonly value: bigint }
  | { readonly kind: 'cmd'; readonly line: number; readonly words: readonly [bigint, bigint] }
  | { readonly kind: 'dma'; readonly line: number; readonly row: DmaRow; readonly pieces: DmaPiece[] };

export interface ModelScript {
  readonly trace: string;
  readonly variant: string;
  readonly steps: readonly Step[];
  readonly summary: ReplaySummary;
  /** The first row that does not fit QEMU's address map, if any. */
  readonly addressProblem: { line: number; problem: string } | undefined;
  /** Exclusive end of the highest RAM address used. */
  readonly ramEnd: bigint;
  readonly cmdqs: number;
  readonly eventqs: number;
  /** GERROR and CMDQ_CONS at the end of the trace. */
  readonly final: { gerror: bigint; cmdqCons: bigint };
}

export interface ScriptOptions {
  readonly file: string;
  readonly profile: Profile;
  readonly variant: VariantRunSpec;
  readonly version: QemuVersion;
  readonly memoryCapPages?: number;
  /** Default `max`; the oracle also runs `none` beside it (both are allowed by the architecture). */
  readonly caching?: CachingPolicy;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;
const WINDOW = `[${hex(RAM_BASE)}, ${hex(RAM_LIMIT)})`;

/**
 * The model's run over a trace, one row at a time: `next()` applies the next
 * row (an `op` row with everything its driver does) and returns the steps
 * QEMU must be given for it, with the model's observations; `smmu` is the
 * model right after that row (what deviation recognisers look at).
 */
export class ModelRun {
  readonly smmu: Smmu;
  private readonly replay: Replay;
  private readonly rows: readonly Row[];
  private pos = 0;
  private readonly state: { problem: { line: number; problem: string } | undefined; ramEnd: bigint; steps: Step[] };
  private readonly applyRow: (r: Row) => void;

  constructor(rows: readonly Row[], o: ScriptOptions) {
    this.rows = rows;
    const st = { problem: undefined as { line: number; problem: string } | undefined, ramEnd: RAM_BASE, steps: [] as Step[] };
    this.state = st;
    const steps = { push: (s: Step) => st.steps.push(s) };
    let currentDma: { row: DmaRow; pieces: DmaPiece[] } | undefined;
    let line = 0;
    let checking = true;
    let smmu: Smmu | undefined;
    let evtqSeen = 0;
    const note = (p: string) => { if (!st.problem) st.problem = { line, problem: p }; };
    const useRam = (addr: bigint, size: number) => {
      const end = addr + BigInt(size);
      if (end > st.ramEnd) st.ramEnd = end;
    };

    const readEvents = (s: Smmu): { records: bigint[][]; prod: number } => {
      checking = false;
      try {
        const prod = Number(s.mmioRead(EVENTQ_PROD, 4));
        const base = s.reg('EVENTQ_BASE');
        const log2 = Math.min(Number(base & 0x1fn), s.features.eventqs);
        const records: bigint[][] = [];
        for (const i of newQueueEntries(evtqSeen, prod, log2)) {
          const qbase = base & 0x00ff_ffff_ffff_ffe0n & ~((32n << BigInt(log2)) - 1n);
          const q = s.memory.readQwords(qbase + BigInt(i & ((1 << log2) - 1)) * 32n, 4);
          records.push(q === EABT ? [0n, 0n, 0n, 0n] : q);
        }
        evtqSeen = prod;
        return { records, prod };
      } finally {
        checking = true;
      }
    };

    const replay = new Replay({
      file: o.file, variant: o.variant.name, profile: o.profile, caching: o.caching ?? 'max',
      driver: wrapDriver(o.variant.makeDriver?.(o.file), (a, l) => record(a, l)),
      ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
    }, {
      ste() {},
      fault() {},
      dma(r) {
        const s = smmu!;
        const dma = currentDma;
        if (!dma) return;
        const size = pieceSize(dma.row, r.addr);
        const { records, prod } = readEvents(s);
        let written: Uint8Array | undefined;
        if (r.pa !== undefined) {
          if (!inRam(r.pa, BigInt(size)) && !inUnbacked(r.pa, BigInt(size))) {
            note(`the DMA's output address ${hex(r.pa)} is neither in the RAM window ${WINDOW} nor where QEMU has nothing: it would reach one of QEMU's devices`);
          }
          if (inRam(r.pa, BigInt(size))) {
            useRam(r.pa, size);
            if (dma.row.access === 'w') {
              checking = false;
              written = new Uint8Array(size);
              for (let i = 0; i < size; i++) {
                const b = s.memory.read(r.pa + BigInt(i), 1);
                written[i] = b === EABT ? 0 : Number(b);
              }
              checking = true;
            }
          }
        }
        const unsafe = o.version === '10.0' ? qemu10AbortInput(s, r.sid) : undefined;
        dma.pieces.push({
          addr: r.addr, size, result: r, records, gerror: Number(s.reg('GERROR')), eventqProd: prod,
          ...(written ? { written } : {}), ...(unsafe ? { unsafe } : {}),
        });
      },
    });
    smmu = replay.smmu;
    this.smmu = replay.smmu;
    this.replay = replay;
    const mem = replay.smmu.memory;
    mem.onRead = (addr, size) => {
      if (!checking || mem.isAbort(addr, size)) return;
      if (!inRam(addr, BigInt(size))) note(`the SMMU reads ${hex(addr)} (a table, descriptor or command), outside the RAM window ${WINDOW} QEMU can be given`);
      else useRam(addr, size);
    };
    const engineOnWrite = mem.onWrite;
    mem.onWrite = (addr, size, value) => {
      engineOnWrite?.(addr, size, value);
      if (!checking || currentDma) return;
      if (!inRam(addr, BigInt(size))) note(`a write to ${hex(addr)}, outside the RAM window ${WINDOW} QEMU can be given`);
      else useRam(addr, size);
    };

    function record(a: Action, l: number): void {
      switch (a.kind) {
        case 'mmio_write':
          steps.push({ kind: 'mmio_write', line: l, offset: a.offset, value: a.value, size: a.size });
          return;
        case 'mem_write':
          steps.push({ kind: 'mem_write', line: l, addr: a.addr, size: a.size, value: a.value });
          return;
        case 'mem_abort':
          if (!inUnbacked(a.addr, a.size)) note(`mem_abort [${hex(a.addr)}, ${hex(a.addr + a.size)}) is not where QEMU has nothing (it is RAM, a device, or crosses one): QEMU can only abort an access to an address with nothing behind it, such as 0xf00_0000_0000`);
          return;
        case 'cmd':
          steps.push({ kind: 'cmd', line: l, words: a.raw ?? (encodeCommand(a.def!, a.fields) as [bigint, bigint]) });
          return;
        default:
          return;
      }
    }

    /** Apply one low-level row (a trace row or a driver action) and record it. */
    this.applyRow = (r: Row): void => {
      line = r.line;
      if (r.kind === 'op' || r.kind === 'meta') {
        replay.apply(r);
        return;
      }
      if (r.kind === 'dma') {
        const entry = { row: r, pieces: [] as DmaPiece[] };
        currentDma = entry;
        try {
          replay.apply(r);
        } finally {
          currentDma = undefined;
        }
        steps.push({ kind: 'dma', line: r.line, row: r, pieces: entry.pieces });
        return;
      }
      if (r.kind === 'mmio_read') {
        replay.apply(r);
        checking = false;
        const v = replay.smmu.mmioRead(r.offset, r.size);
        checking = true;
        steps.push({ kind: 'mmio_read', line: r.line, offset: r.offset, size: r.size, reg: r.reg?.name, model: v });
        return;
      }
      record(r, r.line);
      replay.apply(r);
    };

  }

  /** Apply the next row; the steps it produced, or undefined at the end of the trace. */
  next(): Step[] | undefined {
    const r = this.rows[this.pos++];
    if (!r) return undefined;
    this.state.steps = [];
    this.applyRow(r);
    return this.state.steps;
  }

  /** Run to the end: the whole script and what the address check found. */
  static script(rows: readonly Row[], o: ScriptOptions): ModelScript {
    const run = new ModelRun(rows, o);
    const steps: Step[] = [];
    for (let s = run.next(); s; s = run.next()) steps.push(...s);
    return run.finish(steps);
  }

  finish(steps: readonly Step[]): ModelScript {
    const summary = this.replay.finish();
    const s = this.smmu;
    return {
      trace: summary.trace, variant: summary.variant, steps, summary,
      addressProblem: this.state.problem, ramEnd: this.state.ramEnd,
      cmdqs: s.features.cmdqs, eventqs: s.features.eventqs,
      final: { gerror: s.reg('GERROR'), cmdqCons: s.reg('CMDQ_CONS') },
    };
  }
}

/** Size of the piece of a DMA row that starts at `addr` (the engine splits at 4 KiB). */
function pieceSize(row: DmaRow, addr: bigint): number {
  const end = row.addr + BigInt(row.size);
  const next = (addr / 4096n + 1n) * 4096n;
  return Number((next < end ? next : end) - addr);
}

/**
 * A driver wrapper that hands every action the variant's driver applies to
 * `onAction` first (the actions QEMU must be given), then to the engine.
 */
function wrapDriver(inner: Driver | undefined, onAction: (a: Action, line: number) => void): Driver | undefined {
  if (!inner) return undefined;
  return {
    op(row, ctx) {
      const wrapped: DriverContext = {
        smmu: ctx.smmu,
        line: ctx.line,
        apply: (a) => {
          if (a.kind === 'mmio_read' || a.kind === 'dma') throw new Error(`the QEMU oracle cannot replay a '${a.kind}' action produced by a driver (line ${row.line})`);
          onAction(a, row.line);
          ctx.apply(a);
        },
        driverFault: (t, d, s) => ctx.driverFault(t, d, s),
        hazard: (t, d, s) => ctx.hazard(t, d, s),
      };
      inner.op(row, wrapped);
    },
  };
}

/**
 * QEMU 10.0 aborts (SIGABRT, an assertion) on two inputs: an STE with
 * Config bit 1 set (stage 2 on) and S2AA64=0, and a CD with IPS 0b110 or
 * 0b111.  The STE and CD it could decode for this StreamID are the ones in
 * memory and the ones the model has cached.
 */
export function qemu10AbortInput(s: Smmu, sid: number): string | undefined {
  const stes: bigint[][] = [];
  const cds: bigint[][] = [];
  const cached = s.config.getSte(sid);
  if (cached) stes.push([...cached.qwords]);
  const cachedCd = s.config.getCd(sid, 0);
  if (cachedCd) cds.push([...cachedCd.qwords]);
  const geo = s.streamTable();
  const loc = locateSte(geo, sid, (_i, a) => {
    const d = s.memory.read(a, 8);
    return d === EABT ? undefined : d;
  });
  if (loc.kind === 'ok') {
    const q = s.memory.readQwords(loc.addr, 8);
    if (q !== EABT) stes.push(q);
  }
  for (const q of stes) {
    const f = decodeSte(q);
    if (f.V !== 1n) continue;
    if ((f.Config & 0b110n) === 0b110n && f.S2AA64 === 0n) return 'its STE has Config bit 1 (stage 2) set and S2AA64=0, an input on which QEMU 10.0 aborts';
    if ((f.Config & 0b101n) === 0b101n && (f.Config & 0b010n) === 0n) {
      const cd = s.memory.readQwords(f.S1ContextPtr, 8);
      if (cd !== EABT) cds.push(cd);
    }
  }
  for (const q of cds) {
    const f = decodeCd(q);
    if (f.V === 1n && f.IPS >= 6n) return `its CD has IPS=0b${f.IPS.toString(2)}, an input on which QEMU 10.0 aborts`;
  }
  return undefined;
}
