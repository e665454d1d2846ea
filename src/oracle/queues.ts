/**
 * Reading an SMMU queue from the outside (IHI 0070 §3.5): which entries a
 * producer index move made new.  Used the same way on the model and on
 * QEMU, so both sides' event records are read by one rule.
 */

export interface QueueView {
  /** The queue base register as written (address and LOG2SIZE). */
  readonly base: bigint;
  /** Effective log2 of the number of entries. */
  readonly log2: number;
  readonly entryBytes: 16 | 32;
}

/**
 * Indices (with wrap bit) of the entries between two producer values
 * (§3.5: index in [log2-1:0], wrap flag at bit log2; OVFLG at bit 31 is
 * ignored).  At most one lap: a producer that moved more than the queue
 * size would have overwritten unconsumed entries, which a producer never does.
 */
export function newQueueEntries(fromProd: number, toProd: number, log2: number): number[] {
  const mask = (1 << (log2 + 1)) - 1;
  const a = fromProd & mask;
  const b = toProd & mask;
  const n = (b - a + (mask + 1)) & mask;
  const out: number[] = [];
  for (let i = 0; i < n && i < 1 << log2; i++) out.push((a + i) & mask);
  return out;
}
