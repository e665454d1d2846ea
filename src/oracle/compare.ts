/**
 * Comparing the model with QEMU, row by row (pure functions).
 *
 * A compared row is one DMA piece (the engine splits DMAs at 4 KiB) or one
 * register read.  Its verdict:
 * - `matched`: every compared aspect is equal;
 * - `matched-uncached`: not equal to the model's run with every permitted
 *   cache entry kept (`max`), but every aspect equal to its run with
 *   nothing cached (`none`); the architecture allows any caching between
 *   the two (IHI 0070 §16.2), so this is a match, counted apart;
 * - `known-deviation`: every difference is recognised by a documented
 *   deviation of this QEMU version (src/oracle/deviations.ts);
 * - `not-comparable`: the row needs something this QEMU set-up cannot do
 *   (never counted as a pass);
 * - `mismatched`: anything else (the command exits 1).
 *
 * For a DMA piece the aspects are: the outcome (translated to which PA,
 * bypass, abort without a record, fault with which event); when both sides
 * faulted with the same event, the records written (count, then every field
 * of each record's type); GERROR and EVENTQ_PROD.OVFLG after it.
 */
import { decodeEvent, type EventRecord } from '../model/events.js';
import { fieldByName, fieldMask } from '../model/fields.js';
import { EVENTQ_PROD } from '../model/registers.js';
import type { Smmu } from '../model/smmu.js';
import {
  differingBits, gerrorBitName, recognise, recogniseRegister,
  type Deviation, type DeviationCase, type Difference, type EventqState, type OracleName, type Outcome, type RegisterCase,
} from './deviations.js';

export type Verdict = 'matched' | 'matched-uncached' | 'known-deviation' | 'not-comparable' | 'mismatched';
export const VERDICTS: readonly Verdict[] = ['matched', 'matched-uncached', 'known-deviation', 'not-comparable', 'mismatched'];

export interface ComparedRow {
  readonly line: number;
  readonly kind: 'dma' | 'register';
  /** What was compared: `dma 0x10 0x10000010 r 4` or `read GERROR`. */
  readonly what: string;
  readonly verdict: Verdict;
  readonly model: string;
  readonly qemu: string;
  /** Ids of the deviations that explained the differences. */
  readonly deviations: readonly string[];
  /** For not-comparable: why; for mismatched: the unexplained differences. */
  readonly reason?: string;
  /** How a match was reached when it was not against the model's default run (caching). */
  readonly note?: string;
}

/** QEMU's outcome of one DMA, from its trace lines. */
export interface QemuOutcome {
  readonly outcome: Outcome;
  readonly detail: string;
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/**
 * Parse the trace lines of one DMA piece starting at `addr`.  QEMU (log
 * backend, `-trace smmuv3_translate_*,smmuv3_record_event -d guest_errors`)
 * writes, per translation of the IOMMU region:
 *   smmuv3_translate_success <mr> sid=0x10 iova=0x.. translated=0x.. perm=0x3 [stage=N]
 *   smmuv3_translate_bypass <mr> sid=0x.. STE bypass iova:0x.. is_write=N
 *   smmuv3_translate_disable <mr> sid=0x.. bypass (smmu disabled) iova:0x.. is_write=N
 *   smmuv3_translate_abort <mr> sid=0x.. abort on iova:0x.. is_write=N
 *   <mr> translation failed for iova=0x.. (SMMU_EVT_<EVENT>)
 * and `smmuv3_record_event SMMU_EVT_<EVENT> sid=0x..` when the record is written.
 * The first translation line decides; none means the access never reached
 * the SMMU.
 */
export function parseQemuOutcome(lines: readonly string[], addr: bigint): QemuOutcome {
  for (const l of lines) {
    let m = /^smmuv3_translate_success \S+ sid=0x[0-9a-f]+ iova=0x([0-9a-f]+) translated=0x([0-9a-f]+) perm=0x([0-9a-f]+)(?: stage=(\d+))?/.exec(l);
    if (m) {
      const iova = BigInt(`0x${m[1]}`);
      const pa = BigInt(`0x${m[2]}`) + (addr >= iova ? addr - iova : 0n);
      return { outcome: { kind: 'translated', pa }, detail: `translated perm=0x${m[3]}${m[4] ? ` stage=${m[4]}` : ''}` };
    }
    if (/^smmuv3_translate_bypass /.test(l)) return { outcome: { kind: 'bypass' }, detail: 'STE bypass' };
    if (/^smmuv3_translate_disable /.test(l)) return { outcome: { kind: 'bypass' }, detail: 'SMMU disabled: bypass' };
    if (/^smmuv3_translate_abort /.test(l)) return { outcome: { kind: 'abort' }, detail: 'STE abort' };
    m = /translation failed for iova=0x[0-9a-f]+ \((\w+)\)/.exec(l);
    if (m) {
      const name = m[1]!.replace(/^SMMU_EVT_/, '');
      if (/^[CFE]_/.test(name)) return { outcome: { kind: 'fault', event: name }, detail: `translation failed (${m[1]})` };
      return { outcome: { kind: 'abort' }, detail: `translation failed (${m[1]}): no event` };
    }
  }
  return { outcome: { kind: 'abort' }, detail: 'no translation: the access never reached the SMMU' };
}

export function formatOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'translated': return `translated pa=${hex(o.pa)}`;
    case 'fault': return `fault ${o.event}`;
    default: return o.kind;
  }
}

export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'translated' && b.kind === 'translated') return a.pa === b.pa;
  if (a.kind === 'fault' && b.kind === 'fault') return a.event === b.event;
  return true;
}

/** Decode raw records (4 doublewords each); an unknown type code decodes to a placeholder. */
export function decodeRecords(raw: readonly (readonly bigint[])[]): EventRecord[] {
  return raw.map((q) => {
    const d = decodeEvent(q);
    return d.record ?? { type: `UNKNOWN(0x${d.code.toString(16)})` as EventRecord['type'], sid: Number(q[0]! >> 32n), fields: {} };
  });
}

/** The differences between the records of two sides (count first, then fields of each pair of the same type). */
export function recordDifferences(model: readonly EventRecord[], ref: readonly EventRecord[]): Difference[] {
  const out: Difference[] = [];
  if (model.length !== ref.length) out.push({ kind: 'event-count', model: model.length, reference: ref.length });
  for (let i = 0; i < Math.min(model.length, ref.length); i++) {
    const a = model[i]!;
    const b = ref[i]!;
    const field = (name: string, x: bigint | undefined, y: bigint | undefined) => {
      if ((x ?? 0n) !== (y ?? 0n)) out.push({ kind: 'event-field', index: i, event: a.type, field: name, model: x ?? 0n, reference: y ?? 0n });
    };
    if (a.type !== b.type) {
      out.push({ kind: 'event-field', index: i, event: a.type, field: 'type', model: 0n, reference: 0n });
      continue;
    }
    field('StreamID', BigInt(a.sid), BigInt(b.sid));
    field('SubstreamID', a.ssid === undefined ? undefined : BigInt(a.ssid), b.ssid === undefined ? undefined : BigInt(b.ssid));
    const names = new Set([...Object.keys(a.fields), ...Object.keys(b.fields)]);
    for (const n of names) field(n, (a.fields as Record<string, bigint>)[n], (b.fields as Record<string, bigint>)[n]);
  }
  return out;
}

function describe(d: Difference): string {
  switch (d.kind) {
    case 'outcome': return 'outcome';
    case 'event-count': return `event records: model ${d.model}, QEMU ${d.reference}`;
    case 'event-field': return d.field === 'type' ? `record ${d.index}: event type` : `record ${d.index} (${d.event}) ${d.field}: model ${hex(d.model)}, QEMU ${hex(d.reference)}`;
    case 'gerror': return `GERROR.${gerrorBitName(d.bit)}: model ${d.model & d.bit ? 1 : 0}, QEMU ${d.reference & d.bit ? 1 : 0}`;
    case 'ovflg': return `EVENTQ_PROD.OVFLG: model ${d.model ? 1 : 0}, QEMU ${d.reference ? 1 : 0}`;
  }
}

export interface DmaSide {
  readonly outcome: Outcome;
  readonly detail: string;
  readonly records: readonly (readonly bigint[])[];
  readonly gerror: number;
  readonly eventqProd: number;
}

/**
 * Deviations recognised earlier in the run whose consequences later rows may
 * show (Deviation.followsFrom): each is asked only about the differences
 * that no recogniser explained, and explains only those its predicate names.
 */
export type EarlierDeviations = readonly Deviation[];

export interface DmaCompareInput {
  readonly oracle: OracleName;
  readonly after?: EarlierDeviations | undefined;
  readonly line: number;
  readonly sid: number;
  readonly ssid: number | undefined;
  readonly addr: bigint;
  readonly size: number;
  readonly access: string;
  readonly model: DmaSide;
  readonly qemu: DmaSide;
  readonly smmu: Smmu | undefined;
  /** Event queue geometry and the drift before this piece (both sides' producers come from `model`/`qemu`). */
  readonly eventq?: { readonly entries: number; readonly cons: number; readonly drift: number } | undefined;
}

export function dmaWhat(sid: number, addr: bigint, access: string, size: number): string {
  return `dma sid=${hex(sid)} ${hex(addr)} ${access} size=${size}`;
}

/** Compare one DMA piece. */
export function compareDma(i: DmaCompareInput): ComparedRow {
  const diffs: Difference[] = [];
  if (!sameOutcome(i.model.outcome, i.qemu.outcome)) diffs.push({ kind: 'outcome' });
  const modelEvents = decodeRecords(i.model.records);
  const refEvents = decodeRecords(i.qemu.records);
  // Records are compared when both sides faulted with the same event; otherwise the outcome difference covers them.
  if (diffs.length === 0) diffs.push(...recordDifferences(modelEvents, refEvents));
  // Each GERROR bit is an error condition of its own (IHI 0070 §7.2): judged one by one.
  for (const bit of differingBits(BigInt(i.model.gerror), BigInt(i.qemu.gerror))) {
    diffs.push({ kind: 'gerror', bit: Number(bit), model: i.model.gerror, reference: i.qemu.gerror });
  }
  const ovM = (i.model.eventqProd >>> 31) === 1;
  const ovQ = (i.qemu.eventqProd >>> 31) === 1;
  if (ovM !== ovQ) diffs.push({ kind: 'ovflg', model: ovM, reference: ovQ });
  const eventq: EventqState | undefined = i.eventq && {
    ...i.eventq, modelProd: i.model.eventqProd, referenceProd: i.qemu.eventqProd,
    modelWritten: i.model.records.length, referenceWritten: i.qemu.records.length,
  };
  const base: Omit<DeviationCase, 'difference'> = {
    sid: i.sid, ssid: i.ssid, addr: i.addr, access: i.access, model: i.model.outcome, reference: i.qemu.outcome,
    modelDetail: i.model.detail, smmu: i.smmu, modelEvents, referenceEvents: refEvents, size: i.size,
    ...(eventq ? { eventq } : {}),
  };
  return verdictOf(i.line, 'dma', dmaWhat(i.sid, i.addr, i.access, i.size), sideText(i.model, modelEvents), sideText(i.qemu, refEvents),
    diffs.map((d) => {
      const c: DeviationCase = { ...base, difference: d };
      return { d, dev: recognise(i.oracle, c) ?? i.after?.find((x) => x.followsFrom?.dma?.(c) === true) };
    }));
}

function sideText(s: DmaSide, events: readonly EventRecord[]): string {
  const ev = events.length > 1 ? ` (${events.length} records)` : '';
  return `${formatOutcome(s.outcome)}${ev}${s.detail ? ` [${s.detail}]` : ''}`;
}

function verdictOf(line: number, kind: 'dma' | 'register', what: string, model: string, qemu: string,
  checked: readonly { d: Difference | string; dev: Deviation | undefined }[]): ComparedRow {
  if (checked.length === 0) return { line, kind, what, verdict: 'matched', model, qemu, deviations: [] };
  const unexplained = checked.filter((c) => !c.dev);
  const ids = [...new Set(checked.filter((c) => c.dev).map((c) => c.dev!.id))];
  if (unexplained.length === 0) return { line, kind, what, verdict: 'known-deviation', model, qemu, deviations: ids };
  return {
    line, kind, what, verdict: 'mismatched', model, qemu, deviations: ids,
    reason: unexplained.map((c) => (typeof c.d === 'string' ? c.d : describe(c.d))).join('; '),
  };
}

export interface RegisterCompareInput {
  readonly oracle: OracleName;
  readonly line: number;
  readonly register: string;
  readonly model: bigint;
  readonly qemu: bigint;
  readonly smmu: Smmu | undefined;
  readonly extraReferenceEvents: number;
  readonly after?: EarlierDeviations | undefined;
}

const EVENTQ_PROD_OVFLG = fieldMask(fieldByName(EVENTQ_PROD, 'OVFLG')!);

/**
 * The parts of a differing register judged separately: GERROR bit by bit (each
 * bit is an error condition of its own, §7.2), EVENTQ_PROD's OVFLG apart from
 * its index and wrap bit (§3.5, §7.4); any other register whole.
 */
export function registerParts(register: string, model: bigint, qemu: bigint): { bits: bigint; text: string }[] {
  const x = model ^ qemu;
  const whole = { bits: x, text: `${register}: model ${hex(model)}, QEMU ${hex(qemu)}` };
  if (register === 'GERROR') {
    return differingBits(model, qemu).map((b) => ({ bits: b, text: `GERROR.${gerrorBitName(b)}: model ${model & b ? 1 : 0}, QEMU ${qemu & b ? 1 : 0}` }));
  }
  if (register === 'EVENTQ_PROD' && (x & EVENTQ_PROD_OVFLG) !== 0n && x !== EVENTQ_PROD_OVFLG) {
    const rest = x & ~EVENTQ_PROD_OVFLG;
    return [
      { bits: EVENTQ_PROD_OVFLG, text: `EVENTQ_PROD.OVFLG: model ${model >> 31n}, QEMU ${qemu >> 31n}` },
      { bits: rest, text: `EVENTQ_PROD index: model ${hex(model & ~EVENTQ_PROD_OVFLG)}, QEMU ${hex(qemu & ~EVENTQ_PROD_OVFLG)}` },
    ];
  }
  return [whole];
}

/** Compare one register read. */
export function compareRegister(i: RegisterCompareInput): ComparedRow {
  const what = `read ${i.register}`;
  const parts = i.model === i.qemu ? [] : registerParts(i.register, i.model, i.qemu);
  return verdictOf(i.line, 'register', what, hex(i.model), hex(i.qemu), parts.map((p) => {
    const c: RegisterCase = { register: i.register, model: i.model, reference: i.qemu, bits: p.bits, smmu: i.smmu, extraReferenceEvents: i.extraReferenceEvents };
    return { d: p.text, dev: recogniseRegister(i.oracle, c) ?? i.after?.find((x) => x.followsFrom?.register?.(c) === true) };
  }));
}

export function notComparable(line: number, kind: 'dma' | 'register', what: string, model: string, reason: string): ComparedRow {
  return { line, kind, what, verdict: 'not-comparable', model, qemu: '-', deviations: [], reason };
}

export interface Counts {
  matched: number;
  'matched-uncached': number;
  'known-deviation': number;
  'not-comparable': number;
  mismatched: number;
}

export function countRows(rows: readonly ComparedRow[]): Counts {
  const c: Counts = { matched: 0, 'matched-uncached': 0, 'known-deviation': 0, 'not-comparable': 0, mismatched: 0 };
  for (const r of rows) c[r.verdict]++;
  return c;
}

/** `N matched, U matched (uncached), M known-deviation, K not-comparable, J mismatched` */
export function countsText(c: Counts): string {
  return `${c.matched} matched, ${c['matched-uncached']} matched (uncached), ${c['known-deviation']} known-deviation, ${c['not-comparable']} not-comparable, ${c.mismatched} mismatched`;
}

/**
 * The verdict of a DMA piece compared against both model runs: against the
 * `max` run first; where that is not a match and the `none` run compares
 * better, that one, marked (a match there is `matched-uncached`).
 */
export function withUncached(cached: ComparedRow, uncached: ComparedRow | undefined): { row: ComparedRow; usedUncached: boolean } {
  if (cached.verdict === 'matched' || !uncached || RANK[uncached.verdict] >= RANK[cached.verdict]) return { row: cached, usedUncached: false };
  const note = 'QEMU kept fewer cache entries than the model\'s `max` policy; it gave the outcome of the model with nothing cached (also allowed, IHI 0070 §16.2)';
  return { row: { ...uncached, verdict: uncached.verdict === 'matched' ? 'matched-uncached' : uncached.verdict, note }, usedUncached: true };
}

const RANK: Record<Verdict, number> = { matched: 0, 'matched-uncached': 1, 'known-deviation': 2, 'not-comparable': 3, mismatched: 4 };
