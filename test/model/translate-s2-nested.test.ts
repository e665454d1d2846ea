/**
 * End-to-end stage 2 (STE Config=0b110) and nested (Config=0b111) translation
 * through Smmu.translate: S2SL0/S2TG/S2T0SZ start levels and concatenated
 * start tables, STE validity of the combination, stage-2 permissions (S2AP,
 * XN/XNX), access flag, S2PS address size, the stage-1-bypass IAS check, and
 * every way a nested translation reports a stage-2 fault (CLASS=CD/TT/IN with
 * the IPA), S2PTW, external aborts and STE.S2R.
 *
 * Sources: IHI0070 §3.4, §5.2, §5.5, §7.3.12-§7.3.16, §7.3.22 (spec-notes §4-§5);
 * Arm ARM D8.2, D8.4 (vmsa-notes §3-§5, §9); smmuv3-facts §6.5, §6.6.
 */
import { describe, expect, it } from '@jest/globals';
import type { CdField } from '../../src/model/cd.js';
import { eventType, type EventRecord } from '../../src/model/events.js';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import type { SteField } from '../../src/model/ste.js';
import { basicCd, makeEnv, TableBuilder, writeQwords, writeSte, type Env, type EnvOptions, type MapAttrs } from '../helpers/env.js';

const SID = 7;
const S2TTB = 0x100_0000n;
const TABLE = 0x3n;
/** Stage-2 page: [1:0]=0b11, MemAttr=0b1111, S2AP=0b11, SH=ISH, AF=1 (0x7ff); block: [1:0]=0b01 (0x7fd). */
const S2_PAGE = 0x7ffn;
const S1_PAGE = 0x703n;
const AF = 1n << 10n;

type SteExtra = Partial<Record<SteField, bigint | number>>;
type CdExtra = Partial<Record<CdField, bigint | number>>;

function onlyEvent(env: Env): EventRecord {
  expect(env.rec.lost).toEqual([]);
  expect(env.rec.events).toHaveLength(1);
  const e = env.rec.events[0]!;
  const own = new Set<string>(eventType(e.type).fields);
  return { ...e, fields: Object.fromEntries(Object.entries(e.fields).filter(([k]) => own.has(k))) };
}

interface Attrs { write?: boolean; instr?: boolean; priv?: boolean }
const CLASS = { CD: 0n, TT: 1n, IN: 2n } as const;

/** Expected translation-class record of a stage-2 fault: S2=1, the CLASS and the IPA (bits [55:12]). */
function s2Fault(type: 'F_TRANSLATION' | 'F_ADDR_SIZE' | 'F_ACCESS', addr: bigint, cls: keyof typeof CLASS, ipa: bigint, a: Attrs = {}): EventRecord {
  return {
    type, sid: SID,
    fields: {
      STAG: 0n, Stall: 0n, PnU: a.priv === false ? 0n : 1n, InD: a.instr && !a.write ? 1n : 0n, RnW: a.write ? 0n : 1n,
      S2: 1n, CLASS: CLASS[cls], InputAddr: addr, IPA: ipa,
    },
  };
}

// ---------------------------------------------------------------------------
// Stage 2 only.

const S2_BASE: SteExtra = { V: 1, Config: 6, S2VMID: 5, S2T0SZ: 25, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB };

function s2Env(ste: SteExtra = {}, o: EnvOptions = {}): Env {
  const env = makeEnv(o);
  writeSte(env, SID, { ...S2_BASE, ...ste });
  return env;
}

describe('stage 2: every S2TG x S2SL0 start level, with and without concatenation', () => {
  // S2TTB = 0x100_0000 (aligned for 16 x 64 KiB); later tables at 0x200_0000, 0x300_0000, 0x400_0000; page OA 0x8_7654_0000.
  // S2TG (§5.2): 0 = 4K, 1 = 64K, 2 = 16K.  Start level: 4K 2-SL0, 16K/64K 3-SL0 (smmuv3-facts §6.5).
  // n = 64 - S2T0SZ; k = level shift of the start level; 2^(n-k-stride) concatenated tables when n > k + stride.
  // The start index is IPA[n-1:k]: table = index >> stride, entry = index & (2^stride - 1).
  const CASES = [
    // 4K SL0=2 (L0, k=39) T0SZ=16: n=48 -> IPA[47:39]=0x0a5 -> S2TTB+0x528; IPA[38:30]=0x1c3 -> +0xe18;
    //   IPA[29:21]=0x0f1 -> +0x788; IPA[20:12]=0x07e -> +0x3f0
    { name: '4K SL0=2 (L0) T0SZ=16', tg: 0, sl0: 2, t0sz: 16, ipa: 0x52f0_de27_e123n, descs: [0x100_0528n, 0x200_0e18n, 0x300_0788n, 0x400_03f0n], pa: 0x8_7654_0123n },
    // 4K L0 T0SZ=24: n=40 -> IPA[39:39]=1 (2 entries) -> S2TTB+8; then 0x003, 0x1ff, 0x100
    { name: '4K SL0=2 (L0) T0SZ=24', tg: 0, sl0: 2, t0sz: 24, ipa: 0x80_fff0_0456n, descs: [0x100_0008n, 0x200_0018n, 0x300_0ff8n, 0x400_0800n], pa: 0x8_7654_0456n },
    // 4K SL0=1 (L1, k=30) T0SZ=25: n=39, one table: IPA[38:30]=0x155 -> +0xaa8; IPA[29:21]=0x0aa -> +0x550; IPA[20:12]=1 -> +8
    { name: '4K SL0=1 (L1) T0SZ=25', tg: 0, sl0: 1, t0sz: 25, ipa: 0x55_5540_1789n, descs: [0x100_0aa8n, 0x200_0550n, 0x300_0008n], pa: 0x8_7654_0789n },
    // T0SZ=24: n=40, 2 tables: IPA[39:30]=0x201 -> table 1 entry 1 -> S2TTB + 0x1000 + 8 = 0x100_1008
    { name: '4K SL0=1 (L1) T0SZ=24, 2 tables', tg: 0, sl0: 1, t0sz: 24, ipa: 0x80_4020_3abcn, descs: [0x100_1008n, 0x200_0008n, 0x300_0018n], pa: 0x8_7654_0abcn },
    // T0SZ=22: n=42, 8 tables: IPA[41:30]=0xa8d -> table 5 entry 0x8d -> S2TTB + 0x5000 + 0x468 = 0x100_5468
    { name: '4K SL0=1 (L1) T0SZ=22, 8 tables', tg: 0, sl0: 1, t0sz: 22, ipa: 0x2a3_5e10_fdefn, descs: [0x100_5468n, 0x200_0780n, 0x300_0878n], pa: 0x8_7654_0defn },
    // T0SZ=21: n=43, 16 tables: IPA[42:30]=0x1fff -> table 15 entry 0x1ff -> S2TTB + 0xf000 + 0xff8 = 0x100_fff8
    { name: '4K SL0=1 (L1) T0SZ=21, 16 tables', tg: 0, sl0: 1, t0sz: 21, ipa: 0x7ff_ffff_fff8n, descs: [0x100_fff8n, 0x200_0ff8n, 0x300_0ff8n], pa: 0x8_7654_0ff8n },
    // 4K SL0=0 (L2, k=21) T0SZ=34: n=30: IPA[29:21]=0x1e1 -> +0xf08; IPA[20:12]=0x0c0 -> +0x600
    { name: '4K SL0=0 (L2) T0SZ=34', tg: 0, sl0: 0, t0sz: 34, ipa: 0x3c2c_0010n, descs: [0x100_0f08n, 0x200_0600n], pa: 0x8_7654_0010n },
    // T0SZ=30: n=34, 16 tables: IPA[33:21]=0x1234 -> table 9 entry 0x34 -> S2TTB + 0x9000 + 0x1a0 = 0x100_91a0
    { name: '4K SL0=0 (L2) T0SZ=30, 16 tables', tg: 0, sl0: 0, t0sz: 30, ipa: 0x2_468c_0020n, descs: [0x100_91a0n, 0x200_0600n], pa: 0x8_7654_0020n },
    // T0SZ=39: n=25: IPA[24:21]=0xf (16 entries) -> +0x78
    { name: '4K SL0=0 (L2) T0SZ=39', tg: 0, sl0: 0, t0sz: 39, ipa: 0x1ea_a030n, descs: [0x100_0078n, 0x200_0550n], pa: 0x8_7654_0030n },
    // 16K SL0=2 (L1, k=36) T0SZ=17: n=47: IPA[46:36]=0x7ff -> +0x3ff8; IPA[35:25]=1 -> +8; IPA[24:14]=2 -> +0x10
    { name: '16K SL0=2 (L1) T0SZ=17', tg: 2, sl0: 2, t0sz: 17, ipa: 0x7ff0_0200_9230n, descs: [0x100_3ff8n, 0x200_0008n, 0x300_0010n], pa: 0x8_7654_1230n },
    // T0SZ=16: n=48, 2 tables: IPA[47:36]=0xc01 -> table 1 entry 0x401 -> S2TTB + 0x4000 + 0x2008 = 0x100_6008
    { name: '16K SL0=2 (L1) T0SZ=16, 2 tables', tg: 2, sl0: 2, t0sz: 16, ipa: 0xc010_0400_e340n, descs: [0x100_6008n, 0x200_0010n, 0x300_0018n], pa: 0x8_7654_2340n },
    // 16K SL0=1 (L2, k=25) T0SZ=28: n=36: IPA[35:25]=0x3c3 -> +0x1e18; IPA[24:14]=0x13c -> +0x9e0
    { name: '16K SL0=1 (L2) T0SZ=28', tg: 2, sl0: 1, t0sz: 28, ipa: 0x7_864f_3450n, descs: [0x100_1e18n, 0x200_09e0n], pa: 0x8_7654_3450n },
    // T0SZ=24: n=40, 16 tables: IPA[39:25]=0x7abc -> table 15 entry 0x2bc -> S2TTB + 15*0x4000 + 0x15e0 = 0x103_d5e0
    { name: '16K SL0=1 (L2) T0SZ=24, 16 tables', tg: 2, sl0: 1, t0sz: 24, ipa: 0xf5_784f_0008n, descs: [0x103_d5e0n, 0x200_09e0n], pa: 0x8_7654_0008n },
    // 16K SL0=0 (L3, k=14) T0SZ=39: n=25: IPA[24:14]=0x5a5 -> +0x2d28
    { name: '16K SL0=0 (L3) T0SZ=39', tg: 2, sl0: 0, t0sz: 39, ipa: 0x169_7ff8n, descs: [0x100_2d28n], pa: 0x8_7654_3ff8n },
    // T0SZ=35: n=29, 16 tables: IPA[28:14]=0x4321 -> table 8 entry 0x321 -> S2TTB + 0x20000 + 0x1908 = 0x102_1908
    { name: '16K SL0=0 (L3) T0SZ=35, 16 tables', tg: 2, sl0: 0, t0sz: 35, ipa: 0x10c8_4100n, descs: [0x102_1908n], pa: 0x8_7654_0100n },
    // 64K SL0=2 (L1, k=42) T0SZ=16: n=48: IPA[47:42]=0x3f -> +0x1f8; IPA[41:29]=0x1555 -> +0xaaa8; IPA[28:16]=0xaaa -> +0x5550
    { name: '64K SL0=2 (L1) T0SZ=16', tg: 1, sl0: 2, t0sz: 16, ipa: 0xfeaa_aaaa_fff8n, descs: [0x100_01f8n, 0x200_aaa8n, 0x300_5550n], pa: 0x8_7654_fff8n },
    // 64K SL0=1 (L2, k=29) T0SZ=22: n=42: IPA[41:29]=0x1abc -> +0xd5e0; IPA[28:16]=0xdef -> +0x6f78
    { name: '64K SL0=1 (L2) T0SZ=22', tg: 1, sl0: 1, t0sz: 22, ipa: 0x357_8def_1000n, descs: [0x100_d5e0n, 0x200_6f78n], pa: 0x8_7654_1000n },
    // T0SZ=18: n=46, 16 tables: IPA[45:29]=0x12345 -> table 9 entry 0x345 -> S2TTB + 0x90000 + 0x1a28 = 0x109_1a28
    { name: '64K SL0=1 (L2) T0SZ=18, 16 tables', tg: 1, sl0: 1, t0sz: 18, ipa: 0x2468_adef_2000n, descs: [0x109_1a28n, 0x200_6f78n], pa: 0x8_7654_2000n },
    // 64K SL0=0 (L3, k=16) T0SZ=35: n=29: IPA[28:16]=0x1eee -> +0xf770
    { name: '64K SL0=0 (L3) T0SZ=35', tg: 1, sl0: 0, t0sz: 35, ipa: 0x1eee_3000n, descs: [0x100_f770n], pa: 0x8_7654_3000n },
    // T0SZ=31: n=33, 16 tables: IPA[32:16]=0x1fedc -> table 15 entry 0x1edc -> S2TTB + 0xf0000 + 0xf6e0 = 0x10f_f6e0
    { name: '64K SL0=0 (L3) T0SZ=31, 16 tables', tg: 1, sl0: 0, t0sz: 31, ipa: 0x1_fedc_4000n, descs: [0x10f_f6e0n], pa: 0x8_7654_4000n },
  ];

  it.each(CASES)('$name', (c) => {
    const env = s2Env({ S2TG: c.tg, S2SL0: c.sl0, S2T0SZ: c.t0sz });
    const next = [0x200_0000n, 0x300_0000n, 0x400_0000n];
    c.descs.forEach((a, i) => env.mem.write(a, 8, i === c.descs.length - 1 ? 0x8_7654_0000n | S2_PAGE : next[i]! | TABLE));
    expect(env.dma({ sid: SID, addr: c.ipa })).toEqual({ outcome: 'translated', pa: c.pa, detail: 'stage 2' });
    // The start descriptor is the one used: with it cleared (and the TLB invalidated) the IPA faults at stage 2.
    env.cmd('TLBI_S12_VMALL', { vmid: 5 });
    env.mem.write(c.descs[0]!, 8, 0n);
    expect(env.dma({ sid: SID, addr: c.ipa }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', c.ipa, 'IN', c.ipa & ~0xfffn));
  });

  // Consistency rule (smmuv3-facts §6.5; Arm ARM D8.2 concatenation tables): the start level must resolve at
  // least one IPA bit (n > k) and at most 16 concatenated tables (n <= k + stride + 4); SL0=0b11 is reserved
  // without TTST/DS (4K L3, 16K L0) and for 64K.
  it.each([
    { name: '4K SL0=1 (L1, k=30) with T0SZ=34 (n=30: no bit left for L1)', tg: 0, sl0: 1, t0sz: 34 },
    { name: '4K SL0=0 (L2, k=21) with T0SZ=29 (n=35: 32 tables)', tg: 0, sl0: 0, t0sz: 29 },
    { name: '4K SL0=2 (L0, k=39) with T0SZ=25 (n=39)', tg: 0, sl0: 2, t0sz: 25 },
    { name: '4K SL0=1 (L1) with T0SZ=20 (n=44: 32 tables)', tg: 0, sl0: 1, t0sz: 20 },
    { name: '16K SL0=0 (L3, k=14) with T0SZ=34 (n=30: 32 tables)', tg: 2, sl0: 0, t0sz: 34 },
    { name: '16K SL0=2 (L1, k=36) with T0SZ=28 (n=36)', tg: 2, sl0: 2, t0sz: 28 },
    { name: '64K SL0=2 (L1, k=42) with T0SZ=22 (n=42)', tg: 1, sl0: 2, t0sz: 22 },
    { name: '64K SL0=0 (L3, k=16) with T0SZ=30 (n=34: 32 tables)', tg: 1, sl0: 0, t0sz: 30 },
    { name: '4K SL0=3 (reserved without TTST)', tg: 0, sl0: 3, t0sz: 36 },
    { name: '16K SL0=3 (L0 needs DS)', tg: 2, sl0: 3, t0sz: 16 },
    { name: '64K SL0=3 (reserved)', tg: 1, sl0: 3, t0sz: 35 },
  ])('an inconsistent combination gives C_BAD_STE: $name', (c) => {
    const env = s2Env({ S2TG: c.tg, S2SL0: c.sl0, S2T0SZ: c.t0sz });
    expect(env.dma({ sid: SID, addr: 0x1000n }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({ type: 'C_BAD_STE', sid: SID, fields: {} });
  });
});

// Stage-2 only with a TableBuilder: 4K, S2T0SZ=25 (n=39), SL0=1 (L1).
const IPA = 0x12_3456_7abcn;
const IPA_PAGE = 0x12_3456_7000n;
const PA = 0x4200_0abcn;

function s2Mapped(attrs: MapAttrs, ste: SteExtra = {}): () => Env {
  return () => {
    const env = s2Env(ste);
    TableBuilder.of(env.mem, 2, '4K', 39, 1, S2TTB).map(IPA, 0x4200_0000n, 3, attrs);
    return env;
  };
}

const ACCESSES = [
  { write: false, instr: false, priv: true },
  { write: true, instr: false, priv: true },
  { write: false, instr: true, priv: true },
  { write: false, instr: false, priv: false },
  { write: true, instr: false, priv: false },
  { write: false, instr: true, priv: false },
] as const;

/** 1/0 per access (privileged R W X, unprivileged R W X), each on a fresh SMMU; faults must be stage-2 F_PERMISSION, CLASS=IN. */
function six(make: () => Env): number[] {
  return ACCESSES.map((a) => {
    const env = make();
    const r = env.dma({ sid: SID, addr: IPA, ...a });
    if (r.outcome === 'translated') {
      expect(r.pa).toBe(PA);
      return 1;
    }
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: {
        STAG: 0n, Stall: 0n, PnU: a.priv ? 1n : 0n, InD: a.instr ? 1n : 0n, RnW: a.write ? 0n : 1n,
        S2: 1n, CLASS: 2n, InputAddr: IPA, IPA: IPA_PAGE,
      },
    });
    return 0;
  });
}

describe('stage 2 permissions (Arm ARM Tables D8-76/78, vmsa-notes §3)', () => {
  //                    pR pW pX  uR uW uX
  it.each([
    { s2ap: '00', v: 0, want: [0, 0, 1, 0, 0, 1] }, // no data access; execute-only is valid (XN=00)
    { s2ap: '01', v: 1, want: [1, 0, 1, 1, 0, 1] },
    { s2ap: '10', v: 2, want: [0, 1, 1, 0, 1, 1] },
    { s2ap: '11', v: 3, want: [1, 1, 1, 1, 1, 1] },
  ])('S2AP=$s2ap', ({ v, want }) => {
    expect(six(s2Mapped({ ap: v }))).toEqual(want);
  });

  // Default profile: SMMU_IDR3.XNX=1, so XN is 2 bits (bits [54:53]).
  it.each([
    { xn: '00', v: 0, want: [1, 1, 1, 1, 1, 1] },
    { xn: '01', v: 1, want: [1, 1, 0, 1, 1, 1] }, // no EL1 (privileged) execute
    { xn: '10', v: 2, want: [1, 1, 0, 1, 1, 0] },
    { xn: '11', v: 3, want: [1, 1, 1, 1, 1, 0] }, // no EL0 (unprivileged) execute
  ])('XN[1:0]=$xn with XNX', ({ v, want }) => {
    expect(six(s2Mapped({ ap: 3, xn: v }))).toEqual(want);
  });

  it.each([
    { xn: '01', v: 1, want: [1, 1, 1, 1, 1, 1] }, // bit 53 is RES0 without XNX: no effect
    { xn: '10', v: 2, want: [1, 1, 0, 1, 1, 0] },
  ])('without SMMU_IDR3.XNX only bit 54 is XN (XN[1:0]=$xn)', ({ v, want }) => {
    const profile = { ...DEFAULT_PROFILE, IDR3: DEFAULT_PROFILE.IDR3 & ~0x10 };
    const make = (): Env => {
      const env = s2Env({}, { profile });
      TableBuilder.of(env.mem, 2, '4K', 39, 1, S2TTB).map(IPA, 0x4200_0000n, 3, { ap: 3, xn: v });
      return env;
    };
    expect(six(make)).toEqual(want);
  });

  it('a write with InD set is a data write (S2AP=01, executable: refused as a write with InD=0)', () => {
    const env = s2Mapped({ ap: 1 })();
    expect(env.dma({ sid: SID, addr: IPA, write: true, instr: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 1n, CLASS: 2n, InputAddr: IPA, IPA: IPA_PAGE },
    });
    // S2AP=10 (write-only) with XN=10 (never executable): the InD write succeeds.
    expect(s2Mapped({ ap: 2, xn: 2 })().dma({ sid: SID, addr: IPA, write: true, instr: true })).toMatchObject({ outcome: 'translated', pa: PA });
  });

  it('permissions are re-checked on a TLB hit', () => {
    const env = s2Mapped({ ap: 1 })();
    expect(env.dma({ sid: SID, addr: IPA })).toEqual({ outcome: 'translated', pa: PA, detail: 'stage 2' });
    expect(env.dma({ sid: SID, addr: IPA + 4n, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toMatchObject({ type: 'F_PERMISSION', fields: { S2: 1n, CLASS: 2n, RnW: 0n, IPA: IPA_PAGE, InputAddr: IPA + 4n } });
  });
});

describe('stage 2 access flag', () => {
  it('AF=0 gives F_ACCESS with S2=1 and the IPA', () => {
    const env = s2Mapped({ af: false })();
    expect(env.dma({ sid: SID, addr: IPA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_ACCESS', IPA, 'IN', IPA_PAGE));
  });

  it('STE.S2AFFD=1 suppresses it', () => {
    expect(s2Mapped({ af: false }, { S2AFFD: 1 })().dma({ sid: SID, addr: IPA })).toEqual({ outcome: 'translated', pa: PA, detail: 'stage 2' });
  });

  it('F_ACCESS has priority over F_PERMISSION (write to S2AP=01 with AF=0)', () => {
    const env = s2Mapped({ af: false, ap: 1 })();
    expect(env.dma({ sid: SID, addr: IPA, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_ACCESS', IPA, 'IN', IPA_PAGE, { write: true }));
  });
});

describe('stage 2 address size (STE.S2PS)', () => {
  // 4K L1 n=39, IPA 0x12_3456_7abc: L1 idx IPA[38:30] = 0x48 -> 0x100_0240; L2 idx 0x1a2 -> T+0xd10; L3 idx 0x167 -> T+0xb38.
  const L1 = 0x100_0240n;

  it('S2PS=32 bits: a page output at 0x1_0000_0000 gives F_ADDR_SIZE, S2=1', () => {
    const env = s2Env({ S2PS: 0 });
    env.mem.write(L1, 8, 0x200_0000n | TABLE);
    env.mem.write(0x200_0d10n, 8, 0x300_0000n | TABLE);
    env.mem.write(0x300_0b38n, 8, 0x1_0000_0000n | S2_PAGE);
    expect(env.dma({ sid: SID, addr: IPA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_ADDR_SIZE', IPA, 'IN', IPA_PAGE));
  });

  it('S2PS=32 bits: a table descriptor pointing at 0x1_0000_0000 gives F_ADDR_SIZE, S2=1', () => {
    const env = s2Env({ S2PS: 0 });
    env.mem.write(L1, 8, 0x1_0000_0000n | TABLE);
    expect(env.dma({ sid: SID, addr: IPA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_ADDR_SIZE', IPA, 'IN', IPA_PAGE));
  });

  it('S2PS=40 bits: a 1 GiB block at 0xff_c000_0000 translates, one at 0x100_0000_0000 faults', () => {
    const ok = s2Env({ S2PS: 2 });
    ok.mem.write(L1, 8, 0xff_c000_0000n | 0x7fdn);
    // PA = 0xff_c000_0000 | IPA[29:0] (0x3456_7abc)
    expect(ok.dma({ sid: SID, addr: IPA })).toEqual({ outcome: 'translated', pa: 0xff_f456_7abcn, detail: 'stage 2' });
    const bad = s2Env({ S2PS: 2 });
    bad.mem.write(L1, 8, 0x100_0000_0000n | 0x7fdn);
    expect(bad.dma({ sid: SID, addr: IPA }).outcome).toBe('fault');
    expect(onlyEvent(bad)).toEqual(s2Fault('F_ADDR_SIZE', IPA, 'IN', IPA_PAGE));
  });

  it('descriptor bits [51:48] are not address bits with a 48-bit PA', () => {
    const env = s2Env();
    const hi = 0xfn << 48n;
    env.mem.write(L1, 8, 0x200_0000n | TABLE | hi);
    env.mem.write(0x200_0d10n, 8, 0x300_0000n | TABLE | hi);
    env.mem.write(0x300_0b38n, 8, 0x4200_0000n | S2_PAGE | hi);
    expect(env.dma({ sid: SID, addr: IPA })).toEqual({ outcome: 'translated', pa: PA, detail: 'stage 2' });
  });
});

describe('stage 1 bypassed (Config=S2): input range', () => {
  it('an input at or above 2^IAS (48 bits) is a stage-1 F_ADDR_SIZE: S2=0, CLASS=IN, no IPA (§3.4.1)', () => {
    const env = s2Mapped({})();
    const addr = 0x1_0000_0000_0000n; // 2^48
    expect(env.dma({ sid: SID, addr }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_ADDR_SIZE', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: addr },
    });
  });

  it('an IPA beyond the S2T0SZ range is a stage-2 F_TRANSLATION with the IPA (T0SZ=25: 2^39)', () => {
    const env = s2Mapped({})();
    const addr = 0x80_0000_0123n;
    expect(env.dma({ sid: SID, addr, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', addr, 'IN', 0x80_0000_0000n, { write: true }));
  });
});

describe('stage 2 external abort and STE.S2R', () => {
  it('an abort on a stage-2 descriptor of the input IPA: F_WALK_EABT, S2=1, CLASS=IN, FetchAddr', () => {
    const env = s2Mapped({})();
    // TableBuilder: root L1 at S2TTB, L2 table at S2TTB+0x1000, L3 at S2TTB+0x2000; L2 idx 0x1a2 -> 0x100_1d10.
    env.mem.declareAbort(0x100_1d10n, 8n);
    expect(env.dma({ sid: SID, addr: IPA, priv: false }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_WALK_EABT', sid: SID,
      fields: { PnU: 0n, InD: 0n, RnW: 1n, S2: 1n, CLASS: 2n, InputAddr: IPA, FetchAddr: 0x100_1d10n },
    });
  });

  it('S2R=0: stage-2 translation-related faults abort without a record', () => {
    const env = s2Mapped({ ap: 1 }, { S2R: 0 })();
    expect(env.dma({ sid: SID, addr: IPA, write: true }).outcome).toBe('abort'); // F_PERMISSION
    expect(env.dma({ sid: SID, addr: 0x55_0000_0000n }).outcome).toBe('abort'); // F_TRANSLATION
    expect(env.dma({ sid: SID, addr: 0x80_0000_0000n }).outcome).toBe('abort'); // out of the S2T0SZ range
    expect(env.rec.events).toEqual([]);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
  });

  it('S2R=0 does not suppress F_WALK_EABT', () => {
    const env = s2Mapped({}, { S2R: 0 })();
    env.mem.declareAbort(0x100_1d10n, 8n);
    expect(env.dma({ sid: SID, addr: IPA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toMatchObject({ type: 'F_WALK_EABT', fields: { S2: 1n, CLASS: 2n, FetchAddr: 0x100_1d10n } });
  });
});

// ---------------------------------------------------------------------------
// Nested.
//
// Stage 2: 4K, S2T0SZ=25 (n=39), SL0=1 (L1), S2TTB=0x100_0000, built with TableBuilder in this order:
//   IPA 0x4000_0000 (CD page):         L1 idx IPA[38:30]=1 -> 0x100_0008 -> L2 table 0x100_1000 (idx 0 -> 0x100_1000)
//                                      -> L3 table 0x100_2000, idx IPA[20:12]=0 -> 0x100_2000
//   IPA 0x4000_1000/2000/3000 (S1 L1/L2/L3 tables): L3 idx 1/2/3 -> 0x100_2008/0x100_2010/0x100_2018
//   IPA 0x8000_5000 (output page):     L1 idx 2 -> 0x100_0010 -> L2 table 0x100_3000 -> L3 table 0x100_4000, idx 5 -> 0x100_4028
// Structure pages map to PA = IPA + 0x10_0000_0000; the output page to PA 0x5_1234_5000.
// Stage 1: 4K, T0SZ=25 (n=39, start L1), TTB0 = IPA 0x4000_1000; VA 0x12_3456_7abc:
//   L1 idx VA[38:30]=0x48  -> desc IPA 0x4000_1000 + 0x240 = 0x4000_1240 -> L2 table IPA 0x4000_2000
//   L2 idx VA[29:21]=0x1a2 -> desc IPA 0x4000_2000 + 0xd10 = 0x4000_2d10 -> L3 table IPA 0x4000_3000
//   L3 idx VA[20:12]=0x167 -> desc IPA 0x4000_3000 + 0xb38 = 0x4000_3b38 -> page IPA 0x8000_5000
// Final PA = 0x5_1234_5000 | 0xabc.

const OFF = 0x10_0000_0000n;
const CD_IPA = 0x4000_0040n;
const VA = 0x12_3456_7abcn;
const OUT_IPA = 0x8000_5000n;
const FINAL_PA = 0x5_1234_5abcn;

type Page = 'cd' | 'l1' | 'l2' | 'l3' | 'out';
const PAGE_IPA: Record<Page, bigint> = { cd: 0x4000_0000n, l1: 0x4000_1000n, l2: 0x4000_2000n, l3: 0x4000_3000n, out: OUT_IPA };
const S2_LEAF: Record<Page, bigint> = { cd: 0x100_2000n, l1: 0x100_2008n, l2: 0x100_2010n, l3: 0x100_2018n, out: 0x100_4028n };

interface NestedOpts {
  ste?: SteExtra;
  cd?: CdExtra;
  /** Stage-2 attributes per page; null leaves the page unmapped (the tables above it still exist). */
  s2?: Partial<Record<Page, MapAttrs | null>>;
  /** Override the PA a page maps to. */
  pa?: Partial<Record<Page, bigint>>;
  /** Override stage-1 descriptors: by descriptor IPA. */
  s1?: Partial<Record<'l1' | 'l2' | 'l3', bigint>>;
  env?: EnvOptions;
}

function nested(o: NestedOpts = {}): Env {
  const env = makeEnv(o.env);
  writeSte(env, SID, {
    V: 1, Config: 7, S1ContextPtr: CD_IPA, S2VMID: 1, S2T0SZ: 25, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB,
    ...o.ste,
  });
  const tb = TableBuilder.of(env.mem, 2, '4K', 39, 1, S2TTB);
  const paOf = (p: Page): bigint => o.pa?.[p] ?? (p === 'out' ? 0x5_1234_5000n : PAGE_IPA[p] + OFF);
  for (const p of ['cd', 'l1', 'l2', 'l3', 'out'] as const) {
    const attrs = o.s2?.[p];
    const slot = attrs === null ? tb.slot(PAGE_IPA[p], 3) : tb.map(PAGE_IPA[p], paOf(p), 3, attrs ?? {});
    expect(slot).toBe(S2_LEAF[p]); // the stage-2 layout described above
  }
  const s1 = (p: 'l1' | 'l2' | 'l3', ipa: bigint, d: bigint): void => {
    env.mem.write(paOf(p) + (ipa & 0xfffn), 8, o.s1?.[p] ?? d);
  };
  writeQwords(env.mem, paOf('cd') + (CD_IPA & 0xfffn), basicCd(PAGE_IPA.l1, 1, { T0SZ: 25, ...o.cd }));
  s1('l1', 0x4000_1240n, PAGE_IPA.l2 | TABLE);
  s1('l2', 0x4000_2d10n, PAGE_IPA.l3 | TABLE);
  s1('l3', 0x4000_3b38n, OUT_IPA | S1_PAGE);
  return env;
}

describe('nested: a complete translation', () => {
  it('translates VA -> IPA -> PA through a CD and stage-1 tables that are all at IPAs', () => {
    const env = nested();
    expect(env.dma({ sid: SID, addr: VA })).toEqual({ outcome: 'translated', pa: FINAL_PA, detail: 'stage 1+2' });
    expect(env.dma({ sid: SID, addr: VA + 4n, write: true })).toEqual({ outcome: 'translated', pa: FINAL_PA + 4n, detail: 'stage 1+2 (TLB hit)' });
    expect(env.rec.events).toEqual([]);
  });

  it('the stage-1 tables are read at PA = stage-2 translation of their IPA (moving a table page moves the walk)', () => {
    // Map the S1 L3 table page to another PA that holds a different leaf: output IPA 0x8000_5000 is then not used.
    const env = nested({ pa: { l3: 0x7_7777_7000n } });
    // The default leaf was written to the new PA; overwrite it there with a leaf pointing to a different IPA page that is unmapped.
    env.mem.write(0x7_7777_7b38n, 8, 0x8000_6000n | S1_PAGE);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'IN', 0x8000_6000n));
  });
});

describe('nested: stage-2 faults are reported with S2=1, the CLASS and the IPA', () => {
  it('CD IPA not mapped at stage 2: F_TRANSLATION, CLASS=CD, IPA = CD address (4K aligned)', () => {
    const env = nested({ s2: { cd: null } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'CD', 0x4000_0000n));
  });

  it('a stage-1 table page not mapped at stage 2: F_TRANSLATION, CLASS=TT, IPA = descriptor IPA (0x4000_2d10 -> 0x4000_2000)', () => {
    const env = nested({ s2: { l2: null } });
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'TT', 0x4000_2000n, { write: true }));
  });

  it('the TTB0 table page itself not mapped: CLASS=TT, IPA 0x4000_1000', () => {
    const env = nested({ s2: { l1: null } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'TT', 0x4000_1000n));
  });

  it('the output IPA not mapped: F_TRANSLATION, CLASS=IN, IPA = stage-1 output (0x8000_5abc -> 0x8000_5000)', () => {
    const env = nested({ s2: { out: null } });
    expect(env.dma({ sid: SID, addr: VA, instr: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'IN', OUT_IPA, { instr: true }));
  });

  it('no stage-2 read permission on a stage-1 table page: F_PERMISSION, CLASS=TT, TTRnW=1', () => {
    const env = nested({ s2: { l2: { ap: 2 } } }); // S2AP=10: write-only
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 1n, CLASS: 1n, TTRnW: 1n, InputAddr: VA, IPA: 0x4000_2000n },
    });
  });

  it('no stage-2 read permission on the CD page: F_PERMISSION, CLASS=CD, IPA = CD address', () => {
    const env = nested({ s2: { cd: { ap: 0 } } });
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    // TTRnW is only defined for CLASS=TT (§7.3.16): not checked.
    expect(onlyEvent(env)).toMatchObject({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 1n, CLASS: 0n, InputAddr: VA, IPA: 0x4000_0000n },
    });
  });

  it('a stage-1 table page that stage 2 makes execute-never is still readable by the walk', () => {
    expect(nested({ s2: { l3: { ap: 1, xn: 2 } } }).dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
  });

  it('stage-2 AF=0 on a table page: F_ACCESS, CLASS=TT; STE.S2AFFD=1 suppresses it', () => {
    const env = nested({ s2: { l1: { af: false } } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_ACCESS', VA, 'TT', 0x4000_1000n));
    expect(nested({ s2: { l1: { af: false } }, ste: { S2AFFD: 1 } }).dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
  });

  it('stage-2 permission on the output IPA: F_PERMISSION, CLASS=IN, IPA (no TTRnW for CLASS=IN)', () => {
    const env = nested({ s2: { out: { ap: 1 } } });
    expect(env.dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault'); // from the combined TLB entry
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 1n, CLASS: 2n, InputAddr: VA, IPA: OUT_IPA },
    });
  });

  it('stage-2 XN on the output page: instruction fetch faults at stage 2 (privileged, XN=01)', () => {
    const env = nested({ s2: { out: { xn: 1 } } });
    expect(env.dma({ sid: SID, addr: VA, instr: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toMatchObject({ type: 'F_PERMISSION', fields: { S2: 1n, CLASS: 2n, InD: 1n, PnU: 1n, IPA: OUT_IPA } });
    expect(nested({ s2: { out: { xn: 1 } } }).dma({ sid: SID, addr: VA, instr: true, priv: false })).toMatchObject({ outcome: 'translated' });
  });

  it('S2PS smaller than a table page PA: F_ADDR_SIZE, S2=1, CLASS=TT; for the output page CLASS=IN', () => {
    // S2PS=0b010 (40 bits): structure PAs 0x10_4000_x000 are below 2^40 = 0x100_0000_0000.
    const tt = nested({ ste: { S2PS: 2 }, pa: { l3: 0x100_4000_3000n } });
    expect(tt.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(tt)).toEqual(s2Fault('F_ADDR_SIZE', VA, 'TT', 0x4000_3000n));
    const inp = nested({ ste: { S2PS: 2 }, pa: { out: 0x100_0000_0000n } });
    expect(inp.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(inp)).toEqual(s2Fault('F_ADDR_SIZE', VA, 'IN', OUT_IPA));
    const cd = nested({ ste: { S2PS: 2 }, pa: { cd: 0x200_4000_0000n } });
    expect(cd.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(cd)).toEqual(s2Fault('F_ADDR_SIZE', VA, 'CD', 0x4000_0000n));
  });
});

describe('nested: STE.S2PTW (stage-2 Device memory under stage-1 walks and CD fetches, §5.2)', () => {
  // MemAttr 0b0001: MemAttr[3:2]=00 -> Device-nGnRE.  0b0101: Normal Non-cacheable.
  it('S2PTW=1 and a Device stage-1 table page: F_PERMISSION, S2=1, CLASS=TT, TTRnW=1', () => {
    const env = nested({ ste: { S2PTW: 1 }, s2: { l1: { memattr: 0b0001 } } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 1n, CLASS: 1n, TTRnW: 1n, InputAddr: VA, IPA: 0x4000_1000n },
    });
  });

  it('S2PTW=0 with the same Device table page translates', () => {
    expect(nested({ s2: { l1: { memattr: 0b0001 } } }).dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
  });

  it('S2PTW=1 with a Normal Non-cacheable table page translates', () => {
    expect(nested({ ste: { S2PTW: 1 }, s2: { l2: { memattr: 0b0101 } } }).dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
  });

  it('S2PTW=1 does not apply to the data access itself (Device output page translates)', () => {
    expect(nested({ ste: { S2PTW: 1 }, s2: { out: { memattr: 0b0000 } } }).dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: FINAL_PA });
  });

  it('S2PTW=1 and a Device CD page: stage-2 F_PERMISSION with CLASS=CD', () => {
    const env = nested({ ste: { S2PTW: 1 }, s2: { cd: { memattr: 0b0001 } } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    // TTRnW is only valid for CLASS=TT (§7.3.16), so it is not checked here.
    expect(onlyEvent(env)).toMatchObject({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 1n, CLASS: 0n, InputAddr: VA, IPA: 0x4000_0000n },
    });
  });
});

describe('nested: stage-1 faults and their priority over stage 2 (§7.3.22)', () => {
  it('a stage-1 permission fault wins over a stage-2 fault on the output IPA', () => {
    // S1 leaf AP=10 (read-only); the output page is not mapped at stage 2.
    const ro = OUT_IPA | S1_PAGE | (2n << 6n);
    const env = nested({ s2: { out: null }, s1: { l3: ro } });
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: VA },
    });
    // A read passes stage 1 and then meets the stage-2 fault.
    const env2 = nested({ s2: { out: null }, s1: { l3: ro } });
    expect(env2.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env2)).toEqual(s2Fault('F_TRANSLATION', VA, 'IN', OUT_IPA));
  });

  it('a stage-1 access flag fault wins over a stage-2 fault on the output IPA', () => {
    const env = nested({ s2: { out: null }, s1: { l3: (OUT_IPA | S1_PAGE) & ~AF } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_ACCESS', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: VA },
    });
  });

  it('a stage-1 table address beyond CD.IPS is a stage-1 F_ADDR_SIZE (IPS=32: next table IPA 0x1_0000_0000)', () => {
    const env = nested({ cd: { IPS: 0 }, s1: { l2: 0x1_0000_0000n | TABLE } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_ADDR_SIZE', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: VA },
    });
  });

  it('a stage-1 output beyond CD.IPS is a stage-1 F_ADDR_SIZE, before any stage-2 check of the output', () => {
    const env = nested({ cd: { IPS: 0 }, s1: { l3: 0x1_0000_0000n | S1_PAGE } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toMatchObject({ type: 'F_ADDR_SIZE', fields: { S2: 0n, CLASS: 2n } });
  });

  it('a stage-1 table IPA within IPS but beyond S2T0SZ: stage-2 F_TRANSLATION, CLASS=TT', () => {
    // L2 descriptor -> next table at IPA 0x80_0000_0000 (2^39); L3 descriptor IPA = 0x80_0000_0000 + 0xb38.
    const env = nested({ s1: { l2: 0x80_0000_0000n | TABLE } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'TT', 0x80_0000_0000n));
  });

  it('a stage-1 output IPA beyond S2T0SZ: stage-2 F_TRANSLATION, CLASS=IN, IPA = output', () => {
    const env = nested({ s1: { l3: 0x100_0000_0000n | S1_PAGE } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s2Fault('F_TRANSLATION', VA, 'IN', 0x100_0000_0000n));
  });

  it('an invalid stage-1 descriptor is a stage-1 F_TRANSLATION (S2=0, CLASS=IN)', () => {
    const env = nested({ s1: { l2: 0n } });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_TRANSLATION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: VA },
    });
  });
});

describe('nested: external aborts (F_WALK_EABT, §7.3.12)', () => {
  const eabt = (s2: 0n | 1n, cls: bigint, fetch: bigint): EventRecord => ({
    type: 'F_WALK_EABT', sid: SID,
    fields: { PnU: 1n, InD: 0n, RnW: 1n, S2: s2, CLASS: cls, InputAddr: VA, FetchAddr: fetch },
  });

  it('on a stage-2 descriptor while translating a stage-1 descriptor IPA: S2=1, CLASS=TT, FetchAddr = S2 descriptor PA', () => {
    const env = nested();
    env.mem.declareAbort(S2_LEAF.l2, 8n); // S2 L3 descriptor for IPA page 0x4000_2000 at 0x100_2010
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(eabt(1n, 1n, 0x100_2010n));
  });

  it('on the stage-1 descriptor itself: S2=0, CLASS=TT, FetchAddr = its PA', () => {
    const env = nested();
    env.mem.declareAbort(0x10_4000_2d10n, 8n); // L2 descriptor IPA 0x4000_2d10 + 0x10_0000_0000
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(eabt(0n, 1n, 0x10_4000_2d10n));
  });

  it('on a stage-2 descriptor of the output IPA: S2=1, CLASS=IN', () => {
    const env = nested();
    env.mem.declareAbort(S2_LEAF.out, 8n);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(eabt(1n, 2n, 0x100_4028n));
  });

  it('on a stage-2 descriptor of the CD IPA: S2=1, CLASS=CD', () => {
    const env = nested();
    env.mem.declareAbort(S2_LEAF.cd, 8n);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(eabt(1n, 0n, 0x100_2000n));
  });

  it('are recorded with STE.S2R=0 and CD.R=0', () => {
    const env = nested({ ste: { S2R: 0 }, cd: { R: 0 } });
    env.mem.declareAbort(S2_LEAF.l3, 8n);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(eabt(1n, 1n, 0x100_2018n));
  });

  // IHI0070 §7.3.10 (spec-notes §4.1, F_CD_FETCH): FetchAddr is the PA of the CD access that aborted; with stage 2
  // the CD address is an IPA and the fetch goes to its stage-2 output (the Secure case even says the PA space comes
  // from STE.S2SA).  The model reports the CD IPA (Smmu.cdFor passes cdAddr, not the translated PA).
  it('an abort on the CD fetch itself: F_CD_FETCH with FetchAddr = the CD PA (not its IPA)', () => {
    const env = nested();
    env.mem.declareAbort(0x10_4000_0040n, 64n);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({ type: 'F_CD_FETCH', sid: SID, fields: { FetchAddr: 0x10_4000_0040n } });
  });
});

describe('nested: recording (§5.5)', () => {
  it('STE.S2R=0 suppresses stage-2 fault records (CD, TT and IN classes)', () => {
    for (const p of ['cd', 'l2', 'out'] as const) {
      const env = nested({ ste: { S2R: 0 }, s2: { [p]: null } });
      expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('abort');
      expect(env.rec.events).toEqual([]);
    }
  });

  it('CD.R=0 suppresses stage-1 fault records but not stage-2 ones (STE.S2R=1)', () => {
    const s1 = nested({ cd: { R: 0 }, s1: { l3: OUT_IPA | S1_PAGE | (2n << 6n) } });
    expect(s1.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('abort');
    expect(s1.rec.events).toEqual([]);
    const s2 = nested({ cd: { R: 0 }, s2: { out: null } });
    expect(s2.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(s2)).toEqual(s2Fault('F_TRANSLATION', VA, 'IN', OUT_IPA));
  });
});
