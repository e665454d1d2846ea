/**
 * Pure VMSAv8-64 walk and permission checks (src/model/walk.ts), driven by a
 * Map-backed DescriptorReader so each test states exactly which descriptor
 * addresses the walk must read.
 *
 * Sources: Arm ARM D8.2 (granules, levels, concatenation), D8.3 (descriptor
 * formats), D8.4 (permissions), D8.5 (Access flag), D8.15 (fault priority),
 * as summarised in /tmp/vmsa-notes.md §1-§6 and smmuv3-facts.md §6.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { GRANULES, stage1StartLevel, type GranuleName } from '../../src/model/granule.js';
import {
  NO_TABLE_ATTRS, stage1Permits, stage2IsDevice, stage2Permits, walk,
  type AccessKind, type DescriptorReader, type Stage1PermContext, type TableAttrs, type Translation,
  type WalkFault, type WalkParams,
} from '../../src/model/walk.js';

// ---------------------------------------------------------------------------
// Helpers.

/** Stage-1 page descriptor low bits: [1:0]=0b11 page, AttrIndx=0, AP[2:1]=00, SH[9:8]=0b11, AF (bit 10) = 1. */
const S1_PAGE = 0x703n;
/** Stage-1 block descriptor low bits: as S1_PAGE but [1:0]=0b01. */
const S1_BLOCK = 0x701n;
/** Stage-2 page: [1:0]=0b11, MemAttr[5:2]=0b1111, S2AP[7:6]=0b11, SH=0b11, AF=1. */
const S2_PAGE = 0x7ffn;
const TABLE = 0x3n;
const AF = 1n << 10n;

/** A reader over a Map (absent addresses read as 0 = invalid), logging every address read. */
function mapReader(entries: readonly (readonly [bigint, bigint])[]): { reads: bigint[]; read: DescriptorReader; mem: Map<bigint, bigint> } {
  const mem = new Map<bigint, bigint>(entries.map(([a, d]) => [a, d]));
  const reads: bigint[] = [];
  return { mem, reads, read: (a) => { reads.push(a); return mem.get(a) ?? 0n; } };
}

function s1(g: GranuleName, inputBits: number, startLevel: number, extra: Partial<WalkParams> = {}): WalkParams {
  return {
    stage: 1, granule: GRANULES[g], inputBits, startLevel, concat: 1, ttb: 0x10_0000n,
    outputBits: 48, affd: false, had: false, ...extra,
  };
}

function s2(g: GranuleName, inputBits: number, startLevel: number, concat: number, extra: Partial<WalkParams> = {}): WalkParams {
  return {
    stage: 2, granule: GRANULES[g], inputBits, startLevel, concat, ttb: 0x100_0000n,
    outputBits: 48, affd: false, had: true, ...extra,
  };
}

/** Table addresses used below, one per level after the start: 1 MiB apart, aligned for every granule. */
const T1 = 0x20_0000n, T2 = 0x30_0000n, T3 = 0x40_0000n;
const OA = 0x8_7654_0000n; // 64 KiB aligned, so a valid page address for every granule

// ---------------------------------------------------------------------------
// Stage 1: every granule x start level.

interface S1Case {
  name: string;
  g: GranuleName;
  n: number;
  start: number;
  va: bigint;
  /** Descriptor addresses, start level first. */
  descs: bigint[];
  iaBase: bigint;
  pa: bigint;
}

// TTB = 0x10_0000; the tables after it are at T1, T2, T3 in level order.  Index arithmetic per case.
const S1_CASES: S1Case[] = [
  {
    // 4K, T0SZ=16: n = 48, start level 4 - floor((48-4)/9) = 0.
    // VA 0xd2b0_e23f_fabc = 0x1a5<<39 | 0x0c3<<30 | 0x111<<21 | 0x1ff<<12 | 0xabc
    //   L0 index = VA[47:39] = 0x1a5 -> TTB + 0x1a5*8 = 0x10_0d28
    //   L1 index = VA[38:30] = 0x0c3 -> T1 + 0xc3*8  = 0x20_0618
    //   L2 index = VA[29:21] = 0x111 -> T2 + 0x111*8 = 0x30_0888
    //   L3 index = VA[20:12] = 0x1ff -> T3 + 0x1ff*8 = 0x40_0ff8;  PA = OA | 0xabc
    name: '4K T0SZ=16 -> L0', g: '4K', n: 48, start: 0, va: 0xd2b0_e23f_fabcn,
    descs: [0x10_0d28n, 0x20_0618n, 0x30_0888n, 0x40_0ff8n], iaBase: 0xd2b0_e23f_f000n, pa: 0x8_7654_0abcn,
  },
  {
    // 4K, T0SZ=25: n = 39, start 4 - floor(35/9) = 1.
    // VA 0x7c_0055_5123 = 0x1f0<<30 | 0x002<<21 | 0x155<<12 | 0x123
    //   L1 index = VA[38:30] = 0x1f0 -> TTB + 0x1f0*8 = 0x10_0f80
    //   L2 index = VA[29:21] = 0x002 -> T1 + 0x10      = 0x20_0010
    //   L3 index = VA[20:12] = 0x155 -> T2 + 0x155*8  = 0x30_0aa8
    name: '4K T0SZ=25 -> L1', g: '4K', n: 39, start: 1, va: 0x7c_0055_5123n,
    descs: [0x10_0f80n, 0x20_0010n, 0x30_0aa8n], iaBase: 0x7c_0055_5000n, pa: 0x8_7654_0123n,
  },
  {
    // 4K, T0SZ=34: n = 30, start 4 - floor(26/9) = 2.
    // VA 0x38ea_9ff8 = 0x1c7<<21 | 0x0a9<<12 | 0xff8
    //   L2 index = VA[29:21] = 0x1c7 -> TTB + 0x1c7*8 = 0x10_0e38
    //   L3 index = VA[20:12] = 0x0a9 -> T1 + 0xa9*8   = 0x20_0548
    name: '4K T0SZ=34 -> L2', g: '4K', n: 30, start: 2, va: 0x38ea_9ff8n,
    descs: [0x10_0e38n, 0x20_0548n], iaBase: 0x38ea_9000n, pa: 0x8_7654_0ff8n,
  },
  {
    // 16K, T0SZ=16: n = 48, start 4 - floor(44/11) = 0; the L0 table has 2 entries (VA[47]).
    // VA 0xda52_47ff_fabc = 1<<47 | 0x5a5<<36 | 0x123<<25 | 0x7ff<<14 | 0x3abc
    //   L0 index = VA[47:47] = 1     -> TTB + 8        = 0x10_0008
    //   L1 index = VA[46:36] = 0x5a5 -> T1 + 0x5a5*8   = 0x20_2d28
    //   L2 index = VA[35:25] = 0x123 -> T2 + 0x123*8   = 0x30_0918
    //   L3 index = VA[24:14] = 0x7ff -> T3 + 0x7ff*8   = 0x40_3ff8;  PA = OA | 0x3abc
    name: '16K T0SZ=16 -> L0', g: '16K', n: 48, start: 0, va: 0xda52_47ff_fabcn,
    descs: [0x10_0008n, 0x20_2d28n, 0x30_0918n, 0x40_3ff8n], iaBase: 0xda52_47ff_c000n, pa: 0x8_7654_3abcn,
  },
  {
    // 16K, T0SZ=17: n = 47, start 4 - floor(43/11) = 1.
    // VA 0x7e10_0300_0010 = 0x7e1<<36 | 0x001<<25 | 0x400<<14 | 0x10
    //   L1 index = VA[46:36] = 0x7e1 -> TTB + 0x7e1*8 = 0x10_3f08
    //   L2 index = VA[35:25] = 0x001 -> T1 + 8        = 0x20_0008
    //   L3 index = VA[24:14] = 0x400 -> T2 + 0x400*8  = 0x30_2000
    name: '16K T0SZ=17 -> L1', g: '16K', n: 47, start: 1, va: 0x7e10_0300_0010n,
    descs: [0x10_3f08n, 0x20_0008n, 0x30_2000n], iaBase: 0x7e10_0300_0000n, pa: 0x8_7654_0010n,
  },
  {
    // 16K, T0SZ=28: n = 36, start 4 - floor(32/11) = 2.
    // VA 0xd_a6ad_a000 = 0x6d3<<25 | 0x2b6<<14 | 0x2000
    //   L2 index = VA[35:25] = 0x6d3 -> TTB + 0x6d3*8 = 0x10_3698
    //   L3 index = VA[24:14] = 0x2b6 -> T1 + 0x2b6*8  = 0x20_15b0
    name: '16K T0SZ=28 -> L2', g: '16K', n: 36, start: 2, va: 0xd_a6ad_a000n,
    descs: [0x10_3698n, 0x20_15b0n], iaBase: 0xd_a6ad_8000n, pa: 0x8_7654_2000n,
  },
  {
    // 16K, T0SZ=39: n = 25, start 4 - floor(21/11) = 3.
    // VA 0x1ea_5234 = 0x7a9<<14 | 0x1234:  L3 index = VA[24:14] = 0x7a9 -> TTB + 0x7a9*8 = 0x10_3d48
    name: '16K T0SZ=39 -> L3', g: '16K', n: 25, start: 3, va: 0x1ea_5234n,
    descs: [0x10_3d48n], iaBase: 0x1ea_4000n, pa: 0x8_7654_1234n,
  },
  {
    // 64K, T0SZ=16: n = 48, start 4 - floor(44/13) = 1; the L1 table has 64 entries (VA[47:42]).
    // VA 0xb757_8f0f_fedc = 0x2d<<42 | 0x1abc<<29 | 0x0f0f<<16 | 0xfedc
    //   L1 index = VA[47:42] = 0x2d   -> TTB + 0x2d*8   = 0x10_0168
    //   L2 index = VA[41:29] = 0x1abc -> T1 + 0x1abc*8  = 0x20_d5e0
    //   L3 index = VA[28:16] = 0x0f0f -> T2 + 0xf0f*8   = 0x30_7878;  PA = OA | 0xfedc
    name: '64K T0SZ=16 -> L1', g: '64K', n: 48, start: 1, va: 0xb757_8f0f_fedcn,
    descs: [0x10_0168n, 0x20_d5e0n, 0x30_7878n], iaBase: 0xb757_8f0f_0000n, pa: 0x8_7654_fedcn,
  },
  {
    // 64K, T0SZ=22: n = 42, start 4 - floor(38/13) = 2.
    // VA 0x3ff_e123_0008 = 0x1fff<<29 | 0x0123<<16 | 0x8
    //   L2 index = VA[41:29] = 0x1fff -> TTB + 0x1fff*8 = 0x10_fff8
    //   L3 index = VA[28:16] = 0x0123 -> T1 + 0x123*8   = 0x20_0918
    name: '64K T0SZ=22 -> L2', g: '64K', n: 42, start: 2, va: 0x3ff_e123_0008n,
    descs: [0x10_fff8n, 0x20_0918n], iaBase: 0x3ff_e123_0000n, pa: 0x8_7654_0008n,
  },
  {
    // 64K, T0SZ=35: n = 29, start 4 - floor(25/13) = 3.
    // VA 0x1a2b_8000 = 0x1a2b<<16 | 0x8000:  L3 index = VA[28:16] = 0x1a2b -> TTB + 0x1a2b*8 = 0x10_d158
    name: '64K T0SZ=35 -> L3', g: '64K', n: 29, start: 3, va: 0x1a2b_8000n,
    descs: [0x10_d158n], iaBase: 0x1a2b_0000n, pa: 0x8_7654_8000n,
  },
];

/** Descriptors for a case: table descriptors to T1, T2, T3 in turn, then the page. */
function chain(descs: readonly bigint[], leaf: bigint): [bigint, bigint][] {
  const next = [T1, T2, T3];
  return descs.map((a, i) => [a, i === descs.length - 1 ? leaf : next[i]! | TABLE]);
}

describe('walk: stage 1, every granule and start level', () => {
  it.each(S1_CASES)('$name', (c) => {
    // The start level the CD decode would choose for this T0SZ agrees with the table in smmuv3-facts §6.1.
    expect(stage1StartLevel(GRANULES[c.g], c.n)).toBe(c.start);
    const leaf = OA | S1_PAGE;
    const r = mapReader(chain(c.descs, leaf));
    const out = walk(s1(c.g, c.n, c.start), r.read, c.va);
    expect(r.reads).toEqual(c.descs);
    const shift = GRANULES[c.g].shift;
    expect(out.result).toEqual({
      stage: 1, level: 3, sizeShift: shift, iaBase: c.iaBase, oaBase: OA, desc: leaf,
      descAddr: c.descs[c.descs.length - 1], attrs: NO_TABLE_ATTRS,
    });
    const t = out.result as Translation;
    expect(t.oaBase | (c.va & ((1n << BigInt(shift)) - 1n))).toBe(c.pa);
    // One step per table descriptor, with the next-level table it points to.
    expect(out.steps.map((s) => [s.level, s.next])).toEqual(c.descs.slice(0, -1).map((_, i) => [c.start + i, [T1, T2, T3][i]]));
  });

  it('reports F_TRANSLATION at the level of the first invalid descriptor (bit 0 = 0)', () => {
    // 4K L0 case, with the L2 descriptor (0x30_0888) left as 0x2 (bit 0 clear: invalid, bits [63:1] ignored).
    const c = S1_CASES[0]!;
    const r = mapReader([...chain(c.descs, OA | S1_PAGE)]);
    r.mem.set(0x30_0888n, 0x2n | 0xffff_f000n);
    const out = walk(s1('4K', 48, 0), r.read, c.va);
    expect(out.result).toEqual({ fault: 'F_TRANSLATION', stage: 1, class: 'IN', level: 2 });
    expect(r.reads).toEqual([0x10_0d28n, 0x20_0618n, 0x30_0888n]);
  });

  it('passes a fault returned by the reader up unchanged (e.g. a stage-2 fault met fetching a descriptor)', () => {
    const c = S1_CASES[1]!; // 4K L1: L1 0x10_0f80, L2 0x20_0010, L3 0x30_0aa8
    const f: WalkFault = { fault: 'F_TRANSLATION', stage: 2, class: 'TT', ipa: 0x20_0010n, level: 3 };
    const mem = new Map(chain(c.descs, OA | S1_PAGE));
    const read: DescriptorReader = (a) => (a === 0x20_0010n ? f : mem.get(a) ?? 0n);
    const out = walk(s1('4K', 39, 1), read, c.va);
    expect(out.result).toBe(f);
    expect(out.steps).toHaveLength(1);
  });

  it('resumes from a walk-cache start (level, table, attrs) and reads only the lower levels', () => {
    const c = S1_CASES[0]!;
    const r = mapReader(chain(c.descs, OA | S1_PAGE));
    const attrs: TableAttrs = { apTable: 2, uxnTable: true, pxnTable: false };
    const out = walk(s1('4K', 48, 0), r.read, c.va, { level: 2, table: T2, attrs });
    // L2 index 0x111 -> T2 + 0x888; L3 index 0x1ff -> T3 + 0xff8.
    expect(r.reads).toEqual([0x30_0888n, 0x40_0ff8n]);
    expect((out.result as Translation).attrs).toEqual(attrs);
  });
});

// ---------------------------------------------------------------------------
// Blocks.

describe('walk: block descriptors', () => {
  it('4K level-1 block (1 GiB): PA = OA[47:30] | VA[29:0]', () => {
    // VA 0xd2b0_e23f_fabc: L0 index 0x1a5 (0x10_0d28) -> table T1; L1 index 0x0c3 (0x20_0618) -> block.
    // VA[29:0] = 0x223f_fabc; block OA 0x40_0000_0000 (1 GiB aligned) -> PA 0x40_223f_fabc.
    const r = mapReader([[0x10_0d28n, T1 | TABLE], [0x20_0618n, 0x40_0000_0000n | S1_BLOCK]]);
    const out = walk(s1('4K', 48, 0), r.read, 0xd2b0_e23f_fabcn);
    expect(out.result).toMatchObject({ level: 1, sizeShift: 30, iaBase: 0xd2b0_c000_0000n, oaBase: 0x40_0000_0000n, descAddr: 0x20_0618n });
    expect(r.reads).toEqual([0x10_0d28n, 0x20_0618n]);
  });

  it('4K level-2 block (2 MiB): PA = OA[47:21] | VA[20:0]', () => {
    // L2 index 0x111 (0x30_0888) -> block at 0x1_2340_0000 (0x1_2340_0000 % 2^21 = 0); VA[20:0] = 0x1f_fabc.
    const r = mapReader([[0x10_0d28n, T1 | TABLE], [0x20_0618n, T2 | TABLE], [0x30_0888n, 0x1_2340_0000n | S1_BLOCK]]);
    const out = walk(s1('4K', 48, 0), r.read, 0xd2b0_e23f_fabcn);
    expect(out.result).toMatchObject({ level: 2, sizeShift: 21, iaBase: 0xd2b0_e220_0000n, oaBase: 0x1_2340_0000n });
    const t = out.result as Translation;
    expect(t.oaBase | (0xd2b0_e23f_fabcn & 0x1f_ffffn)).toBe(0x1_235f_fabcn);
  });

  it('16K level-2 block (32 MiB): PA = OA[47:25] | VA[24:0]', () => {
    // VA 0xda52_47ff_fabc: L0 idx 1 (0x10_0008), L1 idx 0x5a5 (0x20_2d28), L2 idx 0x123 (0x30_0918) -> block 0x2_0200_0000.
    // VA[24:0] = 0x1ff_fabc -> PA 0x2_03ff_fabc.
    const r = mapReader([[0x10_0008n, T1 | TABLE], [0x20_2d28n, T2 | TABLE], [0x30_0918n, 0x2_0200_0000n | S1_BLOCK]]);
    const out = walk(s1('16K', 48, 0), r.read, 0xda52_47ff_fabcn);
    expect(out.result).toMatchObject({ level: 2, sizeShift: 25, iaBase: 0xda52_4600_0000n, oaBase: 0x2_0200_0000n });
    expect((out.result as Translation).oaBase | (0xda52_47ff_fabcn & 0x1ff_ffffn)).toBe(0x2_03ff_fabcn);
  });

  it('64K level-2 block (512 MiB): PA = OA[47:29] | VA[28:0]', () => {
    // VA 0xb757_8f0f_fedc: L1 idx 0x2d (0x10_0168), L2 idx 0x1abc (0x20_d5e0) -> block 0x3_2000_0000.
    // VA[28:0] = 0x0f0f_fedc -> PA 0x3_2f0f_fedc.
    const r = mapReader([[0x10_0168n, T1 | TABLE], [0x20_d5e0n, 0x3_2000_0000n | S1_BLOCK]]);
    const out = walk(s1('64K', 48, 1), r.read, 0xb757_8f0f_fedcn);
    expect(out.result).toMatchObject({ level: 2, sizeShift: 29, iaBase: 0xb757_8000_0000n, oaBase: 0x3_2000_0000n });
    expect((out.result as Translation).oaBase | (0xb757_8f0f_fedcn & 0x1fff_ffffn)).toBe(0x3_2f0f_fedcn);
  });

  // Arm ARM D8.3 R KRMJZ: bits[1:0]=0b01 at a level that does not support blocks is reserved -> Translation fault
  // at that level (vmsa-notes §6.2).  Blocks without DS/LPA: 4K L1/L2, 16K L2, 64K L2 (vmsa-notes §6.1).
  it.each([
    { name: '4K level 0 (512 GiB block needs DS)', g: '4K' as const, n: 48, start: 0, va: 0xd2b0_e23f_fabcn, pre: [] as [bigint, bigint][], at: 0x10_0d28n, level: 0 },
    { name: '16K level 0', g: '16K' as const, n: 48, start: 0, va: 0xda52_47ff_fabcn, pre: [] as [bigint, bigint][], at: 0x10_0008n, level: 0 },
    { name: '16K level 1 (64 GiB block needs DS)', g: '16K' as const, n: 48, start: 0, va: 0xda52_47ff_fabcn, pre: [[0x10_0008n, T1 | TABLE]] as [bigint, bigint][], at: 0x20_2d28n, level: 1 },
    { name: '64K level 1 (4 TiB block needs LPA)', g: '64K' as const, n: 48, start: 1, va: 0xb757_8f0f_fedcn, pre: [] as [bigint, bigint][], at: 0x10_0168n, level: 1 },
  ])('a block descriptor at $name is F_TRANSLATION', (c) => {
    const r = mapReader([...c.pre, [c.at, 0x40_0000_0000n | S1_BLOCK]]);
    const out = walk(s1(c.g, c.n, c.start), r.read, c.va);
    expect(out.result).toEqual({ fault: 'F_TRANSLATION', stage: 1, class: 'IN', level: c.level });
  });

  // Level 3 with bits[1:0]=0b01: reserved, treated as invalid (vmsa-notes §6.2).
  it.each(['4K', '16K', '64K'] as const)('%s level 3 with bits[1:0]=0b01 is F_TRANSLATION', (g) => {
    const c = S1_CASES.find((x) => x.g === g && x.start === 3) ?? S1_CASES.find((x) => x.g === g)!;
    const r = mapReader(chain(c.descs, OA | S1_BLOCK));
    const out = walk(s1(g, c.n, c.start), r.read, c.va);
    expect(out.result).toEqual({ fault: 'F_TRANSLATION', stage: 1, class: 'IN', level: 3 });
  });

  it('a stage-2 block at 4K level 1 translates (blocks are allowed at the same levels at stage 2)', () => {
    // Stage 2, 4K, start L1, n=39: IPA 0x55_5540_1789, L1 index IPA[38:30] = 0x155 -> 0x100_0000 + 0x155*8 = 0x100_0aa8.
    const r = mapReader([[0x100_0aa8n, 0x80_4000_0000n | 0x7fdn]]); // block: [1:0]=0b01, S2AP=11, AF
    const out = walk(s2('4K', 39, 1, 1), r.read, 0x55_5540_1789n);
    expect(out.result).toMatchObject({ stage: 2, level: 1, sizeShift: 30, oaBase: 0x80_4000_0000n, iaBase: 0x55_4000_0000n });
  });
});

// ---------------------------------------------------------------------------
// Stage 2 concatenated start tables.

describe('walk: stage 2 concatenated start tables (index = IPA[n-1:k])', () => {
  it('4K, start L1, n=40 (T0SZ=24): 2 tables; IPA[39]=1 selects the second', () => {
    // IPA 0x80_4020_3abc: L1 index = IPA[39:30] = 0x201 -> table 1 (0x201>>9), entry 1 -> 0x100_0000 + 0x201*8 = 0x100_1008
    //   L2 index = IPA[29:21] = 0x001 -> T1 + 8 = 0x20_0008;  L3 index = IPA[20:12] = 0x003 -> T2 + 0x18 = 0x30_0018
    const r = mapReader([[0x100_1008n, T1 | TABLE], [0x20_0008n, T2 | TABLE], [0x30_0018n, OA | S2_PAGE]]);
    const out = walk(s2('4K', 40, 1, 2), r.read, 0x80_4020_3abcn);
    expect(r.reads).toEqual([0x100_1008n, 0x20_0008n, 0x30_0018n]);
    expect(out.result).toMatchObject({ stage: 2, level: 3, oaBase: OA, iaBase: 0x80_4020_3000n });
  });

  it('4K, start L1, n=42 (T0SZ=22): 8 tables; IPA[41:39]=5 selects the sixth', () => {
    // IPA 0x2a3_5e10_fdef: L1 index = IPA[41:30] = 0xa8d -> table 5 (0xa8d>>9), entry 0x8d
    //   -> 0x100_0000 + 5*0x1000 + 0x8d*8 = 0x100_5468
    //   L2 index = IPA[29:21] = 0x0f0 -> T1 + 0x780 = 0x20_0780;  L3 index = IPA[20:12] = 0x10f -> T2 + 0x878 = 0x30_0878
    const r = mapReader([[0x100_5468n, T1 | TABLE], [0x20_0780n, T2 | TABLE], [0x30_0878n, OA | S2_PAGE]]);
    const out = walk(s2('4K', 42, 1, 8), r.read, 0x2a3_5e10_fdefn);
    expect(r.reads).toEqual([0x100_5468n, 0x20_0780n, 0x30_0878n]);
    expect(out.result).toMatchObject({ level: 3, oaBase: OA });
  });

  it('16K, start L3, n=29 (T0SZ=35): 16 tables; IPA[28:25]=8 selects the ninth', () => {
    // IPA 0x10c8_4100: L3 index = IPA[28:14] = 0x4321 -> table 8 (0x4321>>11), entry 0x321
    //   -> 0x100_0000 + 8*0x4000 + 0x321*8 = 0x102_1908
    const r = mapReader([[0x102_1908n, OA | S2_PAGE]]);
    const out = walk(s2('16K', 29, 3, 16), r.read, 0x10c8_4100n);
    expect(r.reads).toEqual([0x102_1908n]);
    expect(out.result).toMatchObject({ level: 3, sizeShift: 14, oaBase: OA, iaBase: 0x10c8_4000n });
  });

  it('64K, start L2, n=46 (T0SZ=18): 16 tables; IPA[45:42]=9 selects the tenth', () => {
    // IPA 0x2468_adef_2000: L2 index = IPA[45:29] = 0x12345 -> table 9 (0x12345>>13), entry 0x345
    //   -> 0x100_0000 + 9*0x1_0000 + 0x345*8 = 0x109_1a28;  L3 index = IPA[28:16] = 0x0def -> T1 + 0x6f78 = 0x20_6f78
    const r = mapReader([[0x109_1a28n, T1 | TABLE], [0x20_6f78n, OA | S2_PAGE]]);
    const out = walk(s2('64K', 46, 2, 16), r.read, 0x2468_adef_2000n);
    expect(r.reads).toEqual([0x109_1a28n, 0x20_6f78n]);
    expect(out.result).toMatchObject({ level: 3, sizeShift: 16, oaBase: OA });
  });

  it('stage-2 table descriptors carry no hierarchical attributes (bits [62:59] are RES0 at stage 2)', () => {
    // Same as the 4K n=40 case with APTable/UXNTable/PXNTable bits set in the table descriptors.
    const hier = 0xfn << 59n;
    const r = mapReader([[0x100_1008n, T1 | TABLE | hier], [0x20_0008n, T2 | TABLE | hier], [0x30_0018n, OA | S2_PAGE]]);
    const out = walk(s2('4K', 40, 1, 2, { had: false }), r.read, 0x80_4020_3abcn);
    expect((out.result as Translation).attrs).toEqual(NO_TABLE_ATTRS);
  });
});

// ---------------------------------------------------------------------------
// Hierarchical attributes.

describe('walk: hierarchical attributes from table descriptors', () => {
  const c = S1_CASES[0]!; // 4K L0: 0x10_0d28 (L0), 0x20_0618 (L1), 0x30_0888 (L2), 0x40_0ff8 (L3)
  const APT0 = 1n << 61n, APT1 = 1n << 62n, UXNT = 1n << 60n, PXNT = 1n << 59n;
  const entries = (): [bigint, bigint][] => [
    [0x10_0d28n, T1 | TABLE | APT0], // APTable = 0b01
    [0x20_0618n, T2 | TABLE | PXNT],
    [0x30_0888n, T3 | TABLE | APT1 | UXNT], // APTable = 0b10
    [0x40_0ff8n, OA | S1_PAGE],
  ];

  it('accumulate over levels (each level can only remove permissions)', () => {
    const out = walk(s1('4K', 48, 0), mapReader(entries()).read, c.va);
    expect((out.result as Translation).attrs).toEqual({ apTable: 3, uxnTable: true, pxnTable: true });
    expect(out.steps.map((s) => s.attrs)).toEqual([
      { apTable: 1, uxnTable: false, pxnTable: false },
      { apTable: 1, uxnTable: false, pxnTable: true },
      { apTable: 3, uxnTable: true, pxnTable: true },
    ]);
  });

  it('are ignored with HAD (CD.HADx=1)', () => {
    const out = walk(s1('4K', 48, 0, { had: true }), mapReader(entries()).read, c.va);
    expect((out.result as Translation).attrs).toEqual(NO_TABLE_ATTRS);
  });
});

// ---------------------------------------------------------------------------
// Address size, access flag, priority.

describe('walk: address size faults', () => {
  const c = S1_CASES[1]!; // 4K L1: L1 0x10_0f80 -> T1, L2 0x20_0010 -> T2, L3 0x30_0aa8

  it('a table descriptor pointing beyond the output size faults at the table descriptor level', () => {
    // IPS = 32 bits: the L2 table descriptor points at 0x1_0000_0000 >= 2^32.
    const r = mapReader([[0x10_0f80n, T1 | TABLE], [0x20_0010n, 0x1_0000_0000n | TABLE]]);
    const out = walk(s1('4K', 39, 1, { outputBits: 32 }), r.read, c.va);
    expect(out.result).toEqual({ fault: 'F_ADDR_SIZE', stage: 1, class: 'IN', level: 2 });
    expect(r.reads).toEqual([0x10_0f80n, 0x20_0010n]);
  });

  it('a page output beyond the output size faults at level 3; just inside it does not', () => {
    const over = walk(s1('4K', 39, 1, { outputBits: 32 }), mapReader(chain(c.descs, 0x1_0000_0000n | S1_PAGE)).read, c.va);
    expect(over.result).toEqual({ fault: 'F_ADDR_SIZE', stage: 1, class: 'IN', level: 3 });
    // 0xffff_f000 is the last 4K page below 2^32.
    const inside = walk(s1('4K', 39, 1, { outputBits: 32 }), mapReader(chain(c.descs, 0xffff_f000n | S1_PAGE)).read, c.va);
    expect(inside.result).toMatchObject({ level: 3, oaBase: 0xffff_f000n });
  });

  it('applies at stage 2 against the S2PS size (40 bits)', () => {
    // 4K start L1 n=39: IPA 0x55_5540_1789 -> L1 0x100_0aa8 -> block at 0x100_0000_0000 = 2^40.
    const r = mapReader([[0x100_0aa8n, 0x100_0000_0000n | 0x7fdn]]);
    const out = walk(s2('4K', 39, 1, 1, { outputBits: 40 }), r.read, 0x55_5540_1789n);
    expect(out.result).toEqual({ fault: 'F_ADDR_SIZE', stage: 2, class: 'IN', level: 1 });
  });

  it('descriptor bits [51:48] are not address bits with a 48-bit PA (no fault, not part of the output)', () => {
    // Arm ARM R QGLQX: OA[51:48] = 0 without LPA/DS; bit 51 is DBM in a page, IGNORED in a table (vmsa-notes §5.2).
    const hi = 0xfn << 48n;
    const r = mapReader([[0x10_0f80n, T1 | TABLE | hi], [0x20_0010n, T2 | TABLE | hi], [0x30_0aa8n, OA | S1_PAGE | hi]]);
    const out = walk(s1('4K', 39, 1), r.read, c.va);
    expect(r.reads).toEqual([0x10_0f80n, 0x20_0010n, 0x30_0aa8n]); // the tables at T1/T2, not T1|2^48...
    expect(out.result).toMatchObject({ level: 3, oaBase: OA, desc: OA | S1_PAGE | hi });
  });

  it('F_TRANSLATION (invalid) has priority over F_ADDR_SIZE in the same descriptor', () => {
    // Bit 0 clear with an out-of-range address: the descriptor is invalid first.
    const r = mapReader([[0x10_0f80n, T1 | TABLE], [0x20_0010n, 0x1_0000_0000n | 0x2n]]);
    const out = walk(s1('4K', 39, 1, { outputBits: 32 }), r.read, c.va);
    expect(out.result).toEqual({ fault: 'F_TRANSLATION', stage: 1, class: 'IN', level: 2 });
  });
});

describe('walk: access flag', () => {
  const c = S1_CASES[1]!;
  const noAf = (OA | S1_PAGE) & ~AF;

  it('AF=0 in the leaf raises F_ACCESS at the leaf level', () => {
    const out = walk(s1('4K', 39, 1), mapReader(chain(c.descs, noAf)).read, c.va);
    expect(out.result).toEqual({ fault: 'F_ACCESS', stage: 1, class: 'IN', level: 3 });
  });

  it('AF=0 in a block raises F_ACCESS at the block level', () => {
    // 4K L1 n=39: L1 0x10_0f80 -> T1; L2 index 0x002 (0x20_0010) = 2 MiB block with AF=0.
    const r = mapReader([[0x10_0f80n, T1 | TABLE], [0x20_0010n, (0x1_2340_0000n | S1_BLOCK) & ~AF]]);
    expect(walk(s1('4K', 39, 1), r.read, c.va).result).toEqual({ fault: 'F_ACCESS', stage: 1, class: 'IN', level: 2 });
  });

  it('AFFD treats AF as 1 (no fault); table descriptors never raise F_ACCESS', () => {
    // The table descriptors in chain() have bit 10 clear: they are not checked for AF (vmsa-notes §4.1).
    const out = walk(s1('4K', 39, 1, { affd: true }), mapReader(chain(c.descs, noAf)).read, c.va);
    expect(out.result).toMatchObject({ level: 3, oaBase: OA });
  });

  it('S2AFFD does the same at stage 2; without it stage 2 raises F_ACCESS', () => {
    const entries: [bigint, bigint][] = [[0x100_0aa8n, (0x80_4000_0000n | 0x7fdn) & ~AF]];
    expect(walk(s2('4K', 39, 1, 1), mapReader(entries).read, 0x55_5540_1789n).result)
      .toEqual({ fault: 'F_ACCESS', stage: 2, class: 'IN', level: 1 });
    expect(walk(s2('4K', 39, 1, 1, { affd: true }), mapReader(entries).read, 0x55_5540_1789n).result)
      .toMatchObject({ level: 1, oaBase: 0x80_4000_0000n });
  });

  it('F_ADDR_SIZE has priority over F_ACCESS in the same leaf', () => {
    const out = walk(s1('4K', 39, 1, { outputBits: 32 }), mapReader(chain(c.descs, (0x1_0000_0000n | S1_PAGE) & ~AF)).read, c.va);
    expect(out.result).toEqual({ fault: 'F_ADDR_SIZE', stage: 1, class: 'IN', level: 3 });
  });
});

// ---------------------------------------------------------------------------
// Property: the walk reads IA[min(n, shift+s)-1 : shift] at every level (independent index computation).

describe('walk: property over granule, T0SZ and VA', () => {
  // Start level by T0SZ, from the table in smmuv3-facts §6.1 (no DS, no TTST).
  function startByTable(g: GranuleName, t0sz: number): number {
    if (g === '4K') return t0sz <= 24 ? 0 : t0sz <= 33 ? 1 : 2;
    if (g === '16K') return t0sz === 16 ? 0 : t0sz <= 27 ? 1 : t0sz <= 38 ? 2 : 3;
    return t0sz <= 21 ? 1 : t0sz <= 34 ? 2 : 3;
  }
  const GSHIFT = { '4K': 12, '16K': 14, '64K': 16 } as const;

  it('maps a random page and reads exactly the descriptors at TTB/table + 8*index', () => {
    fc.assert(fc.property(
      fc.constantFrom<GranuleName>('4K', '16K', '64K'),
      fc.integer({ min: 16, max: 39 }),
      fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
      fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }),
      (g, t0sz, rawVa, page) => {
        const n = 64 - t0sz;
        const va = rawVa & ((1n << BigInt(n)) - 1n);
        const gs = GSHIFT[g];
        const s = gs - 3;
        const start = startByTable(g, t0sz);
        expect(stage1StartLevel(GRANULES[g], n)).toBe(start);
        const tables = [0x10_0000n, T1, T2, T3];
        const oa = (page << 16n) & ((1n << 48n) - 1n);
        const entries: [bigint, bigint][] = [];
        const expected: bigint[] = [];
        for (let l = start, i = 0; l <= 3; l++, i++) {
          const lo = gs + (3 - l) * s;
          const hi = Math.min(n, lo + s); // exclusive top bit of this level's index
          const idx = (va >> BigInt(lo)) % (1n << BigInt(hi - lo));
          const addr = tables[i]! + idx * 8n;
          expected.push(addr);
          entries.push([addr, l === 3 ? oa | S1_PAGE : tables[i + 1]! | TABLE]);
        }
        const r = mapReader(entries);
        const out = walk(s1(g, n, start), r.read, va);
        expect(r.reads).toEqual(expected);
        expect(out.result).toMatchObject({ level: 3, oaBase: oa, iaBase: va - (va % (1n << BigInt(gs))) });
      },
    ), { seed: 42, numRuns: 200 });
  });
});

// ---------------------------------------------------------------------------
// Permissions.

function leafT(desc: bigint, attrs: TableAttrs = NO_TABLE_ATTRS, stage: 1 | 2 = 1): Translation {
  return { stage, level: 3, sizeShift: 12, iaBase: 0n, oaBase: OA, desc, descAddr: 0n, attrs };
}

function s1desc(o: { ap?: number; uxn?: boolean; pxn?: boolean } = {}): bigint {
  return OA | S1_PAGE | (BigInt(o.ap ?? 0) << 6n) | (o.pxn ? 1n << 53n : 0n) | (o.uxn ? 1n << 54n : 0n);
}

const PR: AccessKind = { write: false, instr: false, priv: true };
const PW: AccessKind = { write: true, instr: false, priv: true };
const PX: AccessKind = { write: false, instr: true, priv: true };
const UR: AccessKind = { write: false, instr: false, priv: false };
const UW: AccessKind = { write: true, instr: false, priv: false };
const UX: AccessKind = { write: false, instr: true, priv: false };
/** Order of the six-entry permission vectors below: privileged R W X, unprivileged R W X. */
const SIX = [PR, PW, PX, UR, UW, UX];

const EL1: Stage1PermContext = { regime: 'EL1', wxn: false, pan: false };

function perms1(t: Translation, ctx: Stage1PermContext = EL1): number[] {
  return SIX.map((a) => (stage1Permits(t, ctx, a) ? 1 : 0));
}

describe('stage1Permits: AP[2:1] x privilege x access (Arm ARM Table D8-63, vmsa-notes §1.1, §1.4, §1.7)', () => {
  //                      pR pW pX  uR uW uX
  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 1, 0, 0, 1] }, // EL1 RW; EL0 none, but EL0 may execute (execute needs no read)
    { ap: 0b01, s: '01', want: [1, 1, 0, 1, 1, 1] }, // EL0-writable -> not EL1-executable (implicit PXN, R VWLLR)
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 1] },
    { ap: 0b11, s: '11', want: [1, 0, 1, 1, 0, 1] },
  ])('AP=$s', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap })))).toEqual(want);
  });

  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 1, 0, 0, 0] },
    { ap: 0b01, s: '01', want: [1, 1, 0, 1, 1, 0] },
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 0] },
    { ap: 0b11, s: '11', want: [1, 0, 1, 1, 0, 0] },
  ])('UXN=1 removes only unprivileged execute (AP=$s)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap, uxn: true })))).toEqual(want);
  });

  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 0, 0, 0, 1] },
    { ap: 0b01, s: '01', want: [1, 1, 0, 1, 1, 1] },
    { ap: 0b10, s: '10', want: [1, 0, 0, 0, 0, 1] },
    { ap: 0b11, s: '11', want: [1, 0, 0, 1, 0, 1] },
  ])('PXN=1 removes only privileged execute (AP=$s)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap, pxn: true })))).toEqual(want);
  });

  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 0, 0, 0, 1] }, // EL1 can write -> EL1 cannot execute; EL0 cannot write -> EL0 may execute
    { ap: 0b01, s: '01', want: [1, 1, 0, 1, 1, 0] }, // both can write -> neither executes
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 1] }, // read-only: WXN has no effect
    { ap: 0b11, s: '11', want: [1, 0, 1, 1, 0, 1] },
  ])('WXN works per privilege level (AP=$s, vmsa-notes §1.5)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap })), { regime: 'EL1', wxn: true, pan: false })).toEqual(want);
  });

  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 1, 0, 0, 1] },
    { ap: 0b01, s: '01', want: [0, 0, 0, 1, 1, 1] }, // EL0-accessible: privileged data faults; pX already 0 (implicit PXN)
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 1] },
    { ap: 0b11, s: '11', want: [0, 0, 1, 1, 0, 1] }, // privileged instruction fetch is not affected by PAN (R PMTWB)
  ])('PAN blocks privileged data access to EL0-accessible pages, not fetches (AP=$s, vmsa-notes §1.6)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap })), { regime: 'EL1', wxn: false, pan: true })).toEqual(want);
  });

  it('a write with InD set is a data write (execute permission is not what is checked)', () => {
    // AP=10 read-only but executable: an instruction "write" is denied; AP=00 with PXN: the write is allowed.
    expect(stage1Permits(leafT(s1desc({ ap: 0b10 })), EL1, { write: true, instr: true, priv: true })).toBe(false);
    expect(stage1Permits(leafT(s1desc({ ap: 0b00, pxn: true, uxn: true })), EL1, { write: true, instr: true, priv: true })).toBe(true);
  });
});

describe('stage1Permits: APTable, UXNTable, PXNTable (Arm ARM Table D8-64, vmsa-notes §1.2, §1.3)', () => {
  const at = (apTable: number, uxnTable = false, pxnTable = false): TableAttrs => ({ apTable, uxnTable, pxnTable });

  it.each([
    { ap: 0b00, s: '00', want: [1, 1, 1, 0, 0, 1] },
    { ap: 0b01, s: '01', want: [1, 1, 1, 0, 0, 1] }, // EL0 loses RW, so the implicit PXN no longer applies (effective AP=00)
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 1] },
    { ap: 0b11, s: '11', want: [1, 0, 1, 0, 0, 1] },
  ])('APTable=01 (bit 61) removes EL0 data access (AP=$s)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap }), at(1)))).toEqual(want);
  });

  it.each([
    { ap: 0b00, s: '00', want: [1, 0, 1, 0, 0, 1] },
    { ap: 0b01, s: '01', want: [1, 0, 1, 1, 0, 1] }, // no EL0 write any more -> EL1 may execute
    { ap: 0b10, s: '10', want: [1, 0, 1, 0, 0, 1] },
    { ap: 0b11, s: '11', want: [1, 0, 1, 1, 0, 1] },
  ])('APTable=10 (bit 62) removes all writes (AP=$s)', ({ ap, want }) => {
    expect(perms1(leafT(s1desc({ ap }), at(2)))).toEqual(want);
  });

  it.each([0b00, 0b01, 0b10, 0b11])('APTable=11 leaves privileged read-only (AP=%i)', (ap) => {
    expect(perms1(leafT(s1desc({ ap }), at(3)))).toEqual([1, 0, 1, 0, 0, 1]);
  });

  it('APTable=01 also turns PAN off for a page AP[1] would have opened to EL0', () => {
    expect(perms1(leafT(s1desc({ ap: 0b01 }), at(1)), { regime: 'EL1', wxn: false, pan: true })).toEqual([1, 1, 1, 0, 0, 1]);
  });

  it('UXNTable removes unprivileged execute, PXNTable privileged execute', () => {
    expect(perms1(leafT(s1desc({ ap: 0b00 }), at(0, true, false)))).toEqual([1, 1, 1, 0, 0, 0]);
    expect(perms1(leafT(s1desc({ ap: 0b00 }), at(0, false, true)))).toEqual([1, 1, 0, 0, 0, 1]);
  });
});

describe('stage1Permits: single-privilege EL2 regime and EL2-E2H (vmsa-notes §2)', () => {
  const EL2: Stage1PermContext = { regime: 'EL2', wxn: false, pan: false };

  it('EL2: AP[1] is RES1 and every access is privileged (an unprivileged transaction gets privileged rights)', () => {
    expect(perms1(leafT(s1desc({ ap: 0b00 })), EL2)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(perms1(leafT(s1desc({ ap: 0b01 })), EL2)).toEqual([1, 1, 1, 1, 1, 1]); // no implicit PXN: no EL0
    expect(perms1(leafT(s1desc({ ap: 0b10 })), EL2)).toEqual([1, 0, 1, 1, 0, 1]);
    expect(perms1(leafT(s1desc({ ap: 0b11 })), EL2)).toEqual([1, 0, 1, 1, 0, 1]);
  });

  it('EL2: bit 54 is XN, bit 53 (PXN) is RES0, PAN is ignored', () => {
    expect(perms1(leafT(s1desc({ uxn: true })), EL2)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(perms1(leafT(s1desc({ pxn: true })), EL2)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(perms1(leafT(s1desc({ ap: 0b01 })), { regime: 'EL2', wxn: false, pan: true })).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('EL2: WXN makes writable pages non-executable; APTable[1] removes write, APTable[0] and PXNTable are RES0', () => {
    expect(perms1(leafT(s1desc({ ap: 0b00 })), { regime: 'EL2', wxn: true, pan: false })).toEqual([1, 1, 0, 1, 1, 0]);
    expect(perms1(leafT(s1desc({ ap: 0b10 })), { regime: 'EL2', wxn: true, pan: false })).toEqual([1, 0, 1, 1, 0, 1]);
    expect(perms1(leafT(s1desc(), { apTable: 2, uxnTable: false, pxnTable: false }), EL2)).toEqual([1, 0, 1, 1, 0, 1]);
    expect(perms1(leafT(s1desc(), { apTable: 1, uxnTable: false, pxnTable: true }), EL2)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(perms1(leafT(s1desc(), { apTable: 0, uxnTable: true, pxnTable: false }), EL2)).toEqual([1, 1, 0, 1, 1, 0]); // XNTable
  });

  it('EL2-E2H has two privilege levels, like EL1 (implicit PXN, PAN)', () => {
    expect(perms1(leafT(s1desc({ ap: 0b01 })), { regime: 'EL2-E2H', wxn: false, pan: false })).toEqual([1, 1, 0, 1, 1, 1]);
    expect(perms1(leafT(s1desc({ ap: 0b11 })), { regime: 'EL2-E2H', wxn: false, pan: true })).toEqual([0, 0, 1, 1, 0, 1]);
  });
});

describe('stage1Permits: exhaustive comparison with the Arm ARM direct-permission derivation', () => {
  /**
   * Reference written from AArch64.S1DirectBasePermissions as described in vmsa-notes §1-§2:
   * leaf AP -> (pr,pw,ur,uw); APTable removes; px = !(pxn|pxnTable|uw); ux = !(uxn|uxnTable);
   * PAN: pr,pw &= !(ur|uw) for data; WXN: x &= !w at the accessing level.
   */
  function ref(ap: number, uxn: boolean, pxn: boolean, a: TableAttrs, ctx: Stage1PermContext, acc: AccessKind): boolean {
    let pr: boolean, pw: boolean, ur: boolean, uw: boolean, px: boolean, ux: boolean;
    if (ctx.regime === 'EL2') {
      pr = true; pw = (ap & 2) === 0 && (a.apTable & 2) === 0;
      px = !(uxn || a.uxnTable);
      const x = px && !(ctx.wxn && pw);
      if (acc.instr && !acc.write) return x;
      return acc.write ? pw : pr;
    }
    // Table D8-63: AP[2:1] -> (PrivRead, PrivWrite, UnprivRead, UnprivWrite).
    const LEAF: readonly (readonly [boolean, boolean, boolean, boolean])[] = [
      [true, true, false, false], [true, true, true, true], [true, false, false, false], [true, false, true, false],
    ];
    [pr, pw, ur, uw] = LEAF[ap]!;
    if (a.apTable & 1) { ur = false; uw = false; }
    if (a.apTable & 2) { pw = false; uw = false; }
    px = !(pxn || a.pxnTable || uw);
    ux = !(uxn || a.uxnTable);
    const el0 = !acc.priv;
    if (acc.instr && !acc.write) return el0 ? ux && !(ctx.wxn && uw) : px && !(ctx.wxn && pw);
    if (!el0 && ctx.pan && (ur || uw)) return false;
    const [r, w] = el0 ? [ur, uw] : [pr, pw];
    return acc.write ? w : r;
  }

  it('agrees on all 4 AP x 2 UXN x 2 PXN x 4 APTable x 2 UXNTable x 2 PXNTable x 2 WXN x 2 PAN x 3 regimes x 6 accesses', () => {
    let checked = 0;
    const mismatches: string[] = [];
    for (const regime of ['EL1', 'EL2', 'EL2-E2H'] as const) {
      for (let ap = 0; ap < 4; ap++) for (const uxn of [false, true]) for (const pxn of [false, true]) {
        for (let apTable = 0; apTable < 4; apTable++) for (const uxnTable of [false, true]) for (const pxnTable of [false, true]) {
          for (const wxn of [false, true]) for (const pan of [false, true]) {
            const ctx: Stage1PermContext = { regime, wxn, pan };
            const attrs: TableAttrs = { apTable, uxnTable, pxnTable };
            const t = leafT(s1desc({ ap, uxn, pxn }), attrs);
            for (const acc of SIX) {
              checked++;
              const want = ref(ap, uxn, pxn, attrs, ctx, acc);
              if (stage1Permits(t, ctx, acc) !== want) mismatches.push(`${regime} ap=${ap} uxn=${uxn} pxn=${pxn} apt=${apTable} ${JSON.stringify(acc)} want ${want}`);
            }
          }
        }
      }
    }
    expect(checked).toBe(3 * 4 * 2 * 2 * 4 * 2 * 2 * 2 * 2 * 6);
    expect(mismatches).toEqual([]);
  });
});

describe('stage2Permits (Arm ARM Tables D8-76/77/78, vmsa-notes §3)', () => {
  function s2desc(s2ap: number, xn: number): bigint {
    return OA | 0x703n | (BigInt(s2ap) << 6n) | (BigInt(xn) << 53n);
  }
  const perms2 = (d: bigint, xnx: boolean): number[] => SIX.map((a) => (stage2Permits(leafT(d, NO_TABLE_ATTRS, 2), xnx, a) ? 1 : 0));

  //                         pR pW pX  uR uW uX
  it.each([
    { s2ap: 0b00, s: '00', want: [0, 0, 1, 0, 0, 1] }, // no data access; execute is separate (execute-only is valid)
    { s2ap: 0b01, s: '01', want: [1, 0, 1, 1, 0, 1] },
    { s2ap: 0b10, s: '10', want: [0, 1, 1, 0, 1, 1] }, // write-only
    { s2ap: 0b11, s: '11', want: [1, 1, 1, 1, 1, 1] },
  ])('S2AP=$s does not distinguish EL1 from EL0', ({ s2ap, want }) => {
    expect(perms2(s2desc(s2ap, 0), true)).toEqual(want);
    expect(perms2(s2desc(s2ap, 0), false)).toEqual(want);
  });

  it.each([
    { xn: 0b00, s: '00', want: [1, 1, 1, 1, 1, 1] },
    { xn: 0b01, s: '01', want: [1, 1, 0, 1, 1, 1] }, // not executable at EL1
    { xn: 0b10, s: '10', want: [1, 1, 0, 1, 1, 0] }, // not executable at all
    { xn: 0b11, s: '11', want: [1, 1, 1, 1, 1, 0] }, // not executable at EL0
  ])('XN[1:0]=$s with XNX', ({ xn, want }) => {
    expect(perms2(s2desc(0b11, xn), true)).toEqual(want);
  });

  it.each([
    { xn: 0b00, s: '00', want: [1, 1, 1, 1, 1, 1] },
    { xn: 0b01, s: '01', want: [1, 1, 1, 1, 1, 1] }, // bit 53 is RES0 without XNX
    { xn: 0b10, s: '10', want: [1, 1, 0, 1, 1, 0] },
    { xn: 0b11, s: '11', want: [1, 1, 0, 1, 1, 0] },
  ])('XN (bit 54 only) without XNX: XN[1:0]=$s', ({ xn, want }) => {
    expect(perms2(s2desc(0b11, xn), false)).toEqual(want);
  });

  it('an instruction fetch needs execute only, a write with InD is a data write', () => {
    const a = { write: true, instr: true, priv: true };
    expect(stage2Permits(leafT(s2desc(0b01, 0b00), NO_TABLE_ATTRS, 2), true, a)).toBe(false); // RO, executable: write denied
    expect(stage2Permits(leafT(s2desc(0b10, 0b10), NO_TABLE_ATTRS, 2), true, a)).toBe(true); // WO, XN: write allowed
    expect(stage2Permits(leafT(s2desc(0b00, 0b00), NO_TABLE_ATTRS, 2), true, PX)).toBe(true);
    expect(stage2Permits(leafT(s2desc(0b11, 0b10), NO_TABLE_ATTRS, 2), true, PR)).toBe(true); // XN does not block data reads
  });

  it('stage2IsDevice is MemAttr[3:2] (descriptor bits [5:4]) = 0b00', () => {
    const withMemAttr = (m: number): Translation => leafT(OA | 0x7c3n | (BigInt(m) << 2n), NO_TABLE_ATTRS, 2);
    expect([0b0000, 0b0001, 0b0010, 0b0011].map((m) => stage2IsDevice(withMemAttr(m)))).toEqual([true, true, true, true]);
    expect([0b0101, 0b1000, 0b1111, 0b0100].map((m) => stage2IsDevice(withMemAttr(m)))).toEqual([false, false, false, false]);
  });
});
