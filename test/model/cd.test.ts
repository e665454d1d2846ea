/**
 * The CD and L1CD (IHI0070 §5.3, §5.4): layout round trips, hand-computed
 * doublewords, every ILLEGAL rule interpretCd implements, and CD tables
 * (linear and 2-level) with SubstreamIDs through Smmu.translate.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CD_LAYOUT, decodeCd, interpretCd, L1CD_LAYOUT, type CdField, type CdVerdict } from '../../src/model/cd.js';
import { decodeEvent, type EventRecord } from '../../src/model/events.js';
import { decode, encode, MASK64, reservedMasks, type Layout } from '../../src/model/fields.js';
import { GRANULES } from '../../src/model/granule.js';
import { EABT } from '../../src/model/memory.js';
import { DEFAULT_PROFILE, featuresOf, QEMU_72_PROFILE, type Features } from '../../src/model/profiles.js';
import type { StreamWorld } from '../../src/model/ste.js';
import { basicCd, EVTQ, makeEnv, TableBuilder, writeQwords, writeSte, type Env } from '../helpers/env.js';

const DEF = featuresOf(DEFAULT_PROFILE);

type CdVals = Partial<Record<CdField, bigint | number>>;

/** The fields of helpers' basicCd: 4K, T0SZ=16, TTB1 disabled, IPS 48, AArch64, R=1, A=1, ASID 1. */
const BASIC: CdVals = { V: 1, T0SZ: 16, TG0: 0, EPD1: 1, IPS: 5, AA64: 1, R: 1, A: 1, ASET: 1, ASID: 1, TTB0: 0xa000_0000n, MAIR0: 0x0004ff };

function cdVerdict(v: CdVals, features: Features = DEF, world: StreamWorld = 'NS-EL1', s1stalld = false): CdVerdict {
  return interpretCd(decodeCd(encode(CD_LAYOUT, v)), { features, world, s1stalld });
}

function feat(over: Partial<Features>): Features {
  return { ...DEF, ...over };
}

function expectIllegal(v: CdVerdict, mentions: string): void {
  expect(v.kind).toBe('illegal');
  expect((v as { reason: string }).reason).toContain(mentions);
}

function layoutValues(layout: Layout): fc.Arbitrary<Record<string, bigint>> {
  const rec: Record<string, fc.Arbitrary<bigint>> = {};
  for (const f of layout.fields) {
    rec[f.name] = fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n }).map((v) => (f.addr ? v << BigInt(f.lo) : v));
  }
  return fc.record(rec);
}

/** The decoded record in event-queue slot `idx`, and its raw doublewords. */
function eventAt(env: Env, idx: number): { q: bigint[]; rec: EventRecord | undefined } {
  const q = env.mem.readQwords(EVTQ + BigInt(32 * idx), 4);
  if (q === EABT) throw new Error('event queue read aborted');
  return { q, rec: decodeEvent(q).record };
}

describe('CD and L1CD round trips (fast-check, fixed seeds)', () => {
  it('decode(encode(values)) gives back every CD field', () => {
    fc.assert(fc.property(layoutValues(CD_LAYOUT), (v) => {
      expect(decode(CD_LAYOUT, encode(CD_LAYOUT, v))).toEqual(v);
    }), { seed: 0xcd1, numRuns: 300 });
  });

  it('encode(decode(qwords)) gives back the CD doublewords with the reserved bits cleared', () => {
    const res = reservedMasks(CD_LAYOUT);
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 0n, max: MASK64 }), { minLength: 8, maxLength: 8 }), (q) => {
      expect(encode(CD_LAYOUT, decode(CD_LAYOUT, q))).toEqual(q.map((x, i) => x & ~res[i]!));
    }), { seed: 0xcd2, numRuns: 300 });
  });

  it('L1CD: V = DW0[0], L2Ptr = DW0[55:12]; bits [11:1] and [63:56] are RES0', () => {
    expect(reservedMasks(L1CD_LAYOUT)).toEqual([0xff00_0000_0000_0ffen]);
    fc.assert(fc.property(layoutValues(L1CD_LAYOUT), (v) => {
      expect(decode(L1CD_LAYOUT, encode(L1CD_LAYOUT, v))).toEqual(v);
    }), { seed: 0xcd3, numRuns: 200 });
  });

  it('interpretCd is total: any 512-bit image yields a verdict and never throws', () => {
    const worlds: StreamWorld[] = ['NS-EL1', 'NS-EL2', 'NS-EL2-E2H'];
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 0n, max: MASK64 }), { minLength: 8, maxLength: 8 }), fc.constantFrom(...worlds), (q, world) => {
      const v = interpretCd(decodeCd(q), { features: DEF, world, s1stalld: false });
      expect(['ok', 'illegal', 'unsupported']).toContain(v.kind);
      // V is DW0[31]: a CD with V=0 is always ILLEGAL (C_BAD_CD).
      if (((q[0]! >> 31n) & 1n) === 0n) {
        expect(v.kind).toBe('illegal');
        expect((v as { reason: string }).reason).toContain('V=0');
      }
    }), { seed: 0xcd4, numRuns: 500 });
  });
});

describe('hand-computed CD doublewords', () => {
  it('a Linux-style CD: DW0 = 0x002a_e205_c000_3510, DW1 = TTB0, DW3 = MAIR', () => {
    const q = encode(CD_LAYOUT, {
      T0SZ: 16, TG0: 0, IR0: 1, OR0: 1, SH0: 3, EPD1: 1, V: 1, IPS: 5, AA64: 1, R: 1, A: 1, ASET: 1, ASID: 0x2a,
      TTB0: 0x8_1234_5000n, MAIR0: 0x0004_ff44, MAIR1: 0,
    });
    // DW0[31:0]  = T0SZ 0x10 | IR0 1<<8 | OR0 1<<10 | SH0 3<<12 | EPD1 1<<30 | V 1<<31
    //            = 0x10 + 0x100 + 0x400 + 0x3000 + 0x4000_0000 + 0x8000_0000 = 0xc000_3510.
    // DW0[63:32] = IPS 5 | AA64 1<<9 | R 1<<13 | A 1<<14 | ASET 1<<15 | ASID 0x2a<<16 = 0x002a_e205.
    expect(q).toEqual([0x002a_e205_c000_3510n, 0x0000_0008_1234_5000n, 0n, 0x0004_ff44n, 0n, 0n, 0n, 0n]);
    expect(decodeCd(q).ASID).toBe(0x2an);
  });

  it("helpers' basicCd(0xa000_0000) is DW0 = 0x0001_e205_c000_0010 and interprets as a 48-bit 4K walk from level 0", () => {
    const q = basicCd(0xa000_0000n);
    // DW0[31:0] = T0SZ 16 (0x10) | EPD1 (0x4000_0000) | V (0x8000_0000) = 0xc000_0010.
    // DW0[63:32] = IPS 5 | AA64 0x200 | R 0x2000 | A 0x4000 | ASET 0x8000 | ASID 1<<16 = 0x0001_e205.
    expect(q.slice(0, 4)).toEqual([0x0001_e205_c000_0010n, 0xa000_0000n, 0n, 0x0004ffn]);
    expect(interpretCd(decodeCd(q), { features: DEF, world: 'NS-EL1', s1stalld: false })).toEqual({
      kind: 'ok',
      cd: {
        asid: 1,
        // n = 64 - 16 = 48; start level 4 - floor((48 - 4) / 9) = 0; start table 8 << (48 - 39) = 4 KiB.
        ttb0: { index: 0, granule: GRANULES['4K'], inputBits: 48, startLevel: 0, ttb: 0xa000_0000n, tbi: false, had: false },
        ttb1: undefined,
        twoRanges: true,
        outputBits: 48,
        affd: false, wxn: false, pan: false, record: true, abort: true, stall: false,
        mair: 0x0004ffn,
      },
    });
  });

  it('TTB0 bits below the start-table size are treated as zero', () => {
    // T0SZ=16: 4 KiB start table, so 0xa000_0ff0 -> 0xa000_0000.
    const a = cdVerdict({ ...BASIC, TTB0: 0xa000_0ff0n });
    expect(a.kind === 'ok' && a.cd.ttb0?.ttb).toBe(0xa000_0000n);
    // T0SZ=24: n=40, start level 4 - floor(36/9) = 0, level shift 39 -> 2 entries = 16 bytes: 0xa000_0ff0 is aligned.
    const b = cdVerdict({ ...BASIC, T0SZ: 24, TTB0: 0xa000_0ff0n });
    expect(b.kind === 'ok' && b.cd.ttb0).toMatchObject({ inputBits: 40, startLevel: 0, ttb: 0xa000_0ff0n });
    // T0SZ=25: n=39, start level 1, full 4 KiB table.
    const c = cdVerdict({ ...BASIC, T0SZ: 25, TTB0: 0xa000_0ff0n });
    expect(c.kind === 'ok' && c.cd.ttb0).toMatchObject({ inputBits: 39, startLevel: 1, ttb: 0xa000_0000n });
  });

  it('MAIR is MAIR1:MAIR0; HAD0 needs SMMU_IDR3.HAD; TBI0, WXN, PAN, AFFD are passed through', () => {
    const v = cdVerdict({ ...BASIC, MAIR0: 0x4433_2211, MAIR1: 0x8877_6655, HAD0: 1, TBI0: 1, WXN: 1, PAN: 1, AFFD: 1 });
    expect(v.kind === 'ok' && v.cd).toMatchObject({ mair: 0x8877_6655_4433_2211n, wxn: true, pan: true, affd: true });
    expect(v.kind === 'ok' && v.cd.ttb0).toMatchObject({ tbi: true, had: true });
    const noHad = cdVerdict({ ...BASIC, HAD0: 1 }, feat({ had: false }));
    expect(noHad.kind === 'ok' && noHad.cd.ttb0?.had).toBe(false);
  });

  it('NS-EL2 (STRW=EL2, E2H=0): one range, TTB0 walks even with EPD0=1, ASID ignored; NS-EL2-E2H keeps two ranges and the ASID', () => {
    const el2 = cdVerdict({ ...BASIC, EPD0: 1, EPD1: 0, TG1: 0, ASID: 0x1234 }, feat({ asid16: false }), 'NS-EL2');
    expect(el2.kind === 'ok' && el2.cd).toMatchObject({ asid: 0, twoRanges: false, ttb1: undefined });
    expect(el2.kind === 'ok' && el2.cd.ttb0?.ttb).toBe(0xa000_0000n);
    const e2h = cdVerdict({ ...BASIC, ASID: 0x1234 }, DEF, 'NS-EL2-E2H');
    expect(e2h.kind === 'ok' && e2h.cd).toMatchObject({ asid: 0x1234, twoRanges: true });
  });
});

describe('ILLEGAL CD rules (§5.4, §5.4.2)', () => {
  it('§5.4 V: V=0', () => {
    expectIllegal(cdVerdict({ ...BASIC, V: 0 }), 'V=0');
    // V=0 wins over every other field (a zero CD would otherwise also fail AA64, A, T0SZ).
    expectIllegal(interpretCd(decodeCd([0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]), { features: DEF, world: 'NS-EL1', s1stalld: false }), 'V=0');
  });

  it('§5.4 AA64: 0 without AArch32 tables (SMMU_IDR0.TTF); with them the model reports unsupported', () => {
    expectIllegal(cdVerdict({ ...BASIC, AA64: 0 }), 'AA64=0');
    const v = cdVerdict({ ...BASIC, AA64: 0 }, feat({ ttfAArch32: true }));
    expect(v.kind).toBe('unsupported');
    expect((v as { reason: string }).reason).toContain('AA64=0');
  });

  it('§5.4 AA64: 1 without AArch64 tables', () => {
    expectIllegal(cdVerdict(BASIC, feat({ ttfAArch64: false, ttfAArch32: true })), 'AA64=1');
  });

  it('§5.4 S / §5.2 S1STALLD: CD.S=1 while STE.S1STALLD=1', () => {
    // STALL_MODEL=0b00 so that only the S1STALLD rule applies.
    expectIllegal(cdVerdict({ ...BASIC, S: 1 }, feat({ stallModel: 0 }), 'NS-EL1', true), 'S1STALLD');
    const ok = cdVerdict({ ...BASIC, S: 1 }, feat({ stallModel: 0 }), 'NS-EL1', false);
    expect(ok.kind === 'ok' && ok.cd.stall).toBe(true);
  });

  it('§5.4 S: 1 with SMMU_IDR0.STALL_MODEL=0b01 (terminate only, the default profile)', () => {
    expectIllegal(cdVerdict({ ...BASIC, S: 1 }), 'CD.S=1');
  });

  it('§5.4 S: 0 with SMMU_IDR0.STALL_MODEL=0b10 (stall forced)', () => {
    expectIllegal(cdVerdict(BASIC, feat({ stallModel: 2 })), 'CD.S=0');
  });

  it('§5.4 A: 0 with SMMU_IDR0.TERM_MODEL=1', () => {
    expectIllegal(cdVerdict({ ...BASIC, A: 0 }), 'CD.A=0');
    const raz = cdVerdict({ ...BASIC, A: 0 }, feat({ termModel: false }));
    expect(raz.kind === 'ok' && raz.cd.abort).toBe(false);
  });

  it('§5.4 HA/HD: set with SMMU_IDR0.HTTU=0b00', () => {
    expectIllegal(cdVerdict({ ...BASIC, HA: 1 }), 'HA/HD');
    expectIllegal(cdVerdict({ ...BASIC, HD: 1, HA: 1 }), 'HA/HD');
  });

  it('§5.4 HD: 1 with HTTU=0b01, or with HA=0 ({HD,HA}=0b10 is reserved)', () => {
    expectIllegal(cdVerdict({ ...BASIC, HD: 1, HA: 1 }, feat({ httu: 1 })), 'HD=1');
    expectIllegal(cdVerdict({ ...BASIC, HD: 1, HA: 0 }, feat({ httu: 2 })), 'HD=1');
    expect(cdVerdict({ ...BASIC, HD: 1, HA: 1 }, feat({ httu: 2 })).kind).toBe('ok');
    expect(cdVerdict({ ...BASIC, HA: 1 }, feat({ httu: 1 })).kind).toBe('ok');
  });

  it('§5.4 ASID: bits [15:8] non-zero without SMMU_IDR0.ASID16 (EL1 and EL2-E2H worlds)', () => {
    const a8 = feat({ asid16: false });
    expectIllegal(cdVerdict({ ...BASIC, ASID: 0x100 }, a8), 'ASID');
    expectIllegal(cdVerdict({ ...BASIC, ASID: 0x100 }, a8, 'NS-EL2-E2H'), 'ASID');
    expect(cdVerdict({ ...BASIC, ASID: 0xff }, a8).kind).toBe('ok');
  });

  it('§5.4 TG0/TG1: reserved encodings (TG0=0b11, TG1=0b00) for an enabled TTBx', () => {
    expectIllegal(cdVerdict({ ...BASIC, TG0: 3 }), 'TG0');
    expectIllegal(cdVerdict({ ...BASIC, EPD1: 0, T1SZ: 16, TG1: 0 }), 'TG1');
    // TG1 is not checked while EPD1=1 (basicCd leaves TG1=0b00).
    expect(cdVerdict(BASIC).kind).toBe('ok');
    // TG1=0b10 is the 4K granule.
    const v = cdVerdict({ ...BASIC, EPD1: 0, T1SZ: 16, TG1: 2, TTB1: 0xb000_0000n });
    expect(v.kind === 'ok' && v.cd.ttb1).toMatchObject({ index: 1, granule: GRANULES['4K'], ttb: 0xb000_0000n });
  });

  it('§5.4 TG0: a granule SMMU_IDR5 does not advertise', () => {
    // TG0=0b10 is 16K.
    expectIllegal(cdVerdict({ ...BASIC, TG0: 2 }, feat({ gran16k: false })), 'TG0');
    expect(cdVerdict({ ...BASIC, TG0: 2 }).kind).toBe('ok');
  });

  it('§5.4 T0SZ/T1SZ: outside [16, 39] without STT, [16, 48] (4K) with STT', () => {
    expectIllegal(cdVerdict({ ...BASIC, T0SZ: 15 }), 'T0SZ=15');
    expectIllegal(cdVerdict({ ...BASIC, T0SZ: 40 }), 'T0SZ=40');
    expect(cdVerdict({ ...BASIC, T0SZ: 39 }).kind).toBe('ok');
    expectIllegal(cdVerdict({ ...BASIC, EPD1: 0, TG1: 2, T1SZ: 40 }), 'T1SZ=40');
    const stt = feat({ stt: true });
    expect(cdVerdict({ ...BASIC, T0SZ: 48 }, stt).kind).toBe('ok');
    expectIllegal(cdVerdict({ ...BASIC, T0SZ: 49 }, stt), 'T0SZ=49');
    // 64K with STT: maximum 47.
    expectIllegal(cdVerdict({ ...BASIC, TG0: 1, T0SZ: 48 }, stt), 'T0SZ=48');
    // 52-bit VA (IDR5.VAX=01) with 64K: minimum 12.
    expect(cdVerdict({ ...BASIC, TG0: 1, T0SZ: 12 }, feat({ vaBits: 52 })).kind).toBe('ok');
    expectIllegal(cdVerdict({ ...BASIC, TG0: 0, T0SZ: 12 }, feat({ vaBits: 52 })), 'T0SZ=12');
  });

  it('§5.4 ENDI: against SMMU_IDR0.TTENDIAN when a TTBx is enabled', () => {
    expectIllegal(cdVerdict({ ...BASIC, ENDI: 1 }), 'ENDI=1'); // default is LE-only
    expectIllegal(cdVerdict(BASIC, feat({ ttendian: 3 })), 'ENDI=0');
    // Both TTBs disabled: nothing to check.
    expect(cdVerdict({ ...BASIC, ENDI: 1, EPD0: 1 }).kind).toBe('ok');
  });

  it('§5.4 TTB0/TTB1: beyond the effective IPS = MIN(IPS, OAS)', () => {
    // IPS 0b000 = 32 bits: 0x1_0000_0000 = 2^32 is out of range.
    expectIllegal(cdVerdict({ ...BASIC, IPS: 0, TTB0: 0x1_0000_0000n }), 'TTB0');
    expect(cdVerdict({ ...BASIC, IPS: 0, TTB0: 0xffff_f000n }).kind).toBe('ok');
    // IPS 0b111 (56) is capped at the 48-bit OAS.
    expectIllegal(cdVerdict({ ...BASIC, IPS: 7, TTB0: 0x1_0000_0000_0000n }), 'IPS');
    const v = cdVerdict({ ...BASIC, IPS: 7 });
    expect(v.kind === 'ok' && v.cd.outputBits).toBe(48);
    expectIllegal(cdVerdict({ ...BASIC, EPD1: 0, TG1: 2, T1SZ: 16, IPS: 0, TTB1: 0x1_0000_0000n, TTB0: 0x1000n }), 'TTB1');
  });

  it('§5.4 TTB0: above 48 bits with a 4K/16K granule and DS=0', () => {
    const f52 = feat({ oas: 52, ias: 52 });
    expectIllegal(cdVerdict({ ...BASIC, IPS: 6, TTB0: 0x1_0000_0000_0000n }, f52), 'without DS');
    expect(cdVerdict({ ...BASIC, IPS: 6, TG0: 1, TTB0: 0x1_0000_0000_0000n }, f52).kind).toBe('ok');
  });
});

// ---------------------------------------------------------------------------
// Through Smmu.translate.

const CTX = 0x9000_0000n;
const VA = 0x40_0000_1000n;

/** Write a CD at `cdAddr` whose TTB0 maps VA -> pa (tables at `region`), tagged with ASID `asid`. */
function cdMapping(env: Env, cdAddr: bigint, region: bigint, pa: bigint, asid: number): void {
  const tb = TableBuilder.of(env.mem, 1, '4K', 48, 0, region);
  // nG=1: a global entry would match every ASID (Arm ARM D8.15), so CDs sharing the VA would alias in the TLB.
  tb.map(VA, pa, 3, { nG: true });
  writeQwords(env.mem, cdAddr, basicCd(tb.root, asid));
}

/** Table regions for CD number i: 1 MiB apart above 0xa000_0000. */
function region(i: number): bigint {
  return 0xa000_0000n + BigInt(i) * 0x10_0000n;
}

describe('C_BAD_CD through Smmu.translate (§5.4, §7.3.11)', () => {
  it('a CD with V=0 writes C_BAD_CD with StreamID', () => {
    const env = makeEnv();
    writeSte(env, 7, { V: 1, Config: 5, S1ContextPtr: CTX }); // the CD at CTX is all zero
    const r = env.dma({ sid: 7, addr: VA });
    expect(r.outcome === 'fault' && r.detail).toContain('V=0');
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x0a | 7 << 32.
    expect(q).toEqual([0x0000_0007_0000_000an, 0n, 0n, 0n]);
    expect(rec).toEqual({ type: 'C_BAD_CD', sid: 7, fields: {} });
  });

  it('an ILLEGAL CD (A=0 with TERM_MODEL=1) reached with SubstreamID 2 writes C_BAD_CD with SSV=1, SubstreamID=2', () => {
    const env = makeEnv();
    writeSte(env, 7, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 2 });
    writeQwords(env.mem, CTX + 2n * 64n, basicCd(region(0), 1, { A: 0 }));
    env.dma({ sid: 7, ssid: 2, addr: VA });
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x0a | SSV 0x800 | 2 << 12 (0x2000) | 7 << 32 = 0x0000_0007_0000_280a.
    expect(q[0]).toBe(0x0000_0007_0000_280an);
    expect(rec).toEqual({ type: 'C_BAD_CD', sid: 7, ssid: 2, fields: {} });
  });
});

describe('linear CD table (S1Fmt=0)', () => {
  it('SubstreamID n uses the CD at S1ContextPtr + 64 * n', () => {
    const env = makeEnv();
    // S1CDMax=3: 8 CDs, 512 bytes at CTX.  S1DSS=substream0 so that no-SSID traffic uses CD 0.
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3, S1Fmt: 0, S1DSS: 2 });
    cdMapping(env, CTX, region(0), 0x5000_0000n, 1); // CD 0
    cdMapping(env, CTX + 5n * 64n, region(5), 0x5500_0000n, 6); // CD 5 at 0x9000_0140
    cdMapping(env, CTX + 7n * 64n, region(7), 0x5700_0000n, 8); // CD 7 at 0x9000_01c0
    expect(env.dma({ sid: 4, ssid: 5, addr: VA + 0x10n })).toMatchObject({ outcome: 'translated', pa: 0x5500_0010n });
    expect(env.dma({ sid: 4, ssid: 7, addr: VA + 0x20n })).toMatchObject({ outcome: 'translated', pa: 0x5700_0020n });
    expect(env.dma({ sid: 4, addr: VA + 0x30n })).toMatchObject({ outcome: 'translated', pa: 0x5000_0030n });
    // SSID 6's CD (0x9000_0180) was never written: V=0.
    expect(env.dma({ sid: 4, ssid: 6, addr: VA }).outcome).toBe('fault');
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_CD', sid: 4, ssid: 6, fields: {} });
  });

  it('the linear table base is aligned to its size: S1ContextPtr 0x9000_0100 with 8 CDs (512 B) uses 0x9000_0000', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX + 0x100n, S1CDMax: 3, S1DSS: 2 });
    cdMapping(env, CTX + 64n, region(1), 0x5100_0000n, 2);
    // 0x9000_0100 & ~0x1ff = 0x9000_0000; SSID 1 -> 0x9000_0040.
    expect(env.dma({ sid: 4, ssid: 1, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x5100_0000n });
  });
});

describe('2-level CD tables', () => {
  it('S1Fmt=0b01: 64 CDs per 4 KiB leaf; SSID 0x83 -> L1CD[2], CD 3 of that leaf', () => {
    const env = makeEnv();
    // S1CDMax=8: 256 SSIDs, 2^(8-6) = 4 L1CDs (32 bytes) at CTX.
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 8, S1Fmt: 1 });
    // 0x83 = 131: L1 index 131 >> 6 = 2 (L1CD at CTX + 16), L2 index 131 & 63 = 3.
    env.mem.write(CTX + 16n, 8, 0x9100_0000n | 1n);
    cdMapping(env, 0x9100_0000n + 3n * 64n, region(3), 0x6600_0000n, 4);
    expect(env.dma({ sid: 4, ssid: 0x83, addr: VA + 8n })).toMatchObject({ outcome: 'translated', pa: 0x6600_0008n });
  });

  it('S1Fmt=0b10: 1024 CDs per 64 KiB leaf; SSID 0x805 -> L1CD[2], CD 5 of that leaf', () => {
    const env = makeEnv();
    // S1CDMax=12: 4096 SSIDs, 2^(12-10) = 4 L1CDs.
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 12, S1Fmt: 2 });
    // 0x805 = 2053: L1 index 2053 >> 10 = 2, L2 index 2053 & 1023 = 5.
    env.mem.write(CTX + 16n, 8, 0x9200_0000n | 1n);
    cdMapping(env, 0x9200_0000n + 5n * 64n, region(5), 0x6700_0000n, 6);
    expect(env.dma({ sid: 4, ssid: 0x805, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x6700_0000n });
    // With 64-CD leaves the same SSID would have used L1CD[0x805 >> 6 = 32], which is not written.
  });

  it('the L1 table is aligned to MAX(64 B, its size): S1CDMax=10, S1Fmt=0b01 -> 16 L1CDs (128 B)', () => {
    const env = makeEnv();
    // S1ContextPtr 0x9000_0040 & ~0x7f = 0x9000_0000; SSID 0x3c5 = 965 -> L1 index 965 >> 6 = 15 at 0x9000_0078.
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX + 0x40n, S1CDMax: 10, S1Fmt: 1 });
    env.mem.write(CTX + 15n * 8n, 8, 0x9400_0000n | 1n);
    // L2 index 965 & 63 = 5 -> CD at 0x9400_0140.
    cdMapping(env, 0x9400_0000n + 5n * 64n, region(9), 0x6900_0000n, 10);
    expect(env.dma({ sid: 4, ssid: 0x3c5, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x6900_0000n });
  });

  it('§5.3 an L1CD with V=0 gives C_BAD_SUBSTREAMID carrying the SubstreamID', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 8, S1Fmt: 1 });
    // L1CD[1] (SSIDs 0x40..0x7f) holds a pointer but V=0.
    env.mem.write(CTX + 8n, 8, 0x9100_0000n);
    const r = env.dma({ sid: 4, ssid: 0x45, addr: VA });
    expect(r.outcome === 'fault' && r.detail).toContain('L1CD[1]');
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x08 | 0x45 << 12 (0x45000) | 4 << 32, SSV (bit 11) clear.
    expect(q[0]).toBe(0x0000_0004_0004_5008n);
    expect(rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 0x45, fields: {} });
  });

  it('§3.4.3 an L1CD.L2Ptr beyond the 48-bit OAS gives C_BAD_SUBSTREAMID (SMMUv3.1)', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 8, S1Fmt: 1 });
    env.mem.write(CTX, 8, (1n << 48n) | 1n); // L2Ptr = 2^48, V=1
    env.dma({ sid: 4, ssid: 3, addr: VA });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 3, fields: {} });
  });

  it('§7.3.10 an aborting L1CD fetch gives F_CD_FETCH with FetchAddr = the L1CD address', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 8, S1Fmt: 1 });
    env.mem.declareAbort(CTX + 24n, 8n); // L1CD[3]: SSIDs 0xc0..0xff
    env.dma({ sid: 4, ssid: 0xc1, addr: VA });
    const { q, rec } = eventAt(env, 0);
    // DW3 = FetchAddr[55:3] in place = 0x9000_0018.
    expect(q).toEqual([0x0000_0004_000c_1809n, 0n, 0n, 0x9000_0018n]);
    expect(rec).toEqual({ type: 'F_CD_FETCH', sid: 4, ssid: 0xc1, fields: { Reason: 0n, FetchAddr: 0x9000_0018n } });
  });
});

describe('SubstreamID checks (§5.2 S1CDMax, S1DSS, §7.3.7, §7.3.9)', () => {
  function linearEnv(dss: number): Env {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3, S1DSS: dss });
    cdMapping(env, CTX, region(0), 0x5000_0000n, 1);
    cdMapping(env, CTX + 2n * 64n, region(2), 0x5200_0000n, 3);
    return env;
  }

  it('SSID >= 2^S1CDMax gives C_BAD_SUBSTREAMID', () => {
    const env = linearEnv(0);
    env.dma({ sid: 4, ssid: 8, addr: VA }); // 8 = 2^3
    const { q, rec } = eventAt(env, 0);
    expect(q[0]).toBe(0x0000_0004_0000_8008n); // 0x08 | 8 << 12 | 4 << 32
    expect(rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 8, fields: {} });
  });

  it('a SubstreamID on an STE with S1CDMax=0 gives C_BAD_SUBSTREAMID', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX });
    cdMapping(env, CTX, region(0), 0x5000_0000n, 1);
    expect(env.dma({ sid: 4, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x5000_0000n });
    env.dma({ sid: 4, ssid: 0, addr: VA });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 0, fields: {} });
  });

  it('a SubstreamID on an SMMU with SSIDSIZE=0 (qemu-7.2) gives C_BAD_SUBSTREAMID, even with S1CDMax set', () => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3 });
    cdMapping(env, CTX, region(0), 0x5000_0000n, 1);
    env.dma({ sid: 4, ssid: 1, addr: VA });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 1, fields: {} });
    // Without a SubstreamID the single CD at S1ContextPtr is used.
    expect(env.dma({ sid: 4, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x5000_0000n });
  });

  it('S1DSS=0b00 (terminate): no-SSID traffic gets F_STREAM_DISABLED with SSV=0; SSID traffic translates', () => {
    const env = linearEnv(0);
    const r = env.dma({ sid: 4, addr: VA });
    expect(r.outcome).toBe('fault');
    const { q, rec } = eventAt(env, 0);
    expect(q).toEqual([0x0000_0004_0000_0006n, 0n, 0n, 0n]);
    expect(rec).toEqual({ type: 'F_STREAM_DISABLED', sid: 4, fields: {} });
    expect(env.dma({ sid: 4, ssid: 2, addr: VA })).toMatchObject({ outcome: 'translated', pa: 0x5200_0000n });
  });

  it('S1DSS=0b11 is reserved and behaves as terminate', () => {
    const env = linearEnv(3);
    env.dma({ sid: 4, addr: VA });
    expect(eventAt(env, 0).rec).toEqual({ type: 'F_STREAM_DISABLED', sid: 4, fields: {} });
  });

  it('S1DSS=0b01 (bypass): no-SSID traffic bypasses stage 1 and no CD is fetched', () => {
    const env = makeEnv();
    // No CD written at all: a CD fetch would give C_BAD_CD.
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3, S1DSS: 1 });
    expect(env.dma({ sid: 4, addr: 0x1234_5000n })).toMatchObject({ outcome: 'bypass', pa: 0x1234_5000n });
    expect(env.read('EVENTQ_PROD')).toBe(0n);
  });

  it('S1DSS=0b01 (bypass): an address beyond the IAS (48 bits) is a stage-1 F_ADDR_SIZE, CLASS=IN', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3, S1DSS: 1 });
    env.dma({ sid: 4, addr: 0x1_0000_0000_0000n });
    expect(eventAt(env, 0).rec).toEqual({
      type: 'F_ADDR_SIZE', sid: 4,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: 0x1_0000_0000_0000n, IPA: 0n },
    });
  });

  it('S1DSS=0b10 (substream0): no-SSID traffic uses CD 0; SSID 0 gets F_STREAM_DISABLED', () => {
    const env = linearEnv(2);
    expect(env.dma({ sid: 4, addr: VA + 4n })).toMatchObject({ outcome: 'translated', pa: 0x5000_0004n });
    expect(env.dma({ sid: 4, ssid: 0, addr: VA }).outcome).toBe('fault');
    const { q, rec } = eventAt(env, 0);
    // The model records the SubstreamID the transaction carried: SSV=1, SubstreamID=0.
    // (The F_STREAM_DISABLED figure in the spec copy shows only the type and StreamID.)
    expect(q[0]).toBe(0x0000_0004_0000_0806n);
    expect(rec).toEqual({ type: 'F_STREAM_DISABLED', sid: 4, ssid: 0, fields: {} });
  });

  it('a SubstreamID on a Config=0b110 (stage 2 only) stream gives C_BAD_SUBSTREAMID', () => {
    const env = makeEnv();
    writeSte(env, 4, {
      V: 1, Config: 6, S2VMID: 1, S2T0SZ: 24, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB: 0xb000_0000n,
    });
    env.dma({ sid: 4, ssid: 9, addr: 0x1000n });
    const { q, rec } = eventAt(env, 0);
    expect(q[0]).toBe(0x0000_0004_0000_9008n);
    expect(rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 9, fields: {} });
  });

  // IHI0070 §7.3.9: C_BAD_SUBSTREAMID is raised when a SubstreamID is present and "Stage 1 translation
  // disabled (STE.Config == 0b1x0)", which includes Config=0b100 (bypass); §5.2 S1CDMax says the same.
  it('a SubstreamID on a Config=0b100 (bypass) stream gives C_BAD_SUBSTREAMID (§7.3.9: Config == 0b1x0)', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 4 });
    const r = env.dma({ sid: 4, ssid: 1, addr: 0x1000n });
    expect(r.outcome).toBe('fault');
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 4, ssid: 1, fields: {} });
  });

  it('§7.3.10 an aborting CD fetch gives F_CD_FETCH with FetchAddr in DW3 and the SubstreamID', () => {
    const env = makeEnv();
    writeSte(env, 4, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 3 });
    env.mem.declareAbort(CTX + 3n * 64n, 64n); // CD 3 at 0x9000_00c0
    const r = env.dma({ sid: 4, ssid: 3, addr: VA, write: true });
    expect(r.outcome === 'fault' && r.detail).toContain('F_CD_FETCH');
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x09 | SSV 0x800 | 3 << 12 | 4 << 32; DW1 (Reason) = 0; DW2 = 0; DW3 = 0x9000_00c0.
    expect(q).toEqual([0x0000_0004_0000_3809n, 0n, 0n, 0x9000_00c0n]);
    expect(rec).toEqual({ type: 'F_CD_FETCH', sid: 4, ssid: 3, fields: { Reason: 0n, FetchAddr: 0x9000_00c0n } });
    // A failed fetch is not cached (§3.21.3): the next transaction fetches (and fails) again.
    env.dma({ sid: 4, ssid: 3, addr: VA });
    expect(env.read('EVENTQ_PROD')).toBe(2n);
  });
});
