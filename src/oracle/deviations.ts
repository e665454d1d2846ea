/**
 * Known deviations of emulators from the architecture, as data.
 *
 * The model follows Arm IHI 0070; an emulator used as an oracle (QEMU's
 * SMMUv3) departs from it in documented ways.  Each deviation names the spec
 * section it departs from, says how to recognise it in one compared outcome,
 * and is documented with evidence (the trace line that shows it) in
 * docs/qemu-deviations.md.  A difference that one of them recognises is
 * reported as explained (`known-deviation`), never as a match; anything else
 * is a mismatch.
 *
 * Two users: the QEMU cross-check (`smmu-replay oracle qemu`), which compares
 * the model's outcome of each DMA with QEMU's, and the replay of an imported
 * capture, whose `expect=` values are what QEMU reported (the trace declares
 * the emulator in a `meta,oracle,<name>` row).
 */
import type { CheckCase, ReadCheckCase } from '../replay/engine.js';
import type { Expect } from '../trace/format.js';
import { GERROR } from '../model/registers.js';
import { QEMU_CROSSCHECK_DEVIATIONS } from './qemuDeviations.js';
import type { Smmu, TxnResult } from '../model/smmu.js';
import { decodeEvent, type EventRecord } from '../model/events.js';
import { EABT } from '../model/memory.js';

export type OracleName = 'qemu-7.2' | 'qemu-10.0';
export const ORACLES: readonly OracleName[] = ['qemu-7.2', 'qemu-10.0'];

/** One side's outcome of a transaction, as far as the comparison needs it. */
export type Outcome =
  | { readonly kind: 'translated'; readonly pa: bigint }
  | { readonly kind: 'bypass' }
  | { readonly kind: 'abort' }
  | { readonly kind: 'fault'; readonly event: string }
  | { readonly kind: 'unsupported' };

/** A transaction whose model outcome and reference (emulator) outcome differ. */
export interface DeviationCase {
  readonly sid: number;
  readonly ssid: number | undefined;
  readonly addr: bigint;
  readonly access: string;
  /** What the model (the architecture) gave. */
  readonly model: Outcome;
  /** What the emulator gave. */
  readonly reference: Outcome;
  /** The model's detail text for the outcome (decoded reason). */
  readonly modelDetail: string;
  /** The model after the transaction, for recognisers that need the configuration (read-only use). */
  readonly smmu: Smmu | undefined;
  /**
   * Which difference of the compared row is being asked about (the QEMU
   * cross-check compares more than the outcome).  Absent: the outcome.
   */
  readonly difference?: Difference;
  /** The event records each side wrote for the transaction (the QEMU cross-check). */
  readonly modelEvents?: readonly EventRecord[];
  readonly referenceEvents?: readonly EventRecord[];
  /** Size of the transaction in bytes (the QEMU cross-check). */
  readonly size?: number;
  /** Both sides' event queues around the transaction (the QEMU cross-check). */
  readonly eventq?: EventqState;
}

/**
 * The event queue of each side around one compared DMA piece (IHI 0070 §3.5):
 * producer values (index and wrap bit) after it, how many records each side
 * wrote during it, the consumer value (software writes the same one to
 * both), and the drift: records QEMU wrote beyond the model's in rows
 * already judged (known deviations, rows not replayed in QEMU).
 */
export interface EventqState {
  readonly entries: number;
  readonly cons: number;
  readonly modelProd: number;
  readonly referenceProd: number;
  readonly modelWritten: number;
  readonly referenceWritten: number;
  readonly drift: number;
}

/** Entries in use between a consumer and a producer value (index and wrap bit of a queue of `entries`). */
export function occupancy(prod: number, cons: number, entries: number): number {
  const mask = 2 * entries - 1;
  return ((prod & mask) - (cons & mask) + 2 * entries) & mask;
}

/** Occupancy of each side's queue before the piece and after it. */
export function queueLevels(q: EventqState): { modelBefore: number; referenceBefore: number; modelAfter: number; referenceAfter: number } {
  const modelAfter = occupancy(q.modelProd, q.cons, q.entries);
  const referenceAfter = occupancy(q.referenceProd, q.cons, q.entries);
  return { modelAfter, referenceAfter, modelBefore: modelAfter - q.modelWritten, referenceBefore: referenceAfter - q.referenceWritten };
}

/** One way a compared row can differ (see Deviation.aspects). */
export type Difference =
  | { readonly kind: 'outcome' }
  /** The number of event records written for the transaction. */
  | { readonly kind: 'event-count'; readonly model: number; readonly reference: number }
  /** One field of the index-th record (both sides wrote a record of the same type there). */
  | { readonly kind: 'event-field'; readonly index: number; readonly event: string; readonly field: string; readonly model: bigint; readonly reference: bigint }
  /** One bit (`bit`, a mask) of SMMU_GERROR after the transaction; model/reference are the whole registers. */
  | { readonly kind: 'gerror'; readonly bit: number; readonly model: number; readonly reference: number }
  /** SMMU_EVENTQ_PROD.OVFLG after the transaction. */
  | { readonly kind: 'ovflg'; readonly model: boolean; readonly reference: boolean };

export type DifferenceKind = Difference['kind'];

/** A register read whose value differs between the model and the emulator. */
export interface RegisterCase {
  readonly register: string;
  readonly model: bigint;
  readonly reference: bigint;
  /**
   * The differing bits being asked about: GERROR is judged one bit at a time
   * (each bit is its own error condition, §7.2); any other register whole
   * (model ^ reference).
   */
  readonly bits: bigint;
  /** The model at the read (read-only use). */
  readonly smmu: Smmu | undefined;
  /**
   * Event records the emulator wrote beyond the model's in earlier rows that
   * known deviations explained (so its EVENTQ_PROD is ahead by that many).
   */
  readonly extraReferenceEvents: number;
}

/**
 * A memory read whose value the model and the emulator disagree on: software
 * read back something the SMMU wrote (an imported capture's `mem_read` rows
 * read the event records the driver consumed).
 */
export interface ReadDeviationCase {
  readonly addr: bigint;
  readonly size: number;
  /** What the model's memory held. */
  readonly model: bigint;
  /** What the emulator's memory held. */
  readonly reference: bigint;
  /** When the read falls in the model's event queue: the record there, as the model wrote it. */
  readonly record: { readonly slot: number; readonly qword: number; readonly qwords: readonly bigint[]; readonly event: EventRecord | undefined } | undefined;
}

export interface Deviation {
  /** Stable name, `<oracle family>/<what>`: appears in outputs and in docs/qemu-deviations.md. */
  readonly id: string;
  readonly oracles: readonly OracleName[];
  /** The architecture rule the emulator departs from (IHI 0070 §..., Arm ARM ...). */
  readonly spec: string;
  readonly summary: string;
  /** Recognises a transaction outcome difference. */
  matches(c: DeviationCase): boolean;
  /** Recognises a memory-read difference (absent: the deviation shows only in transaction outcomes). */
  matchesRead?(c: ReadDeviationCase): boolean;
  /** The differences `matches` is asked about; absent: only the outcome. */
  readonly aspects?: readonly DifferenceKind[];
  /** Recognises a register read that differs (QEMU cross-check); absent: none. */
  matchesRegister?(c: RegisterCase): boolean;
  /**
   * Once it happened, some state of the two SMMUs stays apart (a GERROR bit
   * toggled on one side only, the command queue stopped on one side): later
   * differences in exactly that state are its consequences.  Each predicate
   * says which later differences follow from it (asked only after the
   * deviation was recognised earlier in the same run); nothing else does.
   */
  readonly followsFrom?: {
    dma?(c: DeviationCase): boolean;
    register?(c: RegisterCase): boolean;
  };
}

/** The spec name of a single GERROR bit (IHI 0070 §6.3.19), from the register layout. */
export function gerrorBitName(bit: bigint | number): string {
  const lo = BigInt(bit).toString(2).length - 1;
  return GERROR.fields.find((f) => f.lo === lo)?.name ?? `bit ${lo}`;
}

/** The single-bit masks where two register values differ, lowest first. */
export function differingBits(a: bigint, b: bigint): bigint[] {
  const out: bigint[] = [];
  for (let x = a ^ b, bit = 1n; x !== 0n; x >>= 1n, bit <<= 1n) if (x & 1n) out.push(bit);
  return out;
}

/**
 * The table.  Filled as deviations are found and documented (the QEMU
 * cross-check and the capture import add theirs); order matters only for
 * which id is reported when two recognisers match.
 */
export const DEVIATIONS: Deviation[] = [...QEMU_CROSSCHECK_DEVIATIONS];

export function deviationsFor(oracle: OracleName): Deviation[] {
  return DEVIATIONS.filter((d) => d.oracles.includes(oracle));
}

/** The first documented deviation of `oracle` that recognises the case (for c.difference, or the outcome). */
export function recognise(oracle: OracleName, c: DeviationCase): Deviation | undefined {
  const kind = c.difference?.kind ?? 'outcome';
  return DEVIATIONS.find((d) => d.oracles.includes(oracle) && (d.aspects ?? ['outcome']).includes(kind) && d.matches(c));
}

/** The first documented deviation of `oracle` that recognises a differing register read. */
export function recogniseRegister(oracle: OracleName, c: RegisterCase): Deviation | undefined {
  return DEVIATIONS.find((d) => d.oracles.includes(oracle) && d.matchesRegister?.(c) === true);
}

export function outcomeOfResult(r: TxnResult): Outcome {
  switch (r.outcome) {
    case 'translated': return { kind: 'translated', pa: r.pa };
    case 'bypass': return { kind: 'bypass' };
    case 'abort': return { kind: 'abort' };
    case 'fault': return { kind: 'fault', event: r.event.type };
    default: return { kind: 'unsupported' };
  }
}

export function outcomeOfExpect(e: Expect, pieceOffset: bigint): Outcome {
  switch (e.kind) {
    case 'pa': return { kind: 'translated', pa: e.pa + pieceOffset };
    case 'bypass': return { kind: 'bypass' };
    case 'abort': return { kind: 'abort' };
    case 'fault': return { kind: 'fault', event: e.event };
  }
}

/**
 * The replay's explainer: a failed `expect` in a trace that declares its
 * oracle (`meta,oracle,qemu-7.2`) is explained when a documented deviation
 * of that oracle recognises it.
 */
export function explainCheck(c: CheckCase | ReadCheckCase, meta: Readonly<Record<string, string>>): string | undefined {
  const oracle = meta.oracle as OracleName | undefined;
  if (!oracle || !ORACLES.includes(oracle)) return undefined;
  if (c.kind === 'mem_read') {
    if (c.got === EABT) return undefined;
    const rc: ReadDeviationCase = { addr: c.row.addr, size: c.row.size, model: c.got, reference: c.expect, record: eventRecordAt(c.smmu, c.row.addr) };
    const r = DEVIATIONS.find((x) => x.oracles.includes(oracle) && x.matchesRead?.(rc));
    return r ? `known deviation ${r.id} (${r.summary})` : undefined;
  }
  const d = recognise(oracle, {
    sid: c.row.sid, ssid: c.row.ssid, addr: c.addr, access: c.row.access,
    model: outcomeOfResult(c.got), reference: outcomeOfExpect(c.expect, c.addr - c.row.addr),
    modelDetail: c.got.detail, smmu: c.smmu,
  });
  return d ? `known deviation ${d.id} (${d.summary})` : undefined;
}

/** The event-queue record (as the model's memory holds it) that a read at `addr` falls in, if any (§7.2, §6.3.29). */
export function eventRecordAt(smmu: Smmu, addr: bigint): ReadDeviationCase['record'] {
  const base = smmu.reg('EVENTQ_BASE');
  const log2 = Math.min(Number(base & 0x1fn), smmu.features.eventqs);
  const bytes = 32n << BigInt(log2);
  const start = base & 0x00ffffffffffffe0n & ~(bytes - 1n);
  if (addr < start || addr >= start + bytes) return undefined;
  const slot = Number((addr - start) / 32n);
  const q = smmu.memory.readQwords(start + BigInt(slot) * 32n, 4);
  if (q === EABT) return undefined;
  return { slot, qword: Number(((addr - start) % 32n) / 8n), qwords: q, event: decodeEvent(q).record };
}
