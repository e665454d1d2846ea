/**
 * How a driver changes a live 64-byte entry (STE or CD): the sequences of
 * 64-bit stores and syncs each update strategy produces.
 *
 * A plan is computed from the entry as it is in memory now and the target,
 * by simulating the strategy on a copy, exactly as the driver code decides:
 * a sync is issued only where the strategy issues one (for the used-bits
 * writer, only when the step changed something).
 */
import type { Entry, SafeFn, UsedFn } from './usedBits.js';

export type Step =
  | { readonly kind: 'store'; readonly qword: number; readonly value: bigint }
  | { readonly kind: 'sync' };

export interface Plan {
  readonly steps: readonly Step[];
  /** The used-bits writer's verdict: no V=0 store and at most one critical qword. */
  readonly hitless: boolean;
  /**
   * Qwords in which the target sets bits its own used bits do not cover: the
   * writer's WARN_ON_ONCE (the builders and the used-bits function disagree).
   */
  readonly unusedTargetBits?: readonly { readonly qword: number; readonly bits: bigint }[];
}

const NUM_QWORDS = 8;
const ALL = (1n << 64n) - 1n;

/** Apply stores to a copy of the entry for qwords [start, start+len) that differ; true if anything changed. */
function entrySet(steps: Step[], entry: bigint[], target: Entry, start: number, len: number): boolean {
  let changed = false;
  for (let i = start; i < start + len; i++) {
    const t = target[i] ?? 0n;
    if (entry[i] !== t) {
      entry[i] = t;
      steps.push({ kind: 'store', qword: i, value: t });
      changed = true;
    }
  }
  if (changed) steps.push({ kind: 'sync' });
  return changed;
}

/**
 * The used-bits writer (arm_smmu_write_entry): qword i is critical when the
 * bits the target uses still differ after every bit the current entry ignores
 * has taken its new value.  One critical qword: three steps (unused bits,
 * the critical qword, cleanup), each synced only if it changed something.
 * More: a breaking update through qword 0 = 0.  None: write the target.
 */
export function hitlessPlan(current: Entry, target: Entry, used: UsedFn, safe?: SafeFn): Plan {
  const entry = [...current];
  const curUsed = used(current);
  const tgtUsed = used(target);
  if (safe) {
    const s = safe(current, target);
    for (let i = 0; i < NUM_QWORDS; i++) curUsed[i] = curUsed[i]! & ~(s[i]! & curUsed[i]! & tgtUsed[i]!);
  }
  const unused = new Array<bigint>(NUM_QWORDS);
  const unusedTargetBits: { qword: number; bits: bigint }[] = [];
  let critical = 0;
  for (let i = 0; i < NUM_QWORDS; i++) {
    const c = current[i] ?? 0n;
    const t = target[i] ?? 0n;
    if ((t & ~tgtUsed[i]!) !== 0n) unusedTargetBits.push({ qword: i, bits: t & ~tgtUsed[i]! });
    unused[i] = (c & curUsed[i]!) | (t & ~curUsed[i]! & ALL);
    if ((unused[i]! & tgtUsed[i]!) !== t) critical |= 1 << i;
  }
  const steps: Step[] = [];
  const count = popcount(critical);
  if (count === 1) {
    const ci = Math.log2(critical);
    unused[ci] = entry[ci]!;
    entrySet(steps, entry, unused, 0, NUM_QWORDS);
    entrySet(steps, entry, target, ci, 1);
    entrySet(steps, entry, target, 0, NUM_QWORDS);
    return { steps, hitless: true, unusedTargetBits };
  }
  if (count > 1) {
    unused[0] = 0n;
    entrySet(steps, entry, unused, 0, 1);
    entrySet(steps, entry, target, 1, NUM_QWORDS - 1);
    entrySet(steps, entry, target, 0, 1);
    return { steps, hitless: false, unusedTargetBits };
  }
  entrySet(steps, entry, target, 0, NUM_QWORDS);
  return { steps, hitless: true, unusedTargetBits };
}

/** Control: every change goes through V=0 (qword 0 := 0, sync, qwords 1..7, sync, qword 0, sync). */
export function alwaysBreakPlan(current: Entry, target: Entry): Plan {
  const entry = [...current];
  const steps: Step[] = [];
  if (current.every((v, i) => v === (target[i] ?? 0n))) return { steps, hitless: true };
  const zero = [...entry];
  zero[0] = 0n;
  entrySet(steps, entry, zero, 0, 1);
  entrySet(steps, entry, target, 1, NUM_QWORDS - 1);
  entrySet(steps, entry, target, 0, 1);
  return { steps, hitless: false };
}

/** Negative controls: every changed qword in index order, then one sync (torn) or none (nosync). */
export function inOrderPlan(current: Entry, target: Entry, sync: boolean): Plan {
  const steps: Step[] = [];
  for (let i = 0; i < NUM_QWORDS; i++) {
    const t = target[i] ?? 0n;
    if ((current[i] ?? 0n) !== t) steps.push({ kind: 'store', qword: i, value: t });
  }
  if (sync && steps.length) steps.push({ kind: 'sync' });
  return { steps, hitless: false };
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v; v &= v - 1) n++;
  return n;
}
