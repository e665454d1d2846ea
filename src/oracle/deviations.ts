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
}

/**
 * The table.  Filled as deviations are found and documented (the QEMU
 * cross-check and the capture import add theirs); order matters only for
 * which id is reported when two recognisers match.
 */
export const DEVIATIONS: Deviation[] = [
  // ---- QEMU 7.2, shown by the imported capture traces/linux-6.1-qemu-7.2 (docs/qemu-deviations.md) ----
  {
    id: 'qemu-7.2/event-class-cd',
    oracles: ['qemu-7.2'],
    spec: 'IHI 0070 §7.3.13',
    summary: 'QEMU 7.2 never fills CLASS: a stage-1 F_TRANSLATION, F_ADDR_SIZE, F_ACCESS or F_PERMISSION record says CLASS=CD (0b00) where the architecture says CLASS=IN (0b10)',
    matches: () => false,
    // The driver read doubleword 1 of an event record the model wrote for a stage-1 fault with CLASS=IN,
    // and the emulator's doubleword differs from the model's in CLASS alone, which is 0b00 there.
    matchesRead: (c) => {
      const e = c.record?.event;
      if (!c.record || c.record.qword !== 1 || c.size !== 8 || (c.addr & 7n) !== 0n || !e) return false;
      if (!['F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION'].includes(e.type)) return false;
      const CLASS = 3n << 40n;
      return e.fields.S2 === 0n && e.fields.CLASS === 2n && c.reference === (c.model & ~CLASS);
    },
  },
];

export function deviationsFor(oracle: OracleName): Deviation[] {
  return DEVIATIONS.filter((d) => d.oracles.includes(oracle));
}

/** The first documented deviation of `oracle` that recognises the case. */
export function recognise(oracle: OracleName, c: DeviationCase): Deviation | undefined {
  return DEVIATIONS.find((d) => d.oracles.includes(oracle) && d.matches(c));
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
