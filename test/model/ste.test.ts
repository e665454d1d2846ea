/**
 * The STE (IHI0070 §5.2): layout round trips, hand-computed doublewords,
 * every ILLEGAL rule interpretSte implements, the abort / bypass / invalid /
 * unsupported verdicts, and the C_BAD_STE records Smmu.translate writes.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { decodeEvent } from '../../src/model/events.js';
import { decode, encode, MASK64, reservedMasks, type Layout } from '../../src/model/fields.js';
import { GRANULES } from '../../src/model/granule.js';
import { EABT } from '../../src/model/memory.js';
import { DEFAULT_PROFILE, featuresOf, QEMU_72_PROFILE, type Features, type Profile } from '../../src/model/profiles.js';
import { decodeSte, interpretSte, STE_LAYOUT, steUsedFields, type SteField, type SteVerdict } from '../../src/model/ste.js';
import { EVTQ, makeEnv, STRTAB, writeSte, type Env } from '../helpers/env.js';

const DEF = featuresOf(DEFAULT_PROFILE);
const QEMU = featuresOf(QEMU_72_PROFILE);

type SteVals = Partial<Record<SteField, bigint | number>>;

function verdict(v: SteVals, features: Features = DEF, e2h = false): SteVerdict {
  return interpretSte(decodeSte(encode(STE_LAYOUT, v)), { features, e2h });
}

function feat(over: Partial<Features>): Features {
  return { ...DEF, ...over };
}

/** Assert an ILLEGAL verdict whose reason names the field. */
function expectIllegal(v: SteVerdict, mentions: string): void {
  expect(v.kind).toBe('illegal');
  expect((v as { reason: string }).reason).toContain(mentions);
}

/** A valid stage-1 STE: Config=0b101, one CD at 0x9000_0000. */
const S1: SteVals = { V: 1, Config: 5, S1ContextPtr: 0x9000_0000n };
/**
 * A valid stage-2 STE: 4K granule, S2T0SZ=24 (40-bit IPA), S2SL0=0b01 (start at level 1),
 * S2PS=0b101 (48 bits), AArch64 tables, S2R=1, VMID 5, tables at 0xa000_0000.
 */
const S2: SteVals = {
  V: 1, Config: 6, S2VMID: 5, S2T0SZ: 24, S2SL0: 1, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1,
  S2TTB: 0xa000_0000n,
};
const NESTED: SteVals = { ...S2, ...S1, Config: 7 };

/** Read the event record in slot `idx` of the event queue (EVENTQ_BASE = EVTQ, 32-byte records). */
function eventAt(env: Env, idx: number): bigint[] {
  const q = env.mem.readQwords(EVTQ + BigInt(32 * idx), 4);
  if (q === EABT) throw new Error('event queue read aborted');
  return q;
}

/** Arbitrary values for every field of a layout (in-place addresses have their low bits clear). */
function layoutValues(layout: Layout): fc.Arbitrary<Record<string, bigint>> {
  const rec: Record<string, fc.Arbitrary<bigint>> = {};
  for (const f of layout.fields) {
    rec[f.name] = fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n }).map((v) => (f.addr ? v << BigInt(f.lo) : v));
  }
  return fc.record(rec);
}

const qwords8 = fc.array(fc.bigInt({ min: 0n, max: MASK64 }), { minLength: 8, maxLength: 8 });

describe('STE layout round trips (fast-check, fixed seeds)', () => {
  it('decode(encode(values)) gives back every field value', () => {
    fc.assert(fc.property(layoutValues(STE_LAYOUT), (v) => {
      expect(decode(STE_LAYOUT, encode(STE_LAYOUT, v))).toEqual(v);
    }), { seed: 0x5e1, numRuns: 300 });
  });

  it('encode(decode(qwords)) gives back the doublewords with the reserved bits cleared', () => {
    const res = reservedMasks(STE_LAYOUT);
    fc.assert(fc.property(qwords8, (q) => {
      expect(encode(STE_LAYOUT, decode(STE_LAYOUT, q))).toEqual(q.map((x, i) => x & ~res[i]!));
    }), { seed: 0x5e2, numRuns: 300 });
  });

  it('interpretSte is total: any 512-bit image yields a verdict and never throws', () => {
    fc.assert(fc.property(qwords8, fc.boolean(), (q, e2h) => {
      const v = interpretSte(decodeSte(q), { features: DEF, e2h });
      expect(['invalid', 'illegal', 'unsupported', 'abort', 'bypass', 'translate']).toContain(v.kind);
      // V (DW0[0]) = 0 is always 'invalid'; V=1 with Config[2] (DW0[3]) = 0 is always 'abort'.
      if ((q[0]! & 1n) === 0n) expect(v.kind).toBe('invalid');
      else if ((q[0]! & 8n) === 0n) expect(v.kind).toBe('abort');
    }), { seed: 0x5e3, numRuns: 500 });
  });
});

describe('hand-computed STE doublewords', () => {
  it('a Linux-style stage-1 STE (4 CDs linear, S1DSS=substream0, WBRA ISH CD fetches, SHCFG=incoming)', () => {
    const q = encode(STE_LAYOUT, { ...S1, S1CDMax: 2, S1DSS: 2, S1CIR: 1, S1COR: 1, S1CSH: 3, SHCFG: 1 });
    // DW0 = V 1 | Config 0b101 << 1 (0xa) | S1ContextPtr 0x9000_0000 | S1CDMax 2 << 59 (0x1000_0000_0000_0000)
    //     = 0x1000_0000_9000_000b.
    // DW1 = S1DSS 2 | S1CIR 1<<2 | S1COR 1<<4 | S1CSH 3<<6 | SHCFG 1<<44 = 0x2+0x4+0x10+0xc0 + 0x1000_0000_0000.
    expect(q).toEqual([0x1000_0000_9000_000bn, 0x0000_1000_0000_00d6n, 0n, 0n, 0n, 0n, 0n, 0n]);
    expect(verdict({ ...S1, S1CDMax: 2, S1DSS: 2, S1CIR: 1, S1COR: 1, S1CSH: 3, SHCFG: 1 })).toEqual({
      kind: 'translate',
      s1: { contextPtr: 0x9000_0000n, cdMax: 2, fmt: 0, dss: 2, s1stalld: false, world: 'NS-EL1' },
      s2: undefined,
      vmid: 0,
    });
  });

  it('a stage-2 STE: DW0 = 0xd, DW2 = 0x040d_3558_0000_0005, DW3 = 0xa000_0000', () => {
    const q = encode(STE_LAYOUT, S2);
    // DW0 = V 1 | Config 0b110 << 1 (0xc) = 0xd.
    // DW2 = S2VMID 5 | S2T0SZ 24<<32 (0x18_0000_0000) | S2SL0 1<<38 (0x40_0000_0000)
    //     | S2IR0 1<<40 | S2OR0 1<<42 | S2SH0 3<<44 (0x3500_0000_0000)
    //     | S2PS 5<<48 (0x5_0000_0000_0000) | S2AA64 1<<51 (0x8_0000_0000_0000) | S2R 1<<58 (0x0400_0000_0000_0000)
    //     = 0x040d_3558_0000_0005.
    // DW3 = S2TTB in place = 0xa000_0000.
    expect(q).toEqual([0xdn, 0n, 0x040d_3558_0000_0005n, 0xa000_0000n, 0n, 0n, 0n, 0n]);
  });

  it('the stage-2 STE interprets as a 40-bit IPA walk from level 1 with two concatenated tables', () => {
    // n = 64 - 24 = 40; 4K S2SL0=0b01 -> level 1, level shift 30; one level-1 table resolves 9 bits (up to 39),
    // so 40 - 39 = 1 extra bit -> 2 concatenated tables of 4 KiB (8 KiB, aligned to 8 KiB).
    // S2TTB 0xa000_1000 has bit 12 set, below the 8 KiB start-table size: treated as zero.
    expect(verdict({ ...S2, S2TTB: 0xa000_1000n })).toEqual({
      kind: 'translate',
      s1: undefined,
      s2: {
        vmid: 5, granule: GRANULES['4K'], inputBits: 40, startLevel: 1, concat: 2, ttb: 0xa000_0000n,
        outputBits: 48, affd: false, ptw: false, record: true, stall: false,
      },
      vmid: 5,
    });
  });

  it('S2PS is capped at the OAS: S2PS=0b111 (56 bits) on a 48-bit OAS gives outputBits 48', () => {
    const v = verdict({ ...S2, S2PS: 7 });
    expect(v.kind === 'translate' && v.s2?.outputBits).toBe(48);
    // S2PS=0b010 (40 bits) is below the OAS and is used as is.
    const w = verdict({ ...S2, S2PS: 2 });
    expect(w.kind === 'translate' && w.s2?.outputBits).toBe(40);
  });
});

describe('V, Config: invalid, abort, bypass (§5.2 V, Config)', () => {
  it('V=0 is invalid whatever else the STE holds', () => {
    expect(verdict({ ...S1, V: 0 })).toEqual({ kind: 'invalid' });
    expect(verdict({ V: 0, Config: 4 })).toEqual({ kind: 'invalid' });
  });

  it.each([0, 1, 2, 3])('Config=0b%s (0b000 abort, 0b001-0b011 reserved, behave as abort) aborts and ignores the other fields', (c) => {
    // Fields that would be ILLEGAL in a translating STE: STRW=0b01, S2AA64=0, S1CDMax above SSIDSIZE.
    expect(verdict({ V: 1, Config: c, STRW: 1, S1CDMax: 31, S2TG: 3 })).toEqual({ kind: 'abort' });
  });

  it('Config=0b100 bypasses both stages and ignores the S1*/S2*/STRW fields', () => {
    expect(verdict({ V: 1, Config: 4, STRW: 1, S1CDMax: 31, S2TG: 3, S1STALLD: 1 })).toEqual({ kind: 'bypass' });
    // EATS is not checked for a bypass STE either (effective EATS is 0b00 there).
    expect(verdict({ V: 1, Config: 4, EATS: 3 })).toEqual({ kind: 'bypass' });
  });
});

describe('ILLEGAL STE rules (§5.2, §5.2.2)', () => {
  it('§5.2 Config: stage 1 enabled (0b101) without SMMU_IDR0.S1P', () => {
    expectIllegal(verdict(S1, feat({ s1p: false })), 'Config');
    expectIllegal(verdict(NESTED, feat({ s1p: false })), 'S1P');
  });

  it('§5.2 Config: stage 2 enabled (0b110, 0b111) without SMMU_IDR0.S2P (the qemu-7.2 profile)', () => {
    expectIllegal(verdict(S2, QEMU), 'Config');
    expectIllegal(verdict({ ...S2, Config: 7 }, QEMU), 'S2P');
    // Stage 1 alone is fine there.
    expect(verdict(S1, QEMU).kind).toBe('translate');
  });

  it('§5.2 EATS: 0b10 (split-stage) needs Config=0b111, S2S=0 and NS1ATS=0', () => {
    // Default profile: ATS=1 and NS1ATS=1, so 0b10 is ILLEGAL even on a nested STE.
    expectIllegal(verdict({ ...NESTED, EATS: 2 }), 'EATS');
    // Without NS1ATS, a stage-1-only STE still cannot use split-stage ATS.
    expectIllegal(verdict({ ...S1, EATS: 2 }, feat({ ns1ats: false })), 'EATS');
    // ... and the nested STE can.
    expect(verdict({ ...NESTED, EATS: 2 }, feat({ ns1ats: false })).kind).toBe('translate');
  });

  it('§5.2 EATS: 0b11 (full ATS with DPT checks) without DPT', () => {
    expectIllegal(verdict({ ...S1, EATS: 3 }), 'EATS');
  });

  it('§5.2 EATS: 0b01 with stage 2 and S2S=1', () => {
    // Also ILLEGAL for S2S=1 on this terminate-only profile, but the EATS rule is checked first.
    expectIllegal(verdict({ ...S2, EATS: 1, S2S: 1 }), 'EATS');
    expect(verdict({ ...S2, EATS: 1 }).kind).toBe('translate');
  });

  it('§5.2 EATS is RES0 and ignored when SMMU_IDR0.ATS=0 (qemu-7.2)', () => {
    expect(verdict({ ...S1, EATS: 3 }, QEMU).kind).toBe('translate');
  });

  it('§5.2 STRW: 0b01 and 0b11 are ILLEGAL for a stage-1-only STE with SMMU_IDR0.Hyp=1', () => {
    expectIllegal(verdict({ ...S1, STRW: 1 }), 'STRW');
    expectIllegal(verdict({ ...S1, STRW: 3 }), 'STRW=0b11');
  });

  it('§5.2 STRW selects NS-EL2 or NS-EL2-E2H by CR2.E2H; it is ignored with stage 2 and without Hyp', () => {
    const el2 = verdict({ ...S1, STRW: 2 }, DEF, false);
    expect(el2.kind === 'translate' && el2.s1?.world).toBe('NS-EL2');
    const e2h = verdict({ ...S1, STRW: 2 }, DEF, true);
    expect(e2h.kind === 'translate' && e2h.s1?.world).toBe('NS-EL2-E2H');
    // Config=0b111: STRW IGNORED, StreamWorld NS-EL1.
    const nested = verdict({ ...NESTED, STRW: 1 });
    expect(nested.kind === 'translate' && nested.s1?.world).toBe('NS-EL1');
    // qemu-7.2 has Hyp=0: STRW is RES0 and not checked.
    const q = verdict({ ...S1, STRW: 3 }, QEMU);
    expect(q.kind === 'translate' && q.s1?.world).toBe('NS-EL1');
  });

  it('§5.2 S2VMID: bits [15:8] non-zero without SMMU_IDR0.VMID16 when the VMID is used', () => {
    const noVmid16 = feat({ vmid16: false });
    expectIllegal(verdict({ ...S2, S2VMID: 0x100 }, noVmid16), 'S2VMID');
    // Stage-1-only NS-EL1 traffic is tagged with S2VMID when stage 2 is implemented.
    expectIllegal(verdict({ ...S1, S2VMID: 0x100 }, noVmid16), 'S2VMID');
    // Not used for an NS-EL2 stream (no VMID), nor when stage 2 is not implemented (qemu-7.2).
    expect(verdict({ ...S1, STRW: 2, S2VMID: 0x100 }, noVmid16).kind).toBe('translate');
    expect(verdict({ ...S1, S2VMID: 0x100 }, QEMU).kind).toBe('translate');
    // 0xff fits in 8 bits.
    expect(verdict({ ...S2, S2VMID: 0xff }, noVmid16).kind).toBe('translate');
  });

  it('§5.2 S1STALLD: 1 with SMMU_IDR0.STALL_MODEL != 0b00', () => {
    expectIllegal(verdict({ ...S1, S1STALLD: 1 }), 'S1STALLD'); // default STALL_MODEL = 0b01
    const ok = verdict({ ...S1, S1STALLD: 1 }, feat({ stallModel: 0 }));
    expect(ok.kind === 'translate' && ok.s1?.s1stalld).toBe(true);
  });

  it('§5.2 S1CDMax: above SMMU_IDR1.SSIDSIZE (20)', () => {
    expectIllegal(verdict({ ...S1, S1CDMax: 21 }), 'S1CDMax');
    const ok = verdict({ ...S1, S1CDMax: 20 });
    expect(ok.kind === 'translate' && ok.s1?.cdMax).toBe(20);
    // SSIDSIZE=0 (qemu-7.2): S1CDMax is ignored and the STE has one CD.
    const q = verdict({ ...S1, S1CDMax: 31, S1Fmt: 2, S1DSS: 1 }, QEMU);
    expect(q.kind === 'translate' && q.s1).toEqual({ contextPtr: 0x9000_0000n, cdMax: 0, fmt: 0, dss: 1, s1stalld: false, world: 'NS-EL1' });
  });

  it('§5.2 S1Fmt: a 2-level CD table (0b01, 0b10) without SMMU_IDR0.CD2L', () => {
    const noCd2l = feat({ cd2l: false });
    expectIllegal(verdict({ ...S1, S1CDMax: 8, S1Fmt: 1 }, noCd2l), 'S1Fmt');
    expectIllegal(verdict({ ...S1, S1CDMax: 8, S1Fmt: 2 }, noCd2l), 'CD2L');
    // S1Fmt is ignored when S1CDMax=0.
    expect(verdict({ ...S1, S1CDMax: 0, S1Fmt: 1 }, noCd2l).kind).toBe('translate');
    // 0b11 is reserved and behaves as linear.
    const r = verdict({ ...S1, S1CDMax: 8, S1Fmt: 3 });
    expect(r.kind === 'translate' && r.s1?.fmt).toBe(0);
  });

  it('§5.2 S1ContextPtr / §3.4.3: beyond the OAS (stage 2 off) or the IAS (stage 2 on), SMMUv3.1', () => {
    // OAS 36 bits, AArch32 tables supported -> IAS = MAX(40, 36) = 40.
    const f = feat({ oas: 36, ias: 40, ttfAArch32: true });
    // 0x10_0000_0000 = 2^36: one past the OAS.
    expectIllegal(verdict({ ...S1, S1ContextPtr: 0x10_0000_0000n }, f), 'S1ContextPtr');
    expect(verdict({ ...S1, S1ContextPtr: 0xf_ffff_ffc0n }, f).kind).toBe('translate');
    // Nested: the pointer is an IPA checked against the 40-bit IAS; 2^36 fits, 2^40 does not.
    const nested = { ...NESTED, S2PS: 1 }; // S2PS 36 bits; S2T0SZ=24 is the 40-bit minimum for IAS 40
    expect(verdict({ ...nested, S1ContextPtr: 0x10_0000_0000n }, f).kind).toBe('translate');
    expectIllegal(verdict({ ...nested, S1ContextPtr: 0x100_0000_0000n }, f), 'IAS');
    // SMMUv3.0 (AIDR minor 0) leaves it CONSTRAINED UNPREDICTABLE: not checked.
    expect(verdict({ ...S1, S1ContextPtr: 0x10_0000_0000n }, { ...f, archMinor: 0 }).kind).toBe('translate');
  });

  it('§5.2 S2S: 1 with STALL_MODEL=0b01 (terminate only)', () => {
    expectIllegal(verdict({ ...S2, S2S: 1 }), 'S2S');
  });

  it('§5.2 S2S: 0 with STALL_MODEL=0b10 (stall forced)', () => {
    expectIllegal(verdict(S2, feat({ stallModel: 2 })), 'S2S=0');
    expect(verdict({ ...S2, S2S: 1 }, feat({ stallModel: 2 })).kind).toBe('translate');
  });

  it('§5.2 S2AA64: 1 without AArch64 table support (SMMU_IDR0.TTF)', () => {
    expectIllegal(verdict(S2, feat({ ttfAArch64: false, ttfAArch32: true })), 'S2AA64');
  });

  it('§5.2 S2AA64: 0 without AArch32 table support; with it the STE is unsupported by the model', () => {
    expectIllegal(verdict({ ...S2, S2AA64: 0 }), 'S2AA64=0');
    const v = verdict({ ...S2, S2AA64: 0 }, feat({ ttfAArch32: true }));
    expect(v.kind).toBe('unsupported');
    expect((v as { reason: string }).reason).toContain('S2AA64=0');
  });

  it('§5.2 S2HA/S2HD: set with SMMU_IDR0.HTTU=0b00', () => {
    expectIllegal(verdict({ ...S2, S2HA: 1 }), 'S2HA');
    expectIllegal(verdict({ ...S2, S2HD: 1 }), 'S2HD');
  });

  it('§5.2 S2HD: 1 with SMMU_IDR0.HTTU=0b01 (access flag only)', () => {
    const af = feat({ httu: 1 });
    expectIllegal(verdict({ ...S2, S2HA: 1, S2HD: 1 }, af), 'S2HD');
    expect(verdict({ ...S2, S2HA: 1 }, af).kind).toBe('translate');
  });

  it('§5.2 S2TG: 0b11 is reserved', () => {
    expectIllegal(verdict({ ...S2, S2TG: 3 }), 'S2TG');
  });

  it('§5.2 S2TG: a granule SMMU_IDR5 does not advertise', () => {
    // 16K (S2TG=0b10), start level 2 for S2SL0=0b01, n=40: 40 - (25 + 11) = 4 extra bits -> 16 tables (consistent).
    expectIllegal(verdict({ ...S2, S2TG: 2 }, feat({ gran16k: false })), 'S2TG');
    expect(verdict({ ...S2, S2TG: 2 }).kind).toBe('translate');
  });

  it('§5.2 S2ENDI: against SMMU_IDR0.TTENDIAN (LE-only rejects 1, BE-only rejects 0, mixed takes both)', () => {
    expectIllegal(verdict({ ...S2, S2ENDI: 1 }), 'S2ENDI'); // default TTENDIAN = 0b10 (LE)
    expectIllegal(verdict(S2, feat({ ttendian: 3 })), 'S2ENDI=0');
    expect(verdict({ ...S2, S2ENDI: 1 }, feat({ ttendian: 0 })).kind).toBe('translate');
    expect(verdict(S2, feat({ ttendian: 0 })).kind).toBe('translate');
  });

  it('§5.2 S2T0SZ: outside [MAX(16, 64 - IAS), 39] (no STT)', () => {
    // IAS 48: minimum 16.  S2SL0=0b10 (level 0) keeps the start level consistent for n = 48, 49.
    expectIllegal(verdict({ ...S2, S2T0SZ: 40, S2SL0: 1 }), 'S2T0SZ=40');
    expectIllegal(verdict({ ...S2, S2T0SZ: 15, S2SL0: 2 }), 'S2T0SZ=15');
    expect(verdict({ ...S2, S2T0SZ: 16, S2SL0: 2 }).kind).toBe('translate');
    expect(verdict({ ...S2, S2T0SZ: 39, S2SL0: 0 }).kind).toBe('translate'); // n=25 from level 2 (k=21)
    // IAS 40 raises the minimum to 64 - 40 = 24.
    expectIllegal(verdict({ ...S2, S2T0SZ: 23, S2SL0: 1, S2PS: 2 }, feat({ oas: 40, ias: 40 })), 'S2T0SZ');
  });

  it('§5.2 S2SL0: 0b11 is reserved', () => {
    expectIllegal(verdict({ ...S2, S2SL0: 3 }), 'S2SL0');
  });

  it('§5.2 S2SL0: a start level inconsistent with S2T0SZ', () => {
    // n=40 from level 2 (shift 21): 40 - (21 + 9) = 10 extra bits > 4 (more than 16 tables).
    expectIllegal(verdict({ ...S2, S2SL0: 0 }), 'S2SL0=0');
    // n=39 from level 0 (shift 39): the level does not resolve any input bit.
    expectIllegal(verdict({ ...S2, S2T0SZ: 25, S2SL0: 2 }), 'S2SL0=2');
    // n=43 from level 1: 43 - 39 = 4 extra bits -> 16 tables, the most allowed.
    const v = verdict({ ...S2, S2T0SZ: 21 });
    expect(v.kind === 'translate' && v.s2?.concat).toBe(16);
    expectIllegal(verdict({ ...S2, S2T0SZ: 20 }), 'S2SL0'); // 5 extra bits
  });

  it('§5.2 S2TTB: beyond the effective S2PS = MIN(S2PS, OAS)', () => {
    // S2PS 0b010 = 40 bits: 0x100_0000_0000 = 2^40 is one past it.
    expectIllegal(verdict({ ...S2, S2PS: 2, S2TTB: 0x100_0000_0000n }), 'S2TTB');
    expect(verdict({ ...S2, S2PS: 2, S2TTB: 0xff_ffff_e000n }).kind).toBe('translate');
    // S2PS 0b111 (56) capped to the 48-bit OAS: 2^48 is out of range.
    expectIllegal(verdict({ ...S2, S2PS: 7, S2TTB: 0x1_0000_0000_0000n }), 'S2TTB');
  });

  it('§5.2 S2TTB: above 48 bits with a 4K/16K granule and S2DS=0', () => {
    // OAS 52, S2PS 0b110 (52): 2^48 is inside the S2PS but needs DS for 4K.
    const f52 = feat({ oas: 52, ias: 52 });
    expectIllegal(verdict({ ...S2, S2PS: 6, S2TTB: 0x1_0000_0000_0000n }, f52), '48 bits without S2DS');
    // The 64K granule (S2TG=0b01, S2SL0=0b01 -> level 2, n=40 <= 29+13: one table) has no such limit.
    expect(verdict({ ...S2, S2TG: 1, S2PS: 6, S2TTB: 0x1_0000_0000_0000n }, f52).kind).toBe('translate');
  });
});

describe('steUsedFields', () => {
  it('an abort STE uses V and Config only; a stage-1 STE adds the CD pointer, CD attributes and substream fields', () => {
    expect(steUsedFields(decodeSte(encode(STE_LAYOUT, { V: 1, Config: 0 })), DEF)).toEqual(['V', 'Config']);
    expect(steUsedFields(decodeSte(encode(STE_LAYOUT, { V: 0 })), DEF)).toEqual(['V']);
    const used = steUsedFields(decodeSte(encode(STE_LAYOUT, S1)), DEF);
    for (const f of ['S1ContextPtr', 'S1CDMax', 'S1Fmt', 'S1DSS', 'STRW', 'S2VMID', 'EATS'] as const) expect(used).toContain(f);
    expect(used).not.toContain('S2TTB');
    // qemu-7.2: no substreams, no Hyp, no ATS, no stage 2.
    const q = steUsedFields(decodeSte(encode(STE_LAYOUT, S1)), QEMU);
    for (const f of ['S1CDMax', 'S1Fmt', 'S1DSS', 'STRW', 'S2VMID', 'EATS'] as const) expect(q).not.toContain(f);
  });
});

describe('C_BAD_STE through Smmu.translate (§5.2, §7.3.5)', () => {
  it('an STE with V=0 aborts the transaction and writes C_BAD_STE with StreamID and SubstreamID', () => {
    const env = makeEnv();
    // SID 9's STE at STRTAB + 9*64 is all zero (V=0).  The transaction carries SubstreamID 3.
    const r = env.dma({ sid: 9, ssid: 3, addr: 0x1000n });
    expect(r.outcome).toBe('fault');
    expect(env.read('EVENTQ_PROD')).toBe(1n);
    const q = eventAt(env, 0);
    // DW0 = type 0x04 | SSV 1<<11 (0x800) | SubstreamID 3<<12 (0x3000) | StreamID 9<<32 = 0x0000_0009_0000_3804.
    expect(q).toEqual([0x0000_0009_0000_3804n, 0n, 0n, 0n]);
    expect(decodeEvent(q)).toEqual({ code: 4, record: { type: 'C_BAD_STE', sid: 9, ssid: 3, fields: {} } });
  });

  it('an ILLEGAL STE (STRW=0b01) writes C_BAD_STE; without a SubstreamID SSV is 0', () => {
    const env = makeEnv();
    writeSte(env, 0x42, { ...S1, STRW: 1 });
    const r = env.dma({ sid: 0x42, addr: 0x1000n });
    expect(r.outcome === 'fault' && r.detail).toContain('STRW');
    const q = eventAt(env, 0);
    // DW0 = 0x04 | 0x42 << 32 = 0x0000_0042_0000_0004.
    expect(q[0]).toBe(0x0000_0042_0000_0004n);
    expect(decodeEvent(q).record).toEqual({ type: 'C_BAD_STE', sid: 0x42, fields: {} });
  });

  it('Config=0b000 aborts with no event and Config=0b100 bypasses', () => {
    const env = makeEnv();
    writeSte(env, 1, { V: 1, Config: 0 });
    writeSte(env, 2, { V: 1, Config: 4 });
    expect(env.dma({ sid: 1, addr: 0x1000n }).outcome).toBe('abort');
    expect(env.dma({ sid: 2, addr: 0x1234_5678n })).toMatchObject({ outcome: 'bypass', pa: 0x1234_5678n });
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.events).toEqual([]);
  });

  it('an STE the model cannot translate (AArch32 stage 2) is reported as unsupported, with no event', () => {
    // IDR0.TTF = 0b11 (AArch32 + AArch64): bits [3:2] of 0x0d4c7e1b are 0b10; OR 0x4 makes them 0b11.
    const aarch32: Profile = { ...DEFAULT_PROFILE, name: 'aarch32', IDR0: DEFAULT_PROFILE.IDR0 | 0x4 };
    const env = makeEnv({ profile: aarch32 });
    writeSte(env, 5, { ...S2, S2AA64: 0 });
    const r = env.dma({ sid: 5, addr: 0x1000n });
    expect(r.outcome).toBe('unsupported');
    expect(env.read('EVENTQ_PROD')).toBe(0n);
  });

  it('the STE is read from STRTAB_BASE + 64 * StreamID', () => {
    const env = makeEnv();
    // SID 0x81 -> 0x8000_0000 + 0x81 * 0x40 = 0x8000_2040.
    expect(writeSte(env, 0x81, { V: 1, Config: 4 })).toBe(STRTAB + 0x2040n);
    expect(env.dma({ sid: 0x81, addr: 0x10n }).outcome).toBe('bypass');
    expect(env.dma({ sid: 0x80, addr: 0x10n }).outcome).toBe('fault'); // its neighbour is V=0
  });
});
