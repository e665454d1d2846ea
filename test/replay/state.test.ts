import { describe, expect, it } from '@jest/globals';
import { SteTracker } from '../../src/replay/steTracker.js';
import type { SteRow } from '../../src/replay/streams.js';
import { classifyStore, steUsedMask } from '../../src/policy/usedBits.js';
import { steQwords } from '../helpers/env.js';

// Entries used below (doublewords from the STE field table, IHI0070 §5.2):
// S1 STE: V=1 Config=0b101 S1ContextPtr=0x9000_0000 -> DW0 = 0x9000_0000 | 0b1010 | 1 = 0x9000_000b
const S1 = steQwords({ V: 1, Config: 5, S1ContextPtr: 0x9000_0000n, S1CIR: 1, S1COR: 1, S1CSH: 3 });
// S2 STE: V=1 Config=0b110 (DW0 = 0xd), S2VMID=1, S2T0SZ=25, S2TG=4K, S2SL0=1, S2AA64=1, S2TTB=0xB000_0000
const S2 = steQwords({ V: 1, Config: 6, S2VMID: 1, S2T0SZ: 25, S2SL0: 1, S2AA64: 1, S2PS: 5, S2TTB: 0xb000_0000n });
const ABORT = steQwords({ V: 1, Config: 0 });
const ZERO = steQwords({});

function withQword(base: readonly bigint[], i: number, v: bigint): bigint[] {
  const q = [...base];
  q[i] = v;
  return q;
}

describe('used bits (the kernel rule arm_smmu_get_ste_used)', () => {
  it('V=0 uses only V; abort uses V and Config; S1 adds the S1 fields and S2VMID', () => {
    expect(steUsedMask(ZERO)).toEqual([1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
    // V [0] and Config [3:1] -> 0xf
    expect(steUsedMask(ABORT)[0]).toBe(0xfn);
    const m = steUsedMask(S1);
    // DW0: V, Config, S1Fmt [5:4], S1ContextPtr [55:6], S1CDMax [63:59] -> 0xf8ff_ffff_ffff_ffff
    expect(m[0]).toBe(0xf8ff_ffff_ffff_ffffn);
    // DW2: S2VMID [15:0] only
    expect(m[2]).toBe(0xffffn);
    // DW3 (S2TTB) unused by an S1 entry
    expect(m[3]).toBe(0n);
  });
  it('S2 uses S2TTB and the VTCR fields but not S1ContextPtr', () => {
    const m = steUsedMask(S2);
    expect(m[0]).toBe(0xfn);
    // S2TTB is DW3[51:4]: 0x000f_ffff_ffff_fff0
    expect(m[3]).toBe(0x000f_ffff_ffff_fff0n);
  });
});

describe('store states', () => {
  it('old and new when equal to the neighbouring invalidations', () => {
    expect(classifyStore(S1, S1, S2)).toBe('old');
    expect(classifyStore(S2, S1, S2)).toBe('new');
  });
  it('invalid when V=0 replaces a valid entry (a breaking update)', () => {
    // S1 -> S2 through V=0: DW0 := 0 first
    expect(classifyStore(withQword(S1, 0, 0n), S1, S2)).toBe('invalid');
  });
  it('a V=0 step while installing into an empty slot is safe: nothing changes for traffic', () => {
    // ZERO -> S2, writing DW3 first: the entry still has V=0, like the old one on the only used bit
    expect(classifyStore(withQword(ZERO, 3, S2[3]!), ZERO, S2)).toBe('safe');
  });
  it('safe when the bits the current entry uses match old or new (hitless steps)', () => {
    // S1 -> S2 hitless: first fill DW2/DW3 (unused by S1 except S2VMID, which is 0 -> 1 ... used by S1!).
    // Writing DW3 (S2TTB) alone: S1 does not use DW3, so the entry still behaves as old.
    expect(classifyStore(withQword(S1, 3, S2[3]!), S1, S2)).toBe('safe');
    // Writing DW2 changes S2VMID, which an S1 entry uses (VMID tag): not safe against old, and against
    // new the entry still has Config=S1 -> unsafe.
    expect(classifyStore(withQword(S1, 2, S2[2]!), S1, S2)).toBe('unsafe');
  });
  it('unsafe: V=1 with a half-written configuration', () => {
    // ZERO -> S2 writing DW0 first: V=1 Config=S2 with S2TTB=0 matches neither old (V=0) nor new (S2TTB differs)
    expect(classifyStore(withQword(ZERO, 0, S2[0]!), ZERO, S2)).toBe('unsafe');
  });
});

describe('the STE stream reorder buffer', () => {
  it('holds store rows until the next invalidation, then releases everything in order', () => {
    const out: SteRow[] = [];
    const t = new SteTracker((r) => out.push(r));
    t.track(1, ZERO);
    t.store(10, 1, 3, S2[3]!, ZERO, withQword(ZERO, 3, S2[3]!));
    t.fetch(11, 2, ABORT, 'valid'); // another StreamID: must wait behind the pending store
    expect(out).toEqual([]);
    t.store(12, 1, 0, S2[0]!, withQword(ZERO, 3, S2[3]!), withQword(withQword(ZERO, 3, S2[3]!), 0, S2[0]!));
    // The CFGI comes with the entry as it is now (DW0 and DW3 of S2, DW2 still zero), so the second
    // store made the entry equal to the one at the next invalidation: `new`.
    t.cfgi(13, 1, S2.map((v, i) => (i <= 3 ? (i === 2 ? 0n : v) : 0n)), 'valid');
    expect(out.map((r) => [r.line, r.sid, r.action, r.state])).toEqual([
      [10, 1, 'store', 'safe'],
      [11, 2, 'fetch', 'valid'],
      [12, 1, 'store', 'new'],
      [13, 1, 'cfgi', 'valid'],
    ]);
  });
  it('at the end of the trace, waiting stores are judged against the final entry', () => {
    const out: SteRow[] = [];
    const t = new SteTracker((r) => out.push(r));
    t.track(7, S1);
    t.store(5, 7, 0, 0n, S1, withQword(S1, 0, 0n));
    expect(out).toEqual([]);
    t.finish(() => ABORT);
    expect(out).toMatchObject([{ line: 5, sid: 7, action: 'store', state: 'invalid', qword: 0, value: 0n }]);
  });
});
