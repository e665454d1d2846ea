/**
 * End-to-end stage-1 translation through Smmu.translate (STE Config=0b101):
 * granules and start levels, blocks, permissions, the access flag, address
 * size, the input range (TTB0/TTB1, EPDx, TBI), external aborts and CD.R.
 *
 * Sources: IHI0070 §3.4, §5.4, §5.5, §7.3.12-§7.3.16, §7.3.22 (spec-notes §4-§5);
 * Arm ARM D8 (vmsa-notes §1-§7).
 */
import { describe, expect, it } from '@jest/globals';
import type { CdField } from '../../src/model/cd.js';
import { eventType, type EventRecord } from '../../src/model/events.js';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import type { SteField } from '../../src/model/ste.js';
import { basicCd, makeEnv, TableBuilder, writeQwords, writeSte, type Env, type EnvOptions, type MapAttrs } from '../helpers/env.js';

const SID = 3;
const CD_ADDR = 0x9000_0000n;
const TTB = 0x10_0000n;
const T1 = 0x20_0000n, T2 = 0x30_0000n, T3 = 0x40_0000n;
const OA = 0x8_7654_0000n;
/** Stage-1 page: [1:0]=0b11, AttrIndx 0, AP=00, SH=ISH, AF=1.  Block: the same with [1:0]=0b01. */
const PAGE = 0x703n, BLOCK = 0x701n, TABLE = 0x3n;
const AF = 1n << 10n;

type CdExtra = Partial<Record<CdField, bigint | number>>;
type SteExtra = Partial<Record<SteField, bigint | number>>;

/** SMMU with SID 3 -> STE Config=S1 -> CD at 0x9000_0000 (basicCd: 4K, T0SZ=16, IPS=48, R=1, A=1, EPD1=1). */
function s1Env(cd: CdExtra = {}, o: EnvOptions = {}, ste: SteExtra = {}, ttb = TTB): Env {
  const env = makeEnv(o);
  writeSte(env, SID, { V: 1, Config: 5, S1ContextPtr: CD_ADDR, ...ste });
  writeQwords(env.mem, CD_ADDR, basicCd(ttb, 1, cd));
  return env;
}

function put(env: Env, entries: readonly (readonly [bigint, bigint])[]): void {
  for (const [a, d] of entries) env.mem.write(a, 8, d);
}

/** The one event written, with only the fields its type carries (§7.3). */
function onlyEvent(env: Env): EventRecord {
  expect(env.rec.lost).toEqual([]);
  expect(env.rec.events).toHaveLength(1);
  const e = env.rec.events[0]!;
  const own = new Set<string>(eventType(e.type).fields);
  return { ...e, fields: Object.fromEntries(Object.entries(e.fields).filter(([k]) => own.has(k))) };
}

/** Expected stage-1 translation-class record (S2=0, CLASS=IN, no IPA: IPA is only valid for stage-2 faults). */
function s1Fault(type: 'F_TRANSLATION' | 'F_ADDR_SIZE' | 'F_ACCESS' | 'F_PERMISSION', addr: bigint, o: { write?: boolean; instr?: boolean; priv?: boolean } = {}): EventRecord {
  const fields: Record<string, bigint> = {
    STAG: 0n, Stall: 0n, PnU: o.priv === false ? 0n : 1n, InD: o.instr && !o.write ? 1n : 0n, RnW: o.write ? 0n : 1n,
    S2: 0n, CLASS: 2n, InputAddr: addr,
  };
  return { type, sid: SID, fields };
}

// ---------------------------------------------------------------------------

describe('stage 1: every granule and start level', () => {
  // Same geometry as walk.test.ts: TTB0 = 0x10_0000, next tables at T1/T2/T3, page at OA = 0x8_7654_0000.
  // TG0 encoding (§5.4): 0 = 4K, 1 = 64K, 2 = 16K.
  const CASES = [
    // VA[47:39]=0x1a5 -> TTB+0xd28; VA[38:30]=0x0c3 -> T1+0x618; VA[29:21]=0x111 -> T2+0x888; VA[20:12]=0x1ff -> T3+0xff8
    { name: '4K T0SZ=16 (L0)', tg0: 0, t0sz: 16, va: 0xd2b0_e23f_fabcn, descs: [0x10_0d28n, 0x20_0618n, 0x30_0888n, 0x40_0ff8n], pa: 0x8_7654_0abcn },
    // VA[38:30]=0x1f0 -> TTB+0xf80; VA[29:21]=0x002 -> T1+0x10; VA[20:12]=0x155 -> T2+0xaa8
    { name: '4K T0SZ=25 (L1)', tg0: 0, t0sz: 25, va: 0x7c_0055_5123n, descs: [0x10_0f80n, 0x20_0010n, 0x30_0aa8n], pa: 0x8_7654_0123n },
    // VA[29:21]=0x1c7 -> TTB+0xe38; VA[20:12]=0x0a9 -> T1+0x548
    { name: '4K T0SZ=34 (L2)', tg0: 0, t0sz: 34, va: 0x38ea_9ff8n, descs: [0x10_0e38n, 0x20_0548n], pa: 0x8_7654_0ff8n },
    // VA[47]=1 -> TTB+8; VA[46:36]=0x5a5 -> T1+0x2d28; VA[35:25]=0x123 -> T2+0x918; VA[24:14]=0x7ff -> T3+0x3ff8
    { name: '16K T0SZ=16 (L0)', tg0: 2, t0sz: 16, va: 0xda52_47ff_fabcn, descs: [0x10_0008n, 0x20_2d28n, 0x30_0918n, 0x40_3ff8n], pa: 0x8_7654_3abcn },
    // VA[46:36]=0x7e1 -> TTB+0x3f08; VA[35:25]=0x001 -> T1+8; VA[24:14]=0x400 -> T2+0x2000
    { name: '16K T0SZ=17 (L1)', tg0: 2, t0sz: 17, va: 0x7e10_0300_0010n, descs: [0x10_3f08n, 0x20_0008n, 0x30_2000n], pa: 0x8_7654_0010n },
    // VA[35:25]=0x6d3 -> TTB+0x3698; VA[24:14]=0x2b6 -> T1+0x15b0
    { name: '16K T0SZ=28 (L2)', tg0: 2, t0sz: 28, va: 0xd_a6ad_a000n, descs: [0x10_3698n, 0x20_15b0n], pa: 0x8_7654_2000n },
    // VA[24:14]=0x7a9 -> TTB+0x3d48
    { name: '16K T0SZ=39 (L3)', tg0: 2, t0sz: 39, va: 0x1ea_5234n, descs: [0x10_3d48n], pa: 0x8_7654_1234n },
    // VA[47:42]=0x2d -> TTB+0x168; VA[41:29]=0x1abc -> T1+0xd5e0; VA[28:16]=0x0f0f -> T2+0x7878
    { name: '64K T0SZ=16 (L1)', tg0: 1, t0sz: 16, va: 0xb757_8f0f_fedcn, descs: [0x10_0168n, 0x20_d5e0n, 0x30_7878n], pa: 0x8_7654_fedcn },
    // VA[41:29]=0x1fff -> TTB+0xfff8; VA[28:16]=0x0123 -> T1+0x918
    { name: '64K T0SZ=22 (L2)', tg0: 1, t0sz: 22, va: 0x3ff_e123_0008n, descs: [0x10_fff8n, 0x20_0918n], pa: 0x8_7654_0008n },
    // VA[28:16]=0x1a2b -> TTB+0xd158
    { name: '64K T0SZ=35 (L3)', tg0: 1, t0sz: 35, va: 0x1a2b_8000n, descs: [0x10_d158n], pa: 0x8_7654_8000n },
  ];

  it.each(CASES)('$name translates to the hand-computed PA, and only through these descriptors', (c) => {
    const env = s1Env({ TG0: c.tg0, T0SZ: c.t0sz });
    const next = [T1, T2, T3];
    put(env, c.descs.map((a, i) => [a, i === c.descs.length - 1 ? OA | PAGE : next[i]! | TABLE] as const));
    expect(env.dma({ sid: SID, addr: c.va })).toEqual({ outcome: 'translated', pa: c.pa, detail: 'stage 1' });
    // Clearing the leaf (after invalidating the TLB) proves this was the descriptor used.
    env.cmd('TLBI_NH_ALL', {});
    env.mem.write(c.descs[c.descs.length - 1]!, 8, 0n);
    expect(env.dma({ sid: SID, addr: c.va }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', c.va));
  });

  it('the first address past the T0SZ region faults (4K T0SZ=25: VA 0x80_0000_0000 = 2^39)', () => {
    const env = s1Env({ T0SZ: 25 });
    expect(env.dma({ sid: SID, addr: 0x80_0000_0000n }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', 0x80_0000_0000n));
  });
});

describe('stage 1: blocks', () => {
  it('4K level-1 block (1 GiB)', () => {
    // VA 0xd2b0_e23f_fabc: L0 VA[47:39]=0x1a5 -> 0x10_0d28 -> T1; L1 VA[38:30]=0x0c3 -> 0x20_0618 = block 0x40_0000_0000.
    // PA = 0x40_0000_0000 | VA[29:0] (0x223f_fabc) = 0x40_223f_fabc
    const env = s1Env();
    put(env, [[0x10_0d28n, T1 | TABLE], [0x20_0618n, 0x40_0000_0000n | BLOCK]]);
    expect(env.dma({ sid: SID, addr: 0xd2b0_e23f_fabcn })).toMatchObject({ outcome: 'translated', pa: 0x40_223f_fabcn });
  });

  it('4K level-2 block (2 MiB)', () => {
    // L2 VA[29:21]=0x111 -> 0x30_0888 = block 0x1_2340_0000; PA = block | VA[20:0] (0x1f_fabc) = 0x1_235f_fabc
    const env = s1Env();
    put(env, [[0x10_0d28n, T1 | TABLE], [0x20_0618n, T2 | TABLE], [0x30_0888n, 0x1_2340_0000n | BLOCK]]);
    expect(env.dma({ sid: SID, addr: 0xd2b0_e23f_fabcn })).toMatchObject({ outcome: 'translated', pa: 0x1_235f_fabcn });
    // Another address in the same 2 MiB block: VA 0xd2b0_e220_0000 -> PA 0x1_2340_0000.
    expect(env.dma({ sid: SID, addr: 0xd2b0_e220_0000n })).toMatchObject({ outcome: 'translated', pa: 0x1_2340_0000n });
  });

  it('16K level-2 block (32 MiB)', () => {
    // VA 0xda52_47ff_fabc: L0 idx 1 -> 0x10_0008; L1 idx 0x5a5 -> 0x20_2d28; L2 idx 0x123 -> 0x30_0918 = block 0x2_0200_0000.
    // PA = block | VA[24:0] (0x1ff_fabc) = 0x2_03ff_fabc
    const env = s1Env({ TG0: 2 });
    put(env, [[0x10_0008n, T1 | TABLE], [0x20_2d28n, T2 | TABLE], [0x30_0918n, 0x2_0200_0000n | BLOCK]]);
    expect(env.dma({ sid: SID, addr: 0xda52_47ff_fabcn })).toMatchObject({ outcome: 'translated', pa: 0x2_03ff_fabcn });
  });

  it('64K level-2 block (512 MiB)', () => {
    // VA 0xb757_8f0f_fedc: L1 idx 0x2d -> 0x10_0168; L2 idx 0x1abc -> 0x20_d5e0 = block 0x3_2000_0000.
    // PA = block | VA[28:0] (0x0f0f_fedc) = 0x3_2f0f_fedc
    const env = s1Env({ TG0: 1 });
    put(env, [[0x10_0168n, T1 | TABLE], [0x20_d5e0n, 0x3_2000_0000n | BLOCK]]);
    expect(env.dma({ sid: SID, addr: 0xb757_8f0f_fedcn })).toMatchObject({ outcome: 'translated', pa: 0x3_2f0f_fedcn });
  });

  // A block where blocks are not permitted (Arm ARM R KRMJZ) and 0b01 at level 3 are Translation faults (vmsa-notes §6.2).
  it.each([
    { name: '4K level 0', tg0: 0, va: 0xd2b0_e23f_fabcn, entries: [[0x10_0d28n, 0x40_0000_0000n | BLOCK]] as [bigint, bigint][] },
    { name: '16K level 1', tg0: 2, va: 0xda52_47ff_fabcn, entries: [[0x10_0008n, T1 | TABLE], [0x20_2d28n, 0x40_0000_0000n | BLOCK]] as [bigint, bigint][] },
    { name: '64K level 1', tg0: 1, va: 0xb757_8f0f_fedcn, entries: [[0x10_0168n, 0x400_0000_0000n | BLOCK]] as [bigint, bigint][] },
    {
      name: '4K level 3 with bits[1:0]=0b01', tg0: 0, va: 0xd2b0_e23f_fabcn,
      entries: [[0x10_0d28n, T1 | TABLE], [0x20_0618n, T2 | TABLE], [0x30_0888n, T3 | TABLE], [0x40_0ff8n, OA | BLOCK]] as [bigint, bigint][],
    },
  ])('a block descriptor at $name gives F_TRANSLATION', (c) => {
    const env = s1Env({ TG0: c.tg0 });
    put(env, c.entries);
    const r = env.dma({ sid: SID, addr: c.va, write: true });
    expect(r.outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_TRANSLATION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: c.va },
    });
  });
});

// ---------------------------------------------------------------------------
// Permissions.

/** A 4K T0SZ=16 stage 1 built with TableBuilder at TTB. */
function withTables(cd: CdExtra = {}, o: EnvOptions = {}): { env: Env; tb: TableBuilder } {
  const env = s1Env(cd, o);
  return { env, tb: TableBuilder.of(env.mem, 1, '4K', 48, 0, TTB) };
}

const ACCESSES = [
  { write: false, instr: false, priv: true }, // privileged read
  { write: true, instr: false, priv: true }, // privileged write
  { write: false, instr: true, priv: true }, // privileged instruction fetch
  { write: false, instr: false, priv: false },
  { write: true, instr: false, priv: false },
  { write: false, instr: true, priv: false },
] as const;

/**
 * Run the six accesses at va (each on a fresh SMMU state from `make`, so every result comes from a
 * walk), check every fault is a stage-1 F_PERMISSION with the access attributes in the record, and
 * return 1 (translated) / 0 (faulted) per access.
 */
function six(make: () => Env, va: bigint, pa: bigint): number[] {
  return ACCESSES.map((a) => {
    const env = make();
    const r = env.dma({ sid: SID, addr: va, ...a });
    if (r.outcome === 'translated') {
      expect(r.pa).toBe(pa);
      return 1;
    }
    expect(onlyEvent(env)).toEqual(s1Fault('F_PERMISSION', va, a));
    return 0;
  });
}

const VA = 0x12_3456_7abcn;
const PA = 0x4200_0abcn;

function mapped(attrs: MapAttrs, cd: CdExtra = {}, tableBits = 0n, o: EnvOptions = {}): () => Env {
  return () => {
    const { env, tb } = withTables(cd, o);
    tb.slot(VA, 3, tableBits);
    tb.map(VA, 0x4200_0000n, 3, attrs);
    return env;
  };
}

describe('stage 1 permissions end to end: AP[2:1] x privilege x read/write/instruction', () => {
  //                 pR pW pX  uR uW uX     (Arm ARM Table D8-63 and R VWLLR; vmsa-notes §1.1, §1.4, §1.7)
  it.each([
    { ap: '00', v: 0, want: [1, 1, 1, 0, 0, 1] },
    { ap: '01', v: 1, want: [1, 1, 0, 1, 1, 1] },
    { ap: '10', v: 2, want: [1, 0, 1, 0, 0, 1] },
    { ap: '11', v: 3, want: [1, 0, 1, 1, 0, 1] },
  ])('AP=$ap', ({ v, want }) => {
    expect(six(mapped({ ap: v }), VA, PA)).toEqual(want);
  });

  it('re-checks permissions on a TLB hit (a write after a read to an AP=10 page faults)', () => {
    const env = mapped({ ap: 2 })();
    expect(env.dma({ sid: SID, addr: VA })).toEqual({ outcome: 'translated', pa: PA, detail: 'stage 1' });
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_PERMISSION', VA, { write: true }));
    // An unprivileged read after that also faults from the TLB entry (AP[1]=0: no EL0 access).
    expect(env.dma({ sid: SID, addr: VA, priv: false }).outcome).toBe('fault');
    expect(env.rec.events[1]).toMatchObject({ type: 'F_PERMISSION', fields: { PnU: 0n, RnW: 1n } });
  });

  it('UXN=1 and PXN=1', () => {
    expect(six(mapped({ ap: 1, uxn: true }), VA, PA)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(six(mapped({ ap: 0, pxn: true }), VA, PA)).toEqual([1, 1, 0, 0, 0, 1]);
  });

  it('CD.WXN works per privilege level (vmsa-notes §1.5)', () => {
    expect(six(mapped({ ap: 0 }, { WXN: 1 }), VA, PA)).toEqual([1, 1, 0, 0, 0, 1]);
    expect(six(mapped({ ap: 1 }, { WXN: 1 }), VA, PA)).toEqual([1, 1, 0, 1, 1, 0]);
    expect(six(mapped({ ap: 3 }, { WXN: 1 }), VA, PA)).toEqual([1, 0, 1, 1, 0, 1]);
  });

  it('CD.PAN: privileged data access to an EL0-accessible page faults, instruction fetch does not (vmsa-notes §1.6)', () => {
    expect(six(mapped({ ap: 1 }, { PAN: 1 }), VA, PA)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(six(mapped({ ap: 3 }, { PAN: 1 }), VA, PA)).toEqual([0, 0, 1, 1, 0, 1]);
    expect(six(mapped({ ap: 0 }, { PAN: 1 }), VA, PA)).toEqual([1, 1, 1, 0, 0, 1]);
  });

  it('a write with InD set is a data write: recorded with InD=0, RnW=0', () => {
    // AP=10 (read-only, executable): an "instruction" write is refused as a write.
    const env = mapped({ ap: 2 })();
    expect(env.dma({ sid: SID, addr: VA, write: true, instr: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_PERMISSION', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: VA }, // TTRnW: CLASS=TT only (§7.3.16)
    });
    // With AP=00 and both XN bits set, the same write succeeds (execute permission is not consulted).
    expect(mapped({ ap: 0, uxn: true, pxn: true })().dma({ sid: SID, addr: VA, write: true, instr: true })).toMatchObject({ outcome: 'translated', pa: PA });
  });
});

describe('stage 1 permissions end to end: hierarchical attributes and HAD', () => {
  const APT0 = 1n << 61n, APT1 = 1n << 62n, UXNT = 1n << 60n, PXNT = 1n << 59n;

  it('APTable bit 61 (no EL0 access) on an AP=01 page: EL0 loses data access, EL1 may execute', () => {
    expect(six(mapped({ ap: 1 }, {}, APT0), VA, PA)).toEqual([1, 1, 1, 0, 0, 1]);
  });

  it('APTable bit 62 (no write) on an AP=01 page', () => {
    expect(six(mapped({ ap: 1 }, {}, APT1), VA, PA)).toEqual([1, 0, 1, 1, 0, 1]);
  });

  it('UXNTable (bit 60) and PXNTable (bit 59)', () => {
    expect(six(mapped({ ap: 0 }, {}, UXNT), VA, PA)).toEqual([1, 1, 1, 0, 0, 0]);
    expect(six(mapped({ ap: 0 }, {}, PXNT), VA, PA)).toEqual([1, 1, 0, 0, 0, 1]);
  });

  it('CD.HAD0=1 (with SMMU_IDR3.HAD=1) disables APTable, UXNTable and PXNTable', () => {
    const all = APT0 | APT1 | UXNT | PXNT;
    // AP=01 without the table bits: the plain AP=01 row.
    expect(six(mapped({ ap: 1 }, { HAD0: 1 }, all), VA, PA)).toEqual([1, 1, 0, 1, 1, 1]);
  });

  it('CD.HAD0 has no effect when SMMU_IDR3.HAD=0 (the table bits still apply)', () => {
    const noHad = { profile: { ...DEFAULT_PROFILE, IDR3: DEFAULT_PROFILE.IDR3 & ~0x4 } };
    expect(six(mapped({ ap: 1 }, { HAD0: 1 }, APT1, noHad), VA, PA)).toEqual([1, 0, 1, 1, 0, 1]);
  });
});

describe('stage 1 permissions in the EL2 StreamWorld (STE.STRW=0b10, CR2.E2H=0)', () => {
  it('all accesses are privileged, AP[1] is ignored and bit 53 (PXN) is RES0', () => {
    const make = (attrs: MapAttrs) => () => {
      const env = s1Env({}, {}, { STRW: 2 });
      TableBuilder.of(env.mem, 1, '4K', 48, 0, TTB).map(VA, 0x4200_0000n, 3, attrs);
      return env;
    };
    // AP=01: no implicit PXN (no EL0 in this regime); an unprivileged transaction gets EL2 rights.
    expect(six(make({ ap: 1 }), VA, PA)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(six(make({ ap: 2, pxn: true }), VA, PA)).toEqual([1, 0, 1, 1, 0, 1]);
    expect(six(make({ ap: 0, uxn: true }), VA, PA)).toEqual([1, 1, 0, 1, 1, 0]); // bit 54 is XN
  });

  it('has one VA range: VA[55]=1 does not select TTB1 and faults', () => {
    const env = s1Env({ EPD1: 0, T1SZ: 16, TG1: 2, TTB1: 0x60_0000n }, {}, { STRW: 2 });
    expect(env.dma({ sid: SID, addr: 0xffff_0000_0000_1000n }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', 0xffff_0000_0000_1000n));
  });
});

describe('STE.PRIVCFG/INSTCFG', () => {
  it('are RES0 (incoming attributes used) when SMMU_IDR1.ATTR_PERMS_OVR=0, as in the default profile', () => {
    // The model does not implement the overrides at all (Smmu.accessOf ignores them); with ATTR_PERMS_OVR=0
    // that is the architected behaviour (smmuv3-facts §8.2 / IHI0070 §5.2), so only this case is tested.
    expect(DEFAULT_PROFILE.IDR1 & (1 << 26)).toBe(0);
    const env = s1Env({}, {}, { PRIVCFG: 3, INSTCFG: 2 });
    TableBuilder.of(env.mem, 1, '4K', 48, 0, TTB).map(VA, 0x4200_0000n, 3, { ap: 0, pxn: true });
    // Unprivileged read of an AP=00 page stays unprivileged -> fault with PnU=0.
    expect(env.dma({ sid: SID, addr: VA, priv: false }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_PERMISSION', VA, { priv: false }));
  });
});

// ---------------------------------------------------------------------------
// Access flag.

describe('stage 1 access flag', () => {
  it('AF=0 gives F_ACCESS', () => {
    const env = mapped({ af: false })();
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_ACCESS', sid: SID,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: VA },
    });
  });

  it('CD.AFFD=1 suppresses it (AF treated as 1)', () => {
    expect(mapped({ af: false }, { AFFD: 1 })().dma({ sid: SID, addr: VA })).toEqual({ outcome: 'translated', pa: PA, detail: 'stage 1' });
  });

  it('F_ACCESS has priority over F_PERMISSION (write to a read-only page with AF=0)', () => {
    const env = mapped({ af: false, ap: 2 })();
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_ACCESS', VA, { write: true }));
  });

  it('an AF fault is not cached: after setting AF the same VA translates', () => {
    const { env, tb } = withTables();
    const leaf = tb.map(VA, 0x4200_0000n, 3, { af: false });
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    env.mem.write(leaf, 8, (env.mem.read(leaf, 8) as bigint) | AF);
    expect(env.dma({ sid: SID, addr: VA })).toMatchObject({ outcome: 'translated', pa: PA });
  });
});

// ---------------------------------------------------------------------------
// Address size.

describe('stage 1 address size (CD.IPS)', () => {
  // 4K T0SZ=25 (n=39, start L1); VA 0x7c_0055_5123: L1 0x10_0f80 -> T1, L2 0x20_0010 -> T2, L3 0x30_0aa8.
  const V = 0x7c_0055_5123n;

  it('a leaf output beyond IPS=32 bits gives F_ADDR_SIZE', () => {
    const env = s1Env({ T0SZ: 25, IPS: 0 });
    put(env, [[0x10_0f80n, T1 | TABLE], [0x20_0010n, T2 | TABLE], [0x30_0aa8n, 0x1_0000_0000n | PAGE]]);
    expect(env.dma({ sid: SID, addr: V }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_ADDR_SIZE', V));
  });

  it('a table descriptor whose next-level address is beyond IPS=32 bits gives F_ADDR_SIZE', () => {
    const env = s1Env({ T0SZ: 25, IPS: 0 });
    put(env, [[0x10_0f80n, T1 | TABLE], [0x20_0010n, 0x1_0000_0000n | TABLE]]);
    expect(env.dma({ sid: SID, addr: V }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_ADDR_SIZE', V));
  });

  it('IPS=40 bits: output 0xff_ffff_f000 translates, 0x100_0000_0000 faults', () => {
    const ok = s1Env({ T0SZ: 25, IPS: 2 });
    put(ok, [[0x10_0f80n, T1 | TABLE], [0x20_0010n, T2 | TABLE], [0x30_0aa8n, 0xff_ffff_f000n | PAGE]]);
    expect(ok.dma({ sid: SID, addr: V })).toMatchObject({ outcome: 'translated', pa: 0xff_ffff_f123n });
    const bad = s1Env({ T0SZ: 25, IPS: 2 });
    put(bad, [[0x10_0f80n, T1 | TABLE], [0x20_0010n, T2 | TABLE], [0x30_0aa8n, 0x100_0000_0000n | PAGE]]);
    expect(bad.dma({ sid: SID, addr: V }).outcome).toBe('fault');
    expect(onlyEvent(bad)).toEqual(s1Fault('F_ADDR_SIZE', V));
  });

  it('descriptor bits [51:48] are not address bits with a 48-bit PA: no fault, PA without them', () => {
    const hi = 0xfn << 48n;
    const env = s1Env({ T0SZ: 25 });
    put(env, [[0x10_0f80n, T1 | TABLE | hi], [0x20_0010n, T2 | TABLE | hi], [0x30_0aa8n, OA | PAGE | hi]]);
    expect(env.dma({ sid: SID, addr: V })).toEqual({ outcome: 'translated', pa: 0x8_7654_0123n, detail: 'stage 1' });
  });
});

// ---------------------------------------------------------------------------
// Input address range, TTB1, EPDx, TBI.

describe('stage 1 input range', () => {
  it('VA with bits above T0SZ (VA[48]=1 with T0SZ=16) is F_TRANSLATION', () => {
    const env = mapped({})();
    const va = 0x1_0012_3456_7abcn; // VA[63:48] = 0x0001 != 0, VA[55] = 0 -> TTB0 region check fails
    expect(env.dma({ sid: SID, addr: va }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', va));
  });

  // TTB1: 4K, T1SZ=25 (n=39), TG1=0b10 (4K), start L1, TTB1 = 0x60_0000; tables at 0x61_0000, 0x62_0000.
  // VA 0xffff_fff0_d555_59a8: VA[63:39] all ones (upper region); VA[38:30] = 0x1c3 -> 0x60_0000 + 0xe18 = 0x60_0e18;
  // VA[29:21] = 0x0aa -> 0x61_0000 + 0x550 = 0x61_0550; VA[20:12] = 0x155 -> 0x62_0000 + 0xaa8 = 0x62_0aa8.
  const TTB1_CD: CdExtra = { EPD1: 0, T1SZ: 25, TG1: 2, TTB1: 0x60_0000n };
  const UPPER = 0xffff_fff0_d555_59a8n;
  const ttb1Tables = (env: Env): void => put(env, [[0x60_0e18n, 0x61_0000n | TABLE], [0x61_0550n, 0x62_0000n | TABLE], [0x62_0aa8n, 0x7_0000_0000n | PAGE]]);

  it('VA[55]=1 walks TTB1 (T1SZ=25)', () => {
    const env = s1Env(TTB1_CD);
    ttb1Tables(env);
    expect(env.dma({ sid: SID, addr: UPPER })).toEqual({ outcome: 'translated', pa: 0x7_0000_09a8n, detail: 'stage 1' });
  });

  it('APTable in the TTB1 tables is disabled by CD.HAD1, not by CD.HAD0', () => {
    // L1 table descriptor 0x60_0e18 with APTable[1] (bit 62, no write): a privileged write faults unless HAD1=1.
    const build = (cd: CdExtra): Env => {
      const env = s1Env({ ...TTB1_CD, ...cd });
      ttb1Tables(env);
      env.mem.write(0x60_0e18n, 8, 0x61_0000n | TABLE | (1n << 62n));
      return env;
    };
    const had0 = build({ HAD0: 1 });
    expect(had0.dma({ sid: SID, addr: UPPER, write: true }).outcome).toBe('fault');
    expect(onlyEvent(had0)).toEqual(s1Fault('F_PERMISSION', UPPER, { write: true }));
    expect(build({ HAD1: 1 }).dma({ sid: SID, addr: UPPER, write: true })).toMatchObject({ outcome: 'translated', pa: 0x7_0000_09a8n });
  });

  it('VA[55]=1 with a 0 bit in VA[63:39] is outside the TTB1 region', () => {
    const env = s1Env(TTB1_CD);
    ttb1Tables(env);
    const va = 0xffff_ff70_d555_59a8n; // VA[39] = 0
    expect(env.dma({ sid: SID, addr: va }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', va));
  });

  it('EPD1=1 makes every TTB1 address fault', () => {
    const env = s1Env({ ...TTB1_CD, EPD1: 1 });
    ttb1Tables(env);
    expect(env.dma({ sid: SID, addr: UPPER, priv: false }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', UPPER, { priv: false }));
  });

  it('EPD0=1 makes every TTB0 address fault, while TTB1 still walks', () => {
    const env = s1Env({ ...TTB1_CD, EPD0: 1 });
    TableBuilder.of(env.mem, 1, '4K', 48, 0, TTB).map(VA, 0x4200_0000n);
    ttb1Tables(env);
    expect(env.dma({ sid: SID, addr: VA }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', VA));
    expect(env.dma({ sid: SID, addr: UPPER })).toMatchObject({ outcome: 'translated', pa: 0x7_0000_09a8n });
  });

  it('TBI0=1 ignores VA[63:56] (range check and walk); the record keeps the full address', () => {
    const env = mapped({}, { TBI0: 1 })();
    // Top byte 0xab, VA[55:0] = 0x12_3456_7abc.
    expect(env.dma({ sid: SID, addr: 0xab00_0012_3456_7abcn })).toMatchObject({ outcome: 'translated', pa: PA });
    // VA[63]=1 but VA[55]=0: still TTB0 (VA[55] selects the range, vmsa-notes §7.1).
    expect(env.dma({ sid: SID, addr: 0x8000_0012_3456_7abcn })).toMatchObject({ outcome: 'translated', pa: PA });
    const unmapped = 0xab00_0055_0000_0040n;
    expect(env.dma({ sid: SID, addr: unmapped }).outcome).toBe('fault');
    expect(env.rec.events[0]).toMatchObject({ type: 'F_TRANSLATION', fields: { InputAddr: unmapped, S2: 0n, CLASS: 2n } });
  });

  it('TBI0=0: a non-zero top byte is outside the region', () => {
    const env = mapped({})();
    expect(env.dma({ sid: SID, addr: 0xab00_0012_3456_7abcn }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual(s1Fault('F_TRANSLATION', 0xab00_0012_3456_7abcn));
  });
});

// ---------------------------------------------------------------------------
// External aborts and recording.

describe('stage 1 external abort on a walk (F_WALK_EABT, §7.3.12)', () => {
  it('records S2=0, CLASS=TT and FetchAddr = the PA of the descriptor that aborted', () => {
    // 4K T0SZ=16, VA 0xd2b0_e23f_fabc: the L2 descriptor is at T2 + 0x111*8 = 0x30_0888.
    const env = s1Env();
    put(env, [[0x10_0d28n, T1 | TABLE], [0x20_0618n, T2 | TABLE], [0x30_0888n, T3 | TABLE], [0x40_0ff8n, OA | PAGE]]);
    env.mem.declareAbort(0x30_0888n, 8n);
    expect(env.dma({ sid: SID, addr: 0xd2b0_e23f_fabcn, write: true }).outcome).toBe('fault');
    expect(onlyEvent(env)).toEqual({
      type: 'F_WALK_EABT', sid: SID,
      fields: { PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 1n, InputAddr: 0xd2b0_e23f_fabcn, FetchAddr: 0x30_0888n },
    });
  });

  it('is recorded even with CD.R=0', () => {
    const env = s1Env({ R: 0 });
    put(env, [[0x10_0d28n, T1 | TABLE]]);
    env.mem.declareAbort(0x20_0618n, 8n);
    expect(env.dma({ sid: SID, addr: 0xd2b0_e23f_fabcn }).outcome).toBe('fault');
    expect(onlyEvent(env)).toMatchObject({ type: 'F_WALK_EABT', fields: { S2: 0n, CLASS: 1n, FetchAddr: 0x20_0618n } });
  });
});

describe('CD.R (§5.5)', () => {
  it('R=0: stage-1 translation faults terminate without a record', () => {
    const env = mapped({ ap: 2 }, { R: 0 })();
    const r = env.dma({ sid: SID, addr: VA, write: true });
    expect(r.outcome).toBe('abort');
    const unmapped = env.dma({ sid: SID, addr: 0x55_0000_0000n });
    expect(unmapped.outcome).toBe('abort');
    expect(env.rec.events).toEqual([]);
    expect(env.rec.lost).toEqual([]);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
  });

  it('R=1: the same faults are recorded in the event queue', () => {
    const env = mapped({ ap: 2 })();
    expect(env.dma({ sid: SID, addr: VA, write: true }).outcome).toBe('fault');
    expect(env.read('EVENTQ_PROD')).toBe(1n);
  });
});
