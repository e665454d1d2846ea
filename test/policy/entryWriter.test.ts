/**
 * The entry writers (src/policy/entryWriter.ts: hitlessPlan, alwaysBreakPlan,
 * inOrderPlan) on small hand-built STEs and CDs, and the used-bit rules of
 * src/policy/usedBits.ts that test/replay/state.test.ts does not already
 * cover (qword 1 and 2 masks, the v6.10 rule, SHCFG, nested, update-safe
 * bits, CD used bits).
 *
 * Every intermediate entry a plan produces is judged by a small checker
 * written here from hand-typed masks (IHI0070 §5.2 field positions, the
 * field lists of Linux's arm_smmu_get_ste_used / arm_smmu_get_ste_update_safe
 * as usedBits.ts documents them), not by calling usedBits.ts: an entry the
 * SMMU may fetch after any store must equal the old entry or the new one on
 * every bit the entry itself makes the SMMU read (minus update-safe bits), or
 * be V=0 in a plan that admits a break.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { SteField } from '../../src/model/ste.js';
import { alwaysBreakPlan, hitlessPlan, inOrderPlan, type Plan, type Step } from '../../src/policy/entryWriter.js';
import { cdUsed, equalOnMask, steUpdateSafe, steUsed, type Entry } from '../../src/policy/usedBits.js';
import { basicCd, cdQwords, steQwords } from '../helpers/env.js';

// ---------------------------------------------------------------------------
// Hand-typed STE masks (IHI0070 §5.2).

const ALL = (1n << 64n) - 1n;
const V = 0x1n; // DW0[0]
const CONFIG = 0xen; // DW0[3:1]
/** DW0: S1Fmt [5:4] 0x30 | S1ContextPtr [55:6] 0x00ff_ffff_ffff_ffc0 | S1CDMax [63:59] 0xf800_0000_0000_0000. */
const S1_Q0 = 0xf8ff_ffff_ffff_fff0n;
/** DW1: S1DSS [1:0] | S1CIR [3:2] | S1COR [5:4] | S1CSH [7:6] = 0xff; S1STALLD [27] 0x0800_0000; EATS [29:28]; STRW [31:30]. */
const S1_Q1 = 0xf800_00ffn;
const MEV = 0x8_0000n; // DW1[19]
const S2FWB = 0x200_0000n; // DW1[25]
const EATS = 0x3000_0000n; // DW1[29:28]
const EATS_TRANS = 0x1000_0000n; // DW1[28]
const EATS_S1CHK = 0x2000_0000n; // DW1[29]
const SHCFG = 0x3000_0000_0000n; // DW1[45:44]
const S2VMID = 0xffffn; // DW2[15:0]
/**
 * DW2 of a stage-2 entry (v6.10): S2VMID | VTCR [50:32] 0x0007_ffff_0000_0000 | S2AA64 [51] | S2ENDI [52]
 * | S2PTW [54] | S2R [58] = 0x045f_ffff_0000_ffff.
 */
const S2_Q2 = 0x045f_ffff_0000_ffffn;
const S2S = 0x0200_0000_0000_0000n; // DW2[57]
const S2TTB = 0x000f_ffff_ffff_fff0n; // DW3[51:4]

type Rules = 'v6.10' | 'current';
type Q8 = [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];

function usedIndep(e: Entry, rules: Rules): Q8 {
  const cur = rules === 'current';
  const m: Q8 = [V, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  const q0 = e[0] ?? 0n, q1 = e[1] ?? 0n;
  if ((q0 & V) === 0n) return m;
  m[0] |= CONFIG;
  const cfg = Number((q0 >> 1n) & 7n);
  if (cfg & 1) {
    m[0] |= S1_Q0;
    m[1] |= S1_Q1 | (cur ? MEV : 0n);
    m[2] |= S2VMID;
    if ((q1 & 3n) === 1n) m[1] |= SHCFG; // S1DSS = bypass
  }
  if (cfg & 2) {
    m[1] |= EATS | SHCFG | (cur ? S2FWB | MEV : 0n);
    m[2] |= S2_Q2 | (cur ? S2S : 0n);
    m[3] |= S2TTB;
  }
  if (cfg === 4) m[1] |= SHCFG;
  return m;
}

/** Update-safe bits between two entries: MEV always; EATS[28] unless either has EATS[29] or S2S. */
function safeIndep(a: Entry, b: Entry): Q8 {
  const s: Q8 = [0n, MEV, 0n, 0n, 0n, 0n, 0n, 0n];
  const s1chk = (((a[1] ?? 0n) | (b[1] ?? 0n)) & EATS_S1CHK) !== 0n;
  const s2s = (((a[2] ?? 0n) | (b[2] ?? 0n)) & S2S) !== 0n;
  if (!s1chk && !s2s) s[1] |= EATS_TRANS;
  return s;
}

function same(a: Entry, b: Entry): boolean {
  for (let i = 0; i < 8; i++) if ((a[i] ?? 0n) !== (b[i] ?? 0n)) return false;
  return true;
}

type Seen = 'old' | 'new' | 'safe' | 'break' | 'unsafe';

/** How an intermediate entry looks to the SMMU, by the hand-typed rules. */
function judge(x: Entry, old: Entry, next: Entry, rules: Rules, withSafe: boolean): Seen {
  if (same(x, old)) return 'old';
  if (same(x, next)) return 'new';
  const used = usedIndep(x, rules);
  for (const ref of [old, next]) {
    const s: Q8 = withSafe ? safeIndep(x, ref) : [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    if (used.every((u, i) => (((x[i] ?? 0n) ^ (ref[i] ?? 0n)) & u & ~s[i]!) === 0n)) return 'safe';
  }
  return ((x[0] ?? 0n) & V) === 0n ? 'break' : 'unsafe';
}

/** Apply a plan to a copy of `current`; the entry after each store, and after each sync. */
function run(current: Entry, steps: readonly Step[]): { afterStore: bigint[][]; atSync: bigint[][]; final: bigint[] } {
  const e = [...current];
  const afterStore: bigint[][] = [];
  const atSync: bigint[][] = [];
  for (const s of steps) {
    if (s.kind === 'store') {
      e[s.qword] = s.value;
      afterStore.push([...e]);
    } else atSync.push([...e]);
  }
  return { afterStore, atSync, final: e };
}

/** A plan as text: 'q<i>=<hex>' per store, 'sync' per sync. */
function show(p: Plan): string[] {
  return p.steps.map((s) => (s.kind === 'sync' ? 'sync' : `q${s.qword}=${s.value.toString(16)}`));
}

// ---------------------------------------------------------------------------
// Hand-built STEs (doublewords computed from the §5.2 positions).

const Z = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
const q = (...w: bigint[]): bigint[] => [...w, ...Z].slice(0, 8);
/** V=1, Config=0b000 (abort): DW0 = 1. */
const ABORT = q(1n);
/** V=1 Config=0b101 S1ContextPtr=0x9000_0000: DW0 = 0x9000_0000 | 5 << 1 | 1 = 0x9000_000b; DW1 = S1CIR 1<<2 | S1COR 1<<4 | S1CSH 3<<6 = 0xd4. */
const S1 = q(0x9000_000bn, 0xd4n);
/** The same with S2VMID = 1 (DW2 = 1). */
const S1_VMID1 = q(0x9000_000bn, 0xd4n, 1n);
/**
 * V=1 Config=0b110 (DW0 = 0xd), S2VMID=1, S2T0SZ=25 (25 << 32 = 0x19_0000_0000), S2SL0=1 (1 << 38 = 0x40_0000_0000),
 * S2PS=5 (5 << 48), S2AA64 (1 << 51): DW2 = 0x000d_0059_0000_0001; S2TTB = 0xb000_0000 in DW3.
 */
const S2 = q(0xdn, 0n, 0x000d_0059_0000_0001n, 0xb000_0000n);
const S2_VMID2 = q(0xdn, 0n, 0x000d_0059_0000_0002n, 0xb000_0000n);
/** S2_VMID2 with MEV (DW1[19] = 0x8_0000). */
const S2_VMID2_MEV = q(0xdn, 0x8_0000n, 0x000d_0059_0000_0002n, 0xb000_0000n);

describe('the hand-built entries', () => {
  it('match the STE field table', () => {
    expect(steQwords({ V: 1, Config: 0 })).toEqual(ABORT);
    expect(steQwords({ V: 1, Config: 5, S1ContextPtr: 0x9000_0000n, S1CIR: 1, S1COR: 1, S1CSH: 3 })).toEqual(S1);
    expect(steQwords({ V: 1, Config: 6, S2VMID: 1, S2T0SZ: 25, S2SL0: 1, S2PS: 5, S2AA64: 1, S2TTB: 0xb000_0000n })).toEqual(S2);
    expect(steQwords({ V: 1, Config: 6, S2VMID: 2, MEV: 1, S2T0SZ: 25, S2SL0: 1, S2PS: 5, S2AA64: 1, S2TTB: 0xb000_0000n })).toEqual(S2_VMID2_MEV);
  });
});

// ---------------------------------------------------------------------------
// usedBits: what state.test.ts does not cover.

describe('steUsed: DW1 and DW2 masks, the v6.10 rule, SHCFG', () => {
  const cur = steUsed('current'), old = steUsed('v6.10');
  it('stage 1: DW1 = S1 fields, S1STALLD, EATS, STRW, and MEV only in the current rule', () => {
    expect(cur(S1)[1]).toBe(0xf808_00ffn); // S1_Q1 | MEV
    expect(old(S1)[1]).toBe(0xf800_00ffn);
    expect(old(S1)[2]).toBe(0xffffn);
    expect(cur(S1)).toEqual(usedIndep(S1, 'current'));
  });
  it('stage 1 with S1DSS = bypass (DW1[1:0] = 0b01) adds SHCFG', () => {
    const e = q(0x9000_000bn, 0xd5n);
    expect(cur(e)[1]).toBe(0x3000_f808_00ffn);
  });
  it('stage 2: DW1 = EATS | SHCFG (| S2FWB | MEV), DW2 = VMID, VTCR, S2AA64, S2ENDI, S2PTW, S2R (| S2S)', () => {
    expect(old(S2)[1]).toBe(0x3000_3000_0000n);
    expect(cur(S2)[1]).toBe(0x3000_3208_0000n);
    expect(old(S2)[2]).toBe(0x045f_ffff_0000_ffffn);
    expect(cur(S2)[2]).toBe(0x065f_ffff_0000_ffffn);
    expect(cur(S2)[4]).toBe(0n);
  });
  it('nested (Config 0b111) is the union of both stages', () => {
    const nested = q(0x9000_000fn, 0xd4n, 0x000d_0059_0000_0001n, 0xb000_0000n);
    expect(cur(nested)).toEqual([0xf8ff_ffff_ffff_ffffn, 0x3000_fa08_00ffn, 0x065f_ffff_0000_ffffn, 0x000f_ffff_ffff_fff0n, 0n, 0n, 0n, 0n]);
  });
  it('bypass (Config 0b100) uses V, Config and SHCFG', () => {
    expect(cur(q(0x9n))).toEqual([0xfn, 0x3000_0000_0000n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });
});

describe('steUpdateSafe', () => {
  it('MEV always; EATS[28] only while neither entry has EATS[29] (S1CHK) nor S2S', () => {
    expect(steUpdateSafe(S1, S2)).toEqual([0n, 0x1008_0000n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect(steUpdateSafe(S1, q(0x9000_000bn, 0x2000_00d4n))[1]).toBe(0x8_0000n);
    expect(steUpdateSafe(q(0xdn, 0n, S2S), S2)[1]).toBe(0x8_0000n);
    expect(steUpdateSafe(S2, q(0xdn, 0n, S2S))[1]).toBe(0x8_0000n);
  });
});

describe('cdUsed', () => {
  it('V=0 (DW0[31] clear): only V', () => {
    expect(cdUsed(Z)).toEqual([0x8000_0000n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });
  it('V=1: everything; with EPD0 (DW0[14]) not T0SZ, TG0, IR0, OR0, SH0 (DW0[13:0]) nor TTB0 (DW1[51:4])', () => {
    const cd = basicCd(0xa000_0000n);
    expect(cdUsed(cd)).toEqual([ALL, ALL, ALL, ALL, ALL, ALL, ALL, ALL]);
    const epd0 = cdQwords({ V: 1, EPD0: 1, EPD1: 1, AA64: 1, ASID: 3 });
    expect(cdUsed(epd0)).toEqual([ALL & ~0x3fffn, 0xfff0_0000_0000_000fn, ALL, ALL, ALL, ALL, ALL, ALL]);
  });
  it('equalOnMask compares only the masked bits', () => {
    expect(equalOnMask([0xf0n, 1n], [0x0fn, 1n], [0x0fn, ALL])).toBe(false);
    expect(equalOnMask([0xf0n, 1n], [0x00n, 1n], [0x0fn, ALL])).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// hitlessPlan on hand-built pairs.

describe('hitlessPlan (arm_smmu_write_entry), STEs', () => {
  const used = steUsed('current');

  it('identical entries: nothing to do', () => {
    const p = hitlessPlan(S2, S2, used, steUpdateSafe);
    expect(p.steps).toEqual([]);
    expect(p.hitless).toBe(true);
  });

  it('install into a V=0 slot: the one critical qword is DW0 (V); DW1 first, then DW0', () => {
    // current used = V only.  unused[0] = 0x9000_000b & ~1 = 0x9000_000a; with the target's used bits it is not
    // 0x9000_000b -> DW0 critical.  unused[1] = 0xd4 = target DW1 -> not critical.  One critical qword:
    // step 1 writes every other differing qword (DW1), step 2 DW0, step 3 nothing.
    const p = hitlessPlan(Z, S1, used, steUpdateSafe);
    expect(show(p)).toEqual(['q1=d4', 'sync', 'q0=9000000b', 'sync']);
    expect(p.hitless).toBe(true);
    expect(p.unusedTargetBits).toEqual([]);
  });

  it('stage 1 -> abort: Config in DW0 first, then the stage-1 leftovers of DW1 are cleared', () => {
    // unused[0] = current DW0 (all of it used) -> 0xb & 0xf != 1: critical.  unused[1] = 0xd4, target uses none of
    // DW1 -> 0 == target DW1: not critical.  Step 1 changes nothing (no sync), step 2 DW0 := 1, step 3 DW1 := 0.
    expect(show(hitlessPlan(S1, ABORT, used, steUpdateSafe))).toEqual(['q0=1', 'sync', 'q1=0', 'sync']);
  });

  it('stage 1 -> stage 2 when S2VMID changes as well (0 -> 1): two critical qwords, a break through V=0', () => {
    // DW0 (Config) and DW2 (S2VMID, used by both) are critical: DW0 := 0, sync; DW1..DW3, sync; DW0, sync.
    const p = hitlessPlan(S1, S2, used, steUpdateSafe);
    expect(show(p)).toEqual(['q0=0', 'sync', 'q1=0', 'q2=d005900000001', 'q3=b0000000', 'sync', 'q0=d', 'sync']);
    expect(p.hitless).toBe(false);
  });

  it('stage 1 -> stage 2 with the same S2VMID: hitless in three steps (stage-2 words, Config, cleanup)', () => {
    // unused[2] = (1 & 0xffff) | (target DW2 & ~0xffff) = target DW2; unused[3] = target DW3 (unused by S1).
    const p = hitlessPlan(S1_VMID1, S2, used, steUpdateSafe);
    expect(show(p)).toEqual(['q2=d005900000001', 'q3=b0000000', 'sync', 'q0=d', 'sync', 'q1=0', 'sync']);
    expect(p.hitless).toBe(true);
  });

  it('stage 2 -> stage 1 with the same S2VMID: DW1 first, Config, then the stage-2 words are cleared', () => {
    // DW1's S1 bits (0xd4) are unused by the S2 entry: step 1.  DW2: the S1 target uses only S2VMID (1 = 1).
    const p = hitlessPlan(S2, S1_VMID1, used, steUpdateSafe);
    expect(show(p)).toEqual(['q1=d4', 'sync', 'q0=9000000b', 'sync', 'q2=1', 'q3=0', 'sync']);
  });

  it('update-safe MEV: MEV and S2VMID changing together stays hitless only with the safe bits', () => {
    // Without safe bits MEV (DW1) and S2VMID (DW2) are both used by both entries: two critical qwords.
    expect(show(hitlessPlan(S2, S2_VMID2_MEV, used))).toEqual([
      'q0=0', 'sync', 'q1=80000', 'q2=d005900000002', 'sync', 'q0=d', 'sync',
    ]);
    // MEV is update-safe: DW1 becomes a step-1 store, DW2 the single critical qword.
    const p = hitlessPlan(S2, S2_VMID2_MEV, used, steUpdateSafe);
    expect(show(p)).toEqual(['q1=80000', 'sync', 'q2=d005900000002', 'sync']);
    expect(p.hitless).toBe(true);
  });

  it('the v6.10 rule does not know MEV: a target that sets it is reported, and its qword counts as critical', () => {
    // Target DW1 = MEV, outside the v6.10 used bits of an S2 entry (EATS | SHCFG): (unused[1] & used[1]) = 0 != 0x8_0000,
    // so DW1 is critical whatever the current entry holds; with DW2 (S2VMID) that makes two: a break.
    const p = hitlessPlan(S2, S2_VMID2_MEV, steUsed('v6.10'));
    expect(p.unusedTargetBits).toEqual([{ qword: 1, bits: 0x8_0000n }]);
    expect(show(p)).toEqual(['q0=0', 'sync', 'q1=80000', 'q2=d005900000002', 'sync', 'q0=d', 'sync']);
    // Without MEV in the target, only DW2 is critical.
    expect(show(hitlessPlan(S2, S2_VMID2, steUsed('v6.10')))).toEqual(['q2=d005900000002', 'sync']);
  });

  it('update-safe EATS=TRANS: a CD-pointer change with ATS switched on is hitless; with S1CHK it breaks', () => {
    // Target: S1ContextPtr 0xa000_0000 (DW0 = 0xa000_000b) and EATS = 0b01 (DW1 = 0xd4 | 0x1000_0000).
    const trans = q(0xa000_000bn, 0x1000_00d4n);
    expect(show(hitlessPlan(S1, trans, used, steUpdateSafe))).toEqual(['q1=100000d4', 'sync', 'q0=a000000b', 'sync']);
    expect(show(hitlessPlan(S1, trans, used))).toEqual(['q0=0', 'sync', 'q1=100000d4', 'sync', 'q0=a000000b', 'sync']);
    // EATS = 0b10 (S1CHK, DW1[29]): bit 28 is no longer safe, and bit 29 never was.
    const s1chk = q(0xa000_000bn, 0x2000_00d4n);
    expect(hitlessPlan(S1, s1chk, used, steUpdateSafe).hitless).toBe(false);
  });

  it('update-safe EATS=TRANS is withdrawn when either entry has S2S=1 (usedBits.ts rule)', () => {
    // S2 entries with S2VMID 1 -> 2 (DW2 critical) and EATS 0 -> 1 (DW1).
    const plain = hitlessPlan(S2, q(0xdn, 0x1000_0000n, 0x000d_0059_0000_0002n, 0xb000_0000n), used, steUpdateSafe);
    expect(show(plain)).toEqual(['q1=10000000', 'sync', 'q2=d005900000002', 'sync']);
    // The same with S2S (DW2[57] = 0x0200_0000_0000_0000) in both.
    const stall = hitlessPlan(q(0xdn, 0n, 0x020d_0059_0000_0001n, 0xb000_0000n), q(0xdn, 0x1000_0000n, 0x020d_0059_0000_0002n, 0xb000_0000n), used, steUpdateSafe);
    expect(stall.hitless).toBe(false);
    expect(show(stall)[0]).toBe('q0=0');
  });

  it('bits the target sets outside its own used bits are reported (the WARN_ON_ONCE) and still written last', () => {
    // An S1 target with S2TTB 0xc000_0000 in DW3: the S1 entry does not use DW3.
    const t = q(0x9000_000bn, 0xd4n, 0n, 0xc000_0000n);
    const p = hitlessPlan(Z, t, used, steUpdateSafe);
    expect(p.unusedTargetBits).toEqual([{ qword: 3, bits: 0xc000_0000n }]);
    expect(run(Z, p.steps).final).toEqual(t);
  });
});

describe('hitlessPlan with the CD used bits', () => {
  const A = basicCd(0xa000_0000n, 1);
  const B = basicCd(0xa000_0000n, 2);
  const C = basicCd(0xb000_0000n, 2);

  it('install: every other qword, sync, DW0 (V), sync', () => {
    // basicCd sets DW0 (TCR, V, ASID), DW1 (TTB0) and DW3 (MAIR0).
    const p = hitlessPlan(Z, A, cdUsed);
    expect(p.steps).toEqual([
      { kind: 'store', qword: 1, value: A[1] }, { kind: 'store', qword: 3, value: A[3] }, { kind: 'sync' },
      { kind: 'store', qword: 0, value: A[0] }, { kind: 'sync' },
    ]);
    expect(p.hitless).toBe(true);
  });
  it('an ASID change (DW0[63:48] only): one store, one sync', () => {
    expect(A[0]! ^ B[0]!).toBe(3n << 48n); // ASID 1 -> 2
    expect(hitlessPlan(A, B, cdUsed).steps).toEqual([{ kind: 'store', qword: 0, value: B[0] }, { kind: 'sync' }]);
  });
  it('ASID and TTB0 together: two used qwords change -> V=0 first', () => {
    const p = hitlessPlan(A, C, cdUsed);
    expect(p.steps).toEqual([
      { kind: 'store', qword: 0, value: 0n }, { kind: 'sync' },
      { kind: 'store', qword: 1, value: C[1] }, { kind: 'sync' },
      { kind: 'store', qword: 0, value: C[0] }, { kind: 'sync' },
    ]);
    expect(p.hitless).toBe(false);
  });
  it('with EPD0=1, TTB0 is ignored: clearing it along with an ASID change is hitless', () => {
    const e1 = cdQwords({ V: 1, EPD0: 1, EPD1: 1, AA64: 1, ASID: 1, TTB0: 0xa000_0000n });
    const e2 = cdQwords({ V: 1, EPD0: 1, EPD1: 1, AA64: 1, ASID: 2 });
    // DW1 (TTB0 only) is unused by both: unused[1] = (0xa000_0000 & used) | (0 & ~used) = 0 = target DW1, not critical;
    // it goes in step 1.  DW0 (ASID) is the one critical qword.
    expect(hitlessPlan(e1, e2, cdUsed).steps).toEqual([
      { kind: 'store', qword: 1, value: 0n }, { kind: 'sync' }, { kind: 'store', qword: 0, value: e2[0] }, { kind: 'sync' },
    ]);
    // A target that sets TTB0 while EPD0=1 sets bits outside its used bits: DW1 counts as critical -> a break.
    const e3 = cdQwords({ V: 1, EPD0: 1, EPD1: 1, AA64: 1, ASID: 2, TTB0: 0xb000_0000n });
    const p = hitlessPlan(e1, e3, cdUsed);
    expect(p.unusedTargetBits).toEqual([{ qword: 1, bits: 0xb000_0000n }]);
    expect(p.hitless).toBe(false);
  });
});

// ---------------------------------------------------------------------------
// The controls.

describe('alwaysBreakPlan', () => {
  it('identical: nothing, and hitless', () => {
    expect(alwaysBreakPlan(S1, S1)).toEqual({ steps: [], hitless: true });
  });
  it('DW0 := 0, sync; DW1..DW7, sync; DW0, sync; steps that change nothing are skipped', () => {
    expect(show(alwaysBreakPlan(S1, S2))).toEqual(['q0=0', 'sync', 'q1=0', 'q2=d005900000001', 'q3=b0000000', 'sync', 'q0=d', 'sync']);
    // only DW0 differs: no middle step
    expect(show(alwaysBreakPlan(S1, q(0xa000_000bn, 0xd4n)))).toEqual(['q0=0', 'sync', 'q0=a000000b', 'sync']);
    // from V=0: DW0 is already 0, so the first step is empty
    expect(show(alwaysBreakPlan(Z, S1))).toEqual(['q1=d4', 'sync', 'q0=9000000b', 'sync']);
    // to V=0: the last step is empty
    expect(show(alwaysBreakPlan(S1, Z))).toEqual(['q0=0', 'sync', 'q1=0', 'sync']);
    expect(alwaysBreakPlan(S2, S2_VMID2).hitless).toBe(false);
  });
});

describe('inOrderPlan (torn / nosync negative controls)', () => {
  it('every changed qword in index order, then one sync (torn) or none (nosync)', () => {
    expect(show(inOrderPlan(S1, S2, true))).toEqual(['q0=d', 'q1=0', 'q2=d005900000001', 'q3=b0000000', 'sync']);
    expect(show(inOrderPlan(S1, S2, false))).toEqual(['q0=d', 'q1=0', 'q2=d005900000001', 'q3=b0000000']);
    expect(inOrderPlan(S1, S1, true)).toEqual({ steps: [], hitless: false });
  });
  it('passes through an unsafe entry: stage-2 Config over stage-1 words', () => {
    const { afterStore } = run(S1, inOrderPlan(S1, S2, true).steps);
    // After DW0: Config=S2 with S2TTB = 0 and VTCR = 0 - neither the old entry (Config) nor the new one (DW2, DW3).
    expect(afterStore.map((x) => judge(x, S1, S2, 'current', true))).toEqual(['unsafe', 'unsafe', 'unsafe', 'new']);
  });
});

// ---------------------------------------------------------------------------
// Properties over generated STE pairs.

type Kind = 'zero' | 'abort' | 'bypass' | 's1' | 's2' | 'nested';
const CFG: Record<Exclude<Kind, 'zero'>, number> = { abort: 0, bypass: 4, s1: 5, s2: 6, nested: 7 };

/**
 * STEs as the modern builders make them: only fields the entry's configuration uses are set, so no target
 * sets bits outside its used bits.  Values come from small sets so that pairs often share fields.
 */
function steArb(rules: Rules): fc.Arbitrary<bigint[]> {
  const cur = rules === 'current';
  return fc.record({
    kind: fc.constantFrom<Kind>('zero', 'abort', 'bypass', 's1', 's2', 'nested'),
    ctx: fc.constantFrom(0x9000_0000n, 0xa000_0000n),
    cdmax: fc.constantFrom(0, 5),
    fmt: fc.constantFrom(0, 1),
    dss: fc.constantFrom(0, 1, 2),
    cache: fc.constantFrom(0, 1),
    strw: fc.constantFrom(0, 2),
    stalld: fc.constantFrom(0, 1),
    eats: fc.constantFrom(0, 1, 2),
    mev: fc.constantFrom(0, 1),
    shcfg: fc.constantFrom(0, 1),
    vmid: fc.constantFrom(0, 1),
    t0sz: fc.constantFrom(25, 16),
    ptw: fc.constantFrom(0, 1),
    s2r: fc.constantFrom(0, 1),
    s2s: fc.constantFrom(0, 1),
    fwb: fc.constantFrom(0, 1),
    ttb: fc.constantFrom(0xb000_0000n, 0xc000_0000n),
  }).map((r) => {
    if (r.kind === 'zero') return steQwords({});
    const cfg = CFG[r.kind];
    const f: Partial<Record<SteField, bigint | number>> = { V: 1, Config: cfg };
    if (cfg & 1) {
      Object.assign(f, {
        S1Fmt: r.fmt, S1ContextPtr: r.ctx, S1CDMax: r.cdmax, S1DSS: r.dss, S1CIR: r.cache, S1COR: r.cache, S1CSH: 3,
        S1STALLD: r.stalld, STRW: r.strw, EATS: r.eats, S2VMID: r.vmid,
      });
      if (cur) f.MEV = r.mev;
      if (r.dss === 1) f.SHCFG = r.shcfg;
    }
    if (cfg & 2) {
      Object.assign(f, {
        EATS: r.eats, SHCFG: r.shcfg, S2VMID: r.vmid, S2T0SZ: r.t0sz, S2SL0: 1, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2PS: 5,
        S2AA64: 1, S2PTW: r.ptw, S2R: r.s2r, S2TTB: r.ttb,
      });
      if (cur) Object.assign(f, { S2FWB: r.fwb, MEV: r.mev, S2S: r.s2s });
    }
    if (cfg === 4) f.SHCFG = r.shcfg;
    return steQwords(f);
  });
}

/** Plan shape: no leading sync, no two syncs in a row, a trailing sync, at most three sync windows. */
function expectWellFormed(p: Plan, sync = true): void {
  if (p.steps.length === 0) return;
  const kinds = p.steps.map((s) => s.kind).join(' ');
  expect(kinds.startsWith('sync')).toBe(false);
  expect(kinds.includes('sync sync')).toBe(false);
  if (sync) {
    expect(p.steps.at(-1)!.kind).toBe('sync');
    expect(p.steps.filter((s) => s.kind === 'sync').length).toBeLessThanOrEqual(3);
  }
}

const PROPS = { seed: 1234, numRuns: 400 };

describe('properties (fast-check, fixed seed)', () => {
  it.each(['current', 'v6.10'] as const)('hitlessPlan (%s rule): ends at the target; every entry after every store is old, new or safe, or V=0 in a breaking plan', (rules) => {
    const withSafe = rules === 'current';
    fc.assert(
      fc.property(steArb(rules), steArb(rules), (cur, tgt) => {
        const p = hitlessPlan(cur, tgt, steUsed(rules), withSafe ? steUpdateSafe : undefined);
        expectWellFormed(p);
        const { afterStore, atSync, final } = run(cur, p.steps);
        expect(final).toEqual(tgt);
        expect(p.unusedTargetBits).toEqual([]);
        const seen = afterStore.map((x) => judge(x, cur, tgt, rules, withSafe));
        expect(seen).not.toContain('unsafe');
        // hitless <=> no window where traffic sees V=0 between two valid entries
        expect(seen.includes('break')).toBe(!p.hitless);
        if (!p.hitless) {
          // a break starts by clearing DW0 and ends by writing it
          expect(p.steps[0]).toEqual({ kind: 'store', qword: 0, value: 0n });
          expect(p.steps.at(-2)).toEqual({ kind: 'store', qword: 0, value: tgt[0] });
        }
        // the SMMU only re-reads at syncs: the last sync sees the target
        if (atSync.length) expect(atSync.at(-1)).toEqual(tgt);
      }),
      PROPS,
    );
  });

  it('update-safe bits never turn a hitless update into a breaking one', () => {
    fc.assert(
      fc.property(steArb('current'), steArb('current'), (cur, tgt) => {
        const plain = hitlessPlan(cur, tgt, steUsed('current'));
        const safe = hitlessPlan(cur, tgt, steUsed('current'), steUpdateSafe);
        if (plain.hitless) expect(safe.hitless).toBe(true);
      }),
      PROPS,
    );
  });

  it('alwaysBreakPlan: ends at the target, never unsafe, hitless only when nothing changes', () => {
    fc.assert(
      fc.property(steArb('current'), steArb('current'), (cur, tgt) => {
        const p = alwaysBreakPlan(cur, tgt);
        expectWellFormed(p);
        const { afterStore, final } = run(cur, p.steps);
        expect(final).toEqual(tgt);
        expect(afterStore.map((x) => judge(x, cur, tgt, 'current', true))).not.toContain('unsafe');
        expect(p.hitless).toBe(same(cur, tgt));
      }),
      PROPS,
    );
  });

  it('inOrderPlan: ends at the target, stores each differing qword once in increasing order', () => {
    fc.assert(
      fc.property(steArb('current'), steArb('current'), fc.boolean(), (cur, tgt, sync) => {
        const p = inOrderPlan(cur, tgt, sync);
        const stores = p.steps.filter((s): s is Extract<Step, { kind: 'store' }> => s.kind === 'store');
        expect(stores.map((s) => s.qword)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((i) => cur[i] !== tgt[i]));
        expect(p.steps.filter((s) => s.kind === 'sync').length).toBe(sync && stores.length ? 1 : 0);
        expect(run(cur, p.steps).final).toEqual(tgt);
      }),
      PROPS,
    );
  });
});
