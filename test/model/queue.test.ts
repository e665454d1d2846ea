/**
 * Circular-queue pointer arithmetic (IHI0070 §3.5, §6.3.27/§6.3.28, §6.3.95/§6.3.96):
 * a PROD/CONS value holds the index in bits [QS-1:0] and the wrap flag in bit QS.
 * Empty: index and wrap equal.  Full: index equal, wrap different.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { qCount, qEmpty, qFull, qInc, qIndex, qWrap } from '../../src/model/queue.js';

const SEED = 0x5eed_0001;

describe('qIndex / qWrap', () => {
  it('split a pointer into index bits [QS-1:0] and wrap bit QS', () => {
    // log2 = 3: 0b1_101 = 13 -> index 0b101 = 5, wrap 1.
    expect(qIndex(13, 3)).toBe(5);
    expect(qWrap(13, 3)).toBe(1);
    // 0b0_111 = 7 -> index 7, wrap 0.
    expect(qIndex(7, 3)).toBe(7);
    expect(qWrap(7, 3)).toBe(0);
    // Bits above the wrap flag are not part of either: 0b10_010 = 18 with log2 = 3 -> index 2, wrap 0.
    expect(qIndex(18, 3)).toBe(2);
    expect(qWrap(18, 3)).toBe(0);
    // log2 = 0 (one entry): bit 0 is the wrap flag, index is always 0.
    expect(qIndex(1, 0)).toBe(0);
    expect(qWrap(1, 0)).toBe(1);
  });
});

describe('qInc', () => {
  it('increments the index and toggles the wrap flag on the carry out of the index', () => {
    // log2 = 2 (4 entries): 0 -> 1 -> 2 -> 3 -> 0b100 (index 0, wrap 1) -> ... -> 0b111 -> 0 (wrap back to 0).
    const seq = [0];
    for (let i = 0; i < 8; i++) seq.push(qInc(seq[seq.length - 1]!, 2));
    expect(seq).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0]);
  });

  it('drops bits above the wrap flag (they are not part of the pointer)', () => {
    // log2 = 2, ptr = 0b1_0_11 = 11: masked to 0b0_11 = 3, +1 = 0b1_00 = 4.
    expect(qInc(11, 2)).toBe(4);
    // log2 = 19 (the largest queue): 0x7ffff (index max, wrap 0) -> 0x80000 (index 0, wrap 1); 0xfffff -> 0.
    expect(qInc(0x7ffff, 19)).toBe(0x80000);
    expect(qInc(0xfffff, 19)).toBe(0);
  });
});

describe('qEmpty / qFull / qCount (hand-computed)', () => {
  it('distinguishes empty (wrap equal) from full (wrap different) at the same index', () => {
    // log2 = 3: PROD = 0b1_010 = 10, CONS = 0b0_010 = 2 -> same index, wraps differ: full, 8 entries.
    expect(qFull(10, 2, 3)).toBe(true);
    expect(qEmpty(10, 2, 3)).toBe(false);
    expect(qCount(10, 2, 3)).toBe(8);
    // PROD = CONS = 10 -> empty, 0 entries.
    expect(qFull(10, 10, 3)).toBe(false);
    expect(qEmpty(10, 10, 3)).toBe(true);
    expect(qCount(10, 10, 3)).toBe(0);
  });

  it('counts across the wrap: PROD behind CONS in index but one wrap ahead', () => {
    // log2 = 3: CONS = 0b0_110 = 6, PROD = 0b1_001 = 9 -> (9 - 6) mod 16 = 3 entries (slots 6, 7, 0).
    expect(qCount(9, 6, 3)).toBe(3);
    // CONS = 0b1_110 = 14, PROD = 0b0_001 = 1 -> (1 - 14 + 16) mod 16 = 3.
    expect(qCount(1, 14, 3)).toBe(3);
    expect(qFull(1, 14, 3)).toBe(false);
    expect(qEmpty(1, 14, 3)).toBe(false);
  });

  it('ignores register bits above the wrap flag (e.g. CMDQ_CONS.ERR, EVENTQ_PROD.OVFLG)', () => {
    // log2 = 4: PROD = OVFLG(bit 31) | 0b1_0000 (index 0, wrap 1), CONS = 0 -> full, 16 entries.
    const prod = 0x8000_0010;
    expect(qFull(prod, 0, 4)).toBe(true);
    expect(qCount(prod, 0, 4)).toBe(16);
    // CONS with ERR = 1 in [30:24] and RD = 5, PROD = 5: empty.
    expect(qEmpty(5, 0x0100_0005, 4)).toBe(true);
  });
});

describe('queue arithmetic properties (fast-check, fixed seeds)', () => {
  it('n increments of PROD from any CONS give qCount = n, full exactly at n = 2^log2, empty only at n = 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.nat(), fc.nat(), (log2, consRaw, nRaw) => {
        const size = 2 ** log2;
        const cons = consRaw % (2 * size); // any pointer value (index + wrap)
        const n = nRaw % (size + 1); // 0 .. 2^log2 entries
        let prod = cons;
        for (let i = 0; i < n; i++) {
          // Never full before the last step, never empty after the first.
          expect(qFull(prod, cons, log2)).toBe(false);
          prod = qInc(prod, log2);
          expect(qEmpty(prod, cons, log2)).toBe(false);
        }
        expect(qCount(prod, cons, log2)).toBe(n);
        expect(qFull(prod, cons, log2)).toBe(n === size);
        expect(qEmpty(prod, cons, log2)).toBe(n === 0);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('2^(log2+1) increments return a pointer to itself, and 2^log2 increments flip only the wrap flag', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.nat(), (log2, raw) => {
        const size = 2 ** log2;
        const p = raw % (2 * size);
        let q = p;
        for (let i = 0; i < size; i++) q = qInc(q, log2);
        expect(qIndex(q, log2)).toBe(qIndex(p, log2));
        expect(qWrap(q, log2)).toBe(1 - qWrap(p, log2));
        expect(qFull(q, p, log2)).toBe(true);
        for (let i = 0; i < size; i++) q = qInc(q, log2);
        expect(q).toBe(p);
      }),
      { seed: SEED + 1, numRuns: 300 },
    );
  });

  it('qCount(prod, cons) + qCount(cons, prod) is 0 (both empty) or 2^(log2+1) (the pointer space)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 19 }), fc.nat(), fc.nat(), (log2, a, b) => {
        const m = 2 ** (log2 + 1);
        const p = a % m;
        const c = b % m;
        const sum = qCount(p, c, log2) + qCount(c, p, log2);
        expect(sum).toBe(p === c ? 0 : m);
      }),
      { seed: SEED + 2, numRuns: 500 },
    );
  });

  it('one consumer step (qInc on CONS) decreases a non-empty count by exactly one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 19 }), fc.nat(), fc.nat(), (log2, a, nRaw) => {
        const size = 2 ** log2;
        const cons = a % (2 * size);
        const n = 1 + (nRaw % size); // 1 .. 2^log2
        const prod = (cons + n) % (2 * size);
        expect(qCount(prod, qInc(cons, log2), log2)).toBe(n - 1);
        expect(qFull(prod, qInc(cons, log2), log2)).toBe(false);
      }),
      { seed: SEED + 3, numRuns: 500 },
    );
  });
});
