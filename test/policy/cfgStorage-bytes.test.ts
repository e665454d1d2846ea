/**
 * CfgStorage (src/policy/cfgStorage.ts) against a byte-level reference
 * written here from the C struct definitions (arm64 LP64, natural
 * alignment, little-endian): random sequences of member stores, every
 * member read back after each store.  Complements cfgStorage.test.ts (the
 * hand-picked aliasing cases) with every interleaving of stores.
 *
 *   struct arm_smmu_s2_cfg { u16 vmid; u64 vttbr; u64 vtcr; }
 *     vmid 0 (2), padding 2..7, vttbr 8 (8), vtcr 16 (8); size 24
 *   v5.0: struct arm_smmu_s1_cfg { __le64 *cdptr; dma_addr_t cdptr_dma; struct arm_smmu_ctx_desc cd; }
 *         with cd = { u16 asid; u64 ttbr; u64 tcr; u64 mair; } (8-aligned, at 16):
 *     cdptr 0, cdptr_dma 8, cd.asid 16 (2), padding 18..23, cd.ttbr 24, cd.tcr 32, cd.mair 40; size 48
 *   rfc-v3: bool nested_bypass, nested_abort after cdptr_dma; cd moves to the next 8-byte boundary:
 *     cdptr 0, cdptr_dma 8, nested_bypass 16 (1), nested_abort 17 (1), padding 18..23, cd.asid 24 (2),
 *     cd.ttbr 32, cd.tcr 40, cd.mair 48; size 56
 * In the union both structs start at byte 0.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CfgStorage } from '../../src/policy/cfgStorage.js';

type S1 = 'cdptr' | 'cdptr_dma' | 'nested_bypass' | 'nested_abort' | 'asid' | 'ttbr' | 'tcr' | 'mair';
type S2 = 'vmid' | 'vttbr' | 'vtcr';
type At = readonly [offset: number, size: number];

const S2_AT: Record<S2, At> = { vmid: [0, 2], vttbr: [8, 8], vtcr: [16, 8] };
const S1_AT: Record<'v5.0' | 'rfc-v3', Partial<Record<S1, At>>> = {
  'v5.0': { cdptr: [0, 8], cdptr_dma: [8, 8], asid: [16, 2], ttbr: [24, 8], tcr: [32, 8], mair: [40, 8] },
  'rfc-v3': {
    cdptr: [0, 8], cdptr_dma: [8, 8], nested_bypass: [16, 1], nested_abort: [17, 1],
    asid: [24, 2], ttbr: [32, 8], tcr: [40, 8], mair: [48, 8],
  },
};
const S1_NAMES: S1[] = ['cdptr', 'cdptr_dma', 'nested_bypass', 'nested_abort', 'asid', 'ttbr', 'tcr', 'mair'];
const S2_NAMES: S2[] = ['vmid', 'vttbr', 'vtcr'];

/** The reference: plain byte arrays (one shared array for the union), members outside the struct in a Map. */
class Ref {
  readonly s1: number[];
  readonly s2: number[];
  readonly outside = new Map<S1, bigint>();
  constructor(readonly layout: 'split' | 'union', readonly struct: 'v5.0' | 'rfc-v3') {
    this.s1 = new Array<number>(64).fill(0);
    this.s2 = layout === 'union' ? this.s1 : new Array<number>(24).fill(0);
  }
  private static put(buf: number[], [off, size]: At, v: bigint): void {
    for (let i = 0; i < size; i++) buf[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  }
  private static get(buf: number[], [off, size]: At): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) v |= BigInt(buf[off + i]!) << BigInt(8 * i);
    return v;
  }
  setS1(n: S1, v: bigint): void {
    const at = S1_AT[this.struct][n];
    if (at) Ref.put(this.s1, at, v);
    else this.outside.set(n, v);
  }
  getS1(n: S1): bigint {
    const at = S1_AT[this.struct][n];
    return at ? Ref.get(this.s1, at) : this.outside.get(n) ?? 0n;
  }
  setS2(n: S2, v: bigint): void { Ref.put(this.s2, S2_AT[n], v); }
  getS2(n: S2): bigint { return Ref.get(this.s2, S2_AT[n]); }
}

type Op = { side: 1; name: S1; value: bigint } | { side: 2; name: S2; value: bigint };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ side: fc.constant<1>(1), name: fc.constantFrom(...S1_NAMES), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
  fc.record({ side: fc.constant<2>(2), name: fc.constantFrom(...S2_NAMES), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
);

describe('CfgStorage against the byte reference (property)', () => {
  it.each([
    ['union', 'v5.0'], ['union', 'rfc-v3'], ['split', 'v5.0'], ['split', 'rfc-v3'],
  ] as const)('%s layout, %s struct: every member reads what the reference reads after every store', (layout, struct) => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
        const c = new CfgStorage(layout, struct);
        const r = new Ref(layout, struct);
        for (const op of ops) {
          if (op.side === 1) { c.setS1(op.name, op.value); r.setS1(op.name, op.value); } else { c.setS2(op.name, op.value); r.setS2(op.name, op.value); }
          expect(S1_NAMES.map((n) => c.getS1(n))).toEqual(S1_NAMES.map((n) => r.getS1(n)));
          expect(S2_NAMES.map((n) => c.getS2(n))).toEqual(S2_NAMES.map((n) => r.getS2(n)));
        }
      }),
      { seed: 1234, numRuns: 200 },
    );
  });

  it('the aliased pairs, read off the offsets: union only, and which bytes', () => {
    // Bytes shared by an s1 member and an s2 member, from the tables above.
    const overlaps = (struct: 'v5.0' | 'rfc-v3'): string[] => {
      const out: string[] = [];
      for (const [n1, a] of Object.entries(S1_AT[struct]) as [S1, At][]) {
        for (const [n2, b] of Object.entries(S2_AT) as [S2, At][]) {
          const lo = Math.max(a[0], b[0]), hi = Math.min(a[0] + a[1], b[0] + b[1]);
          if (lo < hi) out.push(`${n1}/${n2}@${lo}..${hi - 1}`);
        }
      }
      return out;
    };
    expect(overlaps('v5.0')).toEqual(['cdptr/vmid@0..1', 'cdptr_dma/vttbr@8..15', 'asid/vtcr@16..17']);
    expect(overlaps('rfc-v3')).toEqual(['cdptr/vmid@0..1', 'cdptr_dma/vttbr@8..15', 'nested_bypass/vtcr@16..16', 'nested_abort/vtcr@17..17']);
    // Each alias, stored through s1 with a distinct byte pattern, shows in s2 in the union layout and not in split.
    for (const struct of ['v5.0', 'rfc-v3'] as const) {
      for (const layout of ['union', 'split'] as const) {
        const c = new CfgStorage(layout, struct);
        for (const n of S1_NAMES) c.setS1(n, 0x0807_0605_0403_0201n);
        const want = layout === 'split'
          ? [0n, 0n, 0n]
          // vmid = cdptr[15:0] = 0x0201; vttbr = cdptr_dma; vtcr[15:0] = asid (v5.0, 0x0201) or the two flag
          // bytes 0x01, 0x01 (rfc-v3, 0x0101); vtcr bytes 18..23 are padding nobody stored: 0.
          : [0x0201n, 0x0807_0605_0403_0201n, struct === 'v5.0' ? 0x0201n : 0x0101n];
        expect([struct, layout, S2_NAMES.map((n) => c.getS2(n))]).toEqual([struct, layout, want]);
      }
    }
  });
});
