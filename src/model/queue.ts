/**
 * Circular-queue pointer arithmetic shared by the command and event queues
 * (IHI0070 §3.5): a PROD or CONS value holds an index in bits [QS-1:0] and a
 * wrap flag in bit QS, where QS = LOG2SIZE.
 *
 * Empty when the indexes and wrap flags are both equal; full when the indexes
 * are equal and the wrap flags differ.
 */

/** Mask of the index and wrap bits for a queue of 2^log2 entries. */
function ptrMask(log2: number): number {
  return (2 ** (log2 + 1)) - 1;
}

export function qIndex(ptr: number, log2: number): number {
  return ptr & (2 ** log2 - 1);
}

export function qWrap(ptr: number, log2: number): number {
  return Math.floor(ptr / 2 ** log2) & 1;
}

export function qEmpty(prod: number, cons: number, log2: number): boolean {
  const m = ptrMask(log2);
  return (prod & m) === (cons & m);
}

export function qFull(prod: number, cons: number, log2: number): boolean {
  return qIndex(prod, log2) === qIndex(cons, log2) && qWrap(prod, log2) !== qWrap(cons, log2);
}

/** Advance a pointer by one entry; the carry out of the index toggles the wrap flag. */
export function qInc(ptr: number, log2: number): number {
  const m = ptrMask(log2);
  return ((ptr & m) + 1) & m;
}

/** Entries between CONS and PROD (0 .. 2^log2). */
export function qCount(prod: number, cons: number, log2: number): number {
  const m = ptrMask(log2);
  return ((prod & m) - (cons & m) + (m + 1)) & m;
}
