/**
 * The Non-secure register interface (IHI0070 §6.2, §6.3): 32/64-bit access
 * rules, ID registers per profile, and the write guards and side effects of
 * the control registers (Smmu.mmioRead / Smmu.mmioWrite).
 */
import { describe, expect, it } from '@jest/globals';
import { decode } from '../../src/model/fields.js';
import { DEFAULT_PROFILE, featuresOf, profileByName, QEMU_72_PROFILE, type Profile } from '../../src/model/profiles.js';
import { IDR0, IDR1, IDR3, IDR5, registerAt, registerByName, resolveOffset } from '../../src/model/registers.js';
import { Smmu } from '../../src/model/smmu.js';
import { CMDQ, EVTQ, makeEnv, recorder, STRTAB, writeSte, type Recorded } from '../helpers/env.js';

/** A bare SMMU straight out of reset, with helpers for sized accesses at raw offsets. */
function bare(profile: Profile = DEFAULT_PROFILE) {
  const { rec, observer } = recorder();
  const smmu = new Smmu(profile, { observer });
  return {
    smmu,
    rec,
    r32: (off: number) => smmu.mmioRead(off, 4),
    r64: (off: number) => smmu.mmioRead(off, 8),
    w32: (off: number, v: bigint | number) => smmu.mmioWrite(off, BigInt(v), 4),
    w64: (off: number, v: bigint) => smmu.mmioWrite(off, v, 8),
  };
}

function notes(rec: Recorded, text: string): string[] {
  return rec.notes.filter((n) => n.includes(text));
}

const OFF = {
  IDR0: 0x00, IDR1: 0x04, IDR2: 0x08, IDR3: 0x0c, IDR4: 0x10, IDR5: 0x14, IIDR: 0x18, AIDR: 0x1c,
  CR0: 0x20, CR0ACK: 0x24, CR1: 0x28, CR2: 0x2c, STATUSR: 0x40, GBPA: 0x44, IRQ_CTRL: 0x50, IRQ_CTRLACK: 0x54,
  GERROR: 0x60, GERRORN: 0x64, GERROR_IRQ_CFG0: 0x68, GERROR_IRQ_CFG1: 0x70, GERROR_IRQ_CFG2: 0x74,
  STRTAB_BASE: 0x80, STRTAB_BASE_CFG: 0x88, CMDQ_BASE: 0x90, CMDQ_PROD: 0x98, CMDQ_CONS: 0x9c, EVENTQ_BASE: 0xa0,
  EVENTQ_IRQ_CFG0: 0xb0, EVENTQ_IRQ_CFG1: 0xb8, EVENTQ_IRQ_CFG2: 0xbc, PRIQ_BASE: 0xc0,
  EVENTQ_PROD: 0x100a8, EVENTQ_CONS: 0x100ac,
} as const;

describe('register map (§6.2)', () => {
  it('offsets and widths of the registers the model implements', () => {
    expect(registerAt(0x80)).toMatchObject({ name: 'STRTAB_BASE', width: 64, access: 'RW' });
    expect(registerByName('eventq_prod')).toMatchObject({ offset: 0x100a8, width: 32 });
    expect(registerByName('IDR0')).toMatchObject({ offset: 0, width: 32, access: 'RO' });
    // 0x84 is the upper half of STRTAB_BASE; 0x8c is not the upper half of the 32-bit STRTAB_BASE_CFG.
    expect(resolveOffset(0x84)).toMatchObject({ reg: { name: 'STRTAB_BASE' }, upper: true });
    expect(resolveOffset(0x80)).toMatchObject({ reg: { name: 'STRTAB_BASE' }, upper: false });
    expect(resolveOffset(0x8c)).toBeUndefined();
    expect(resolveOffset(0x30)).toBeUndefined();
  });
});

describe('64-bit registers: 32-bit accesses to each half and whole 64-bit accesses (§6.2)', () => {
  it.each([
    ['STRTAB_BASE', OFF.STRTAB_BASE],
    ['CMDQ_BASE', OFF.CMDQ_BASE],
    ['EVENTQ_BASE', OFF.EVENTQ_BASE],
    ['GERROR_IRQ_CFG0', OFF.GERROR_IRQ_CFG0],
    ['EVENTQ_IRQ_CFG0', OFF.EVENTQ_IRQ_CFG0],
  ])('%s: low word at +0, high word at +4, merged on write', (_name, off) => {
    const s = bare();
    // 0x1234_5640 has bits [1:0] and [5:0] clear so that no register's low RES0 bits interfere.
    s.w32(off, 0x1234_5640);
    s.w32(off + 4, 0x00ab);
    expect(s.r64(off)).toBe(0x0000_00ab_1234_5640n);
    expect(s.r32(off)).toBe(0x1234_5640n);
    expect(s.r32(off + 4)).toBe(0xabn);
    // Writing the high half leaves the low half alone, and the reverse.
    s.w32(off + 4, 0x0001);
    expect(s.r64(off)).toBe(0x0000_0001_1234_5640n);
    s.w32(off, 0x8000_0000);
    expect(s.r64(off)).toBe(0x0000_0001_8000_0000n);
    // A whole 64-bit write.
    s.w64(off, 0x0000_0012_3456_7880n);
    expect(s.r32(off)).toBe(0x3456_7880n);
    expect(s.r32(off + 4)).toBe(0x12n);
    expect(s.rec.notes).toEqual([]);
  });

  it('a 64-bit access to a 32-bit register, or to the upper half of a 64-bit one, is a model note and RAZ/WI', () => {
    const s = bare();
    s.w32(OFF.CR0, 0xd);
    expect(s.r64(OFF.CR0)).toBe(0n);
    s.w64(OFF.CR0, 0n);
    expect(s.r32(OFF.CR0)).toBe(0xdn); // the 64-bit write was ignored
    expect(notes(s.rec, 'unpredictable: 64-bit access to CR0')).toHaveLength(2);
    s.w32(OFF.CR0, 0);
    s.w64(OFF.STRTAB_BASE, 0x8000_0000n);
    expect(s.r64(OFF.STRTAB_BASE + 4)).toBe(0n);
    s.w64(OFF.STRTAB_BASE + 4, 0xffff_ffff_ffff_ffc0n);
    expect(s.r64(OFF.STRTAB_BASE)).toBe(0x8000_0000n);
    expect(notes(s.rec, 'STRTAB_BASE (upper half)')).toHaveLength(2);
  });

  it('offsets with no register are RAZ/WI with a note', () => {
    const s = bare();
    s.w32(0x30, 0xffff_ffff);
    expect(s.r32(0x30)).toBe(0n);
    expect(notes(s.rec, 'offset 0x30')).toHaveLength(2);
  });

  // IHI0070 §6.3.24: SMMU_STRTAB_BASE.RA is bit [62], a RW field; ADDR is [55:6]; [63], [61:56] and [5:0] are RES0.
  // (A mask constant with one hex digit too many once dropped RA and kept bits [59:56].)
  it('STRTAB_BASE.RA (bit 62) reads back as written and RES0 bits read as zero (§6.3.24)', () => {
    const s = bare();
    s.w64(OFF.STRTAB_BASE, 0x4000_0000_8000_0000n);
    expect(s.r64(OFF.STRTAB_BASE)).toBe(0x4000_0000_8000_0000n);
    // all ones -> bit 62 | bits [55:6] = 0x4000_0000_0000_0000 | 0x00ff_ffff_ffff_ffc0
    s.w64(OFF.STRTAB_BASE, 0xffff_ffff_ffff_ffffn);
    expect(s.r64(OFF.STRTAB_BASE)).toBe(0x40ff_ffff_ffff_ffc0n);
  });

  it('CMDQ_BASE keeps RA [62], ADDR [55:5] and LOG2SIZE [4:0]; RES0 bits read as zero', () => {
    const s = bare();
    s.w64(OFF.CMDQ_BASE, 0xffff_ffff_ffff_ffffn);
    // bit 62 | bits [55:0] = 0x4000_0000_0000_0000 | 0x00ff_ffff_ffff_ffff.
    expect(s.r64(OFF.CMDQ_BASE)).toBe(0x40ff_ffff_ffff_ffffn);
  });
});

describe('ID registers (§6.3.1-§6.3.8)', () => {
  it('default profile values, read-only', () => {
    const s = bare();
    expect([OFF.IDR0, OFF.IDR1, OFF.IDR2, OFF.IDR3, OFF.IDR4, OFF.IDR5, OFF.IIDR, OFF.AIDR].map((o) => s.r32(o))).toEqual([
      0x0d4c_7e1bn, 0x0273_0510n, 0n, 0x414n, 0n, 0x75n, 0n, 0x1n,
    ]);
    s.w32(OFF.IDR0, 0);
    s.w32(OFF.IDR5, 0);
    expect(s.r32(OFF.IDR0)).toBe(0x0d4c_7e1bn);
    expect(s.r32(OFF.IDR5)).toBe(0x75n);
    expect(notes(s.rec, 'write to IDR0 ignored')).toHaveLength(1);
  });

  it('default IDR0 = 0x0d4c7e1b decoded field by field', () => {
    // 0x0d4c7e1b = 0000 1101 0100 1100 0111 1110 0001 1011
    //  [0] S2P=1 [1] S1P=1 [3:2] TTF=0b10 (AArch64) [4] COHACC=1 [5] BTM=0 [7:6] HTTU=0
    //  [8] DORMHINT=0 [9] Hyp=1 [10] ATS=1 [11] NS1ATS=1 [12] ASID16=1 [13] MSI=1 [14] SEV=1 [15] ATOS=0
    //  [16] PRI=0 [17] VMW=0 [18] VMID16=1 [19] CD2L=1 [20] VATOS=0 [22:21] TTENDIAN=0b10 (LE) [23] ATSRECERR=0
    //  [25:24] STALL_MODEL=0b01 [26] TERM_MODEL=1 [28:27] ST_LEVEL=0b01 [30] RME_IMPL=0
    expect(decode(IDR0, [0x0d4c_7e1bn])).toEqual({
      S2P: 1n, S1P: 1n, TTF: 2n, COHACC: 1n, BTM: 0n, HTTU: 0n, DORMHINT: 0n, Hyp: 1n, ATS: 1n, NS1ATS: 1n, ASID16: 1n,
      MSI: 1n, SEV: 1n, ATOS: 0n, PRI: 0n, VMW: 0n, VMID16: 1n, CD2L: 1n, VATOS: 0n, TTENDIAN: 2n, ATSRECERR: 0n,
      STALL_MODEL: 1n, TERM_MODEL: 1n, ST_LEVEL: 1n, RME_IMPL: 0n,
    });
    // IDR1 = 0x02730510: [5:0] SIDSIZE = 0x10 = 16; [10:6] SSIDSIZE = 0x510 >> 6 = 20; [15:11] PRIQS = 0;
    // [20:16] EVENTQS = 0x273 & 0x1f = 19; [25:21] CMDQS = 0x0273_0510 >> 21 = 19; [31:26] = 0.
    expect(decode(IDR1, [0x0273_0510n])).toMatchObject({ SIDSIZE: 16n, SSIDSIZE: 20n, PRIQS: 0n, EVENTQS: 19n, CMDQS: 19n, ECMDQ: 0n });
    // IDR3 = 0x414: [2] HAD, [4] XNX, [10] RIL.
    expect(decode(IDR3, [0x414n])).toMatchObject({ HAD: 1n, XNX: 1n, RIL: 1n, STT: 0n, FWB: 0n, BBML: 0n });
    // IDR5 = 0x75: [2:0] OAS = 0b101 (48 bits), [4] GRAN4K, [5] GRAN16K, [6] GRAN64K, [7] DS = 0, [11:10] VAX = 0.
    expect(decode(IDR5, [0x75n])).toMatchObject({ OAS: 5n, GRAN4K: 1n, GRAN16K: 1n, GRAN64K: 1n, DS: 0n, VAX: 0n });
  });

  it('featuresOf(default) is what those fields say', () => {
    expect(featuresOf(DEFAULT_PROFILE)).toEqual({
      s1p: true, s2p: true, ttfAArch64: true, ttfAArch32: false, cohacc: true, btm: false, httu: 0, hyp: true,
      ats: true, ns1ats: true, asid16: true, msi: true, sev: true, atos: false, pri: false, vmw: false, vmid16: true,
      cd2l: true, ttendian: 2, stallModel: 1, termModel: true, twoLevelStreamTable: true,
      sidSize: 16, ssidSize: 20, cmdqs: 19, eventqs: 19, priqs: 0,
      had: true, xnx: true, fwb: false, stt: false, ril: true,
      // OAS 0b101 = 48; IAS = OAS because AArch32 tables (TTF[0]) are not supported (§3.4.1).
      oas: 48, ias: 48, gran4k: true, gran16k: true, gran64k: true, ds: false, vaBits: 48,
      archMinor: 1, // AIDR = 0x01: SMMUv3.1
    });
  });

  it('qemu-7.2 profile: IDR0 0x0d40101a (stage 1 only), IDR1 0x02730010 (no substreams), IDR5 0x74 (OAS 44)', () => {
    const s = bare(QEMU_72_PROFILE);
    expect([OFF.IDR0, OFF.IDR1, OFF.IDR3, OFF.IDR5, OFF.AIDR].map((o) => s.r32(o))).toEqual([
      0x0d40_101an, 0x0273_0010n, 0x1404n, 0x74n, 1n,
    ]);
    // IDR0 0x1a = 0b1_1010: S2P=0, S1P=1, TTF=0b10, COHACC=1; 0x1000 ASID16; 0x40_0000 TTENDIAN=0b10;
    // 0x0d00_0000 STALL_MODEL=0b01, TERM_MODEL=1, ST_LEVEL=0b01.  IDR1 SSIDSIZE = 0x10 >> 6 = 0.
    // IDR3 0x1404: HAD, RIL, BBML = 0x1404 >> 11 & 3 = 0b10.  IDR5 0x74: OAS 0b100 = 44 bits.
    expect(featuresOf(QEMU_72_PROFILE)).toMatchObject({
      s1p: true, s2p: false, ttfAArch64: true, ttfAArch32: false, cohacc: true, hyp: false, ats: false, asid16: true, msi: false,
      vmid16: false, cd2l: false, ttendian: 2, stallModel: 1, termModel: true, twoLevelStreamTable: true,
      sidSize: 16, ssidSize: 0, had: true, xnx: false, ril: true, oas: 44, ias: 44, archMinor: 1,
    });
    expect(decode(IDR3, [0x1404n]).BBML).toBe(2n);
    expect(profileByName('qemu-7.2')).toBe(QEMU_72_PROFILE);
    expect(profileByName('nope')).toBeUndefined();
  });
});

describe('CR0 / CR0ACK (§6.3.9, §6.3.10)', () => {
  it('CR0ACK follows CR0 at once; bits of absent features are RES0', () => {
    const s = bare();
    expect([s.r32(OFF.CR0), s.r32(OFF.CR0ACK)]).toEqual([0n, 0n]);
    s.w32(OFF.CR0, 0x7ff);
    // Kept: SMMUEN [0], EVENTQEN [2], CMDQEN [3], ATSCHK [4] (IDR0.ATS=1) = 0x1d.
    // Dropped: PRIQEN [1] (no PRI), VMW [8:6] (no VMW), DPT_WALK_EN [10], bits 5, 9.
    expect(s.r32(OFF.CR0)).toBe(0x1dn);
    expect(s.r32(OFF.CR0ACK)).toBe(0x1dn);
    s.w32(OFF.CR0, 0x4);
    expect([s.r32(OFF.CR0), s.r32(OFF.CR0ACK)]).toEqual([0x4n, 0x4n]);
    // qemu-7.2 has no ATS: ATSCHK is RES0 too.
    const q = bare(QEMU_72_PROFILE);
    q.w32(OFF.CR0, 0x1f);
    expect(q.r32(OFF.CR0ACK)).toBe(0xdn);
  });

  it('CR0ACK is read-only', () => {
    const s = bare();
    s.w32(OFF.CR0ACK, 0xd);
    expect(s.r32(OFF.CR0ACK)).toBe(0n);
    expect(notes(s.rec, 'write to CR0ACK ignored')).toHaveLength(1);
  });
});

describe('CR1 (§6.3.11): TABLE_* writable only with SMMUEN=0, QUEUE_* only with every queue disabled', () => {
  it('guards each half independently', () => {
    const s = bare();
    s.w32(OFF.CR1, 0xfff);
    expect(s.r32(OFF.CR1)).toBe(0xfffn);
    s.w32(OFF.CR0, 0x1); // SMMUEN only
    s.w32(OFF.CR1, 0x000);
    // TABLE_SH/OC/IC [11:6] stay 0xfc0; QUEUE_* [5:0] take 0.
    expect(s.r32(OFF.CR1)).toBe(0xfc0n);
    expect(notes(s.rec, 'CR1.TABLE_*')).toHaveLength(1);
    s.w32(OFF.CR0, 0x8); // CMDQEN only
    s.w32(OFF.CR1, 0x0ff);
    // TABLE_* [11:6] take 0x0c0; QUEUE_* stay 0.
    expect(s.r32(OFF.CR1)).toBe(0x0c0n);
    expect(notes(s.rec, 'CR1.QUEUE_*')).toHaveLength(1);
    s.w32(OFF.CR0, 0x4); // EVENTQEN also guards QUEUE_*
    s.w32(OFF.CR1, 0x03f);
    expect(s.r32(OFF.CR1)).toBe(0x000n);
    s.w32(OFF.CR0, 0x0);
    s.w32(OFF.CR1, 0x03f);
    expect(s.r32(OFF.CR1)).toBe(0x03fn);
  });
});

describe('CR2 (§6.3.12): writable only while SMMUEN=0', () => {
  it('stores E2H (Hyp=1), RECINVSID and PTM; ignored with a note while SMMUEN=1', () => {
    const s = bare();
    s.w32(OFF.CR2, 0x7);
    expect(s.r32(OFF.CR2)).toBe(0x7n);
    s.w32(OFF.CR0, 0x1);
    s.w32(OFF.CR2, 0x0);
    expect(s.r32(OFF.CR2)).toBe(0x7n);
    expect(notes(s.rec, 'write to CR2 ignored')).toHaveLength(1);
    s.w32(OFF.CR0, 0x0);
    s.w32(OFF.CR2, 0x2);
    expect(s.r32(OFF.CR2)).toBe(0x2n);
  });

  it('E2H is RES0 without SMMU_IDR0.Hyp (qemu-7.2)', () => {
    const q = bare(QEMU_72_PROFILE);
    q.w32(OFF.CR2, 0x7);
    expect(q.r32(OFF.CR2)).toBe(0x6n);
  });
});

describe('STRTAB_BASE / STRTAB_BASE_CFG (§6.3.24, §6.3.25)', () => {
  it('STRTAB_BASE_CFG keeps FMT [17:16], SPLIT [10:6], LOG2SIZE [5:0]', () => {
    const s = bare();
    s.w32(OFF.STRTAB_BASE_CFG, 0xffff_ffff);
    expect(s.r32(OFF.STRTAB_BASE_CFG)).toBe(0x3_07ffn);
    // STRTAB_BASE: ADDR [55:6]; bits [5:0] are RES0.
    s.w64(OFF.STRTAB_BASE, 0x0000_0000_8000_007fn);
    expect(s.r64(OFF.STRTAB_BASE)).toBe(0x8000_0040n);
  });

  it('are ignored while SMMUEN=1 (with a model note), and the old table stays in use', () => {
    const env = makeEnv({ log2size: 8 });
    writeSte(env, 1, { V: 1, Config: 4 });
    env.write('STRTAB_BASE', 0x9000_0000n);
    env.write('STRTAB_BASE_CFG', 0x10);
    expect(env.read('STRTAB_BASE')).toBe(STRTAB);
    expect(env.read('STRTAB_BASE_CFG')).toBe(0x188n); // SPLIT 6 << 6 | LOG2SIZE 8
    expect(env.rec.notes.filter((n) => n.startsWith('ignored: write to STRTAB_BASE'))).toHaveLength(2);
    expect(env.dma({ sid: 1, addr: 0x10n })).toMatchObject({ outcome: 'bypass' });
    // SMMUEN=0 again: writable.
    env.write('CR0', 0xc);
    env.write('STRTAB_BASE', 0x9000_0000n);
    expect(env.read('STRTAB_BASE')).toBe(0x9000_0000n);
  });
});

describe('queue registers (§6.3.26-§6.3.29, §6.3.95, §6.3.96)', () => {
  it('CMDQ_BASE and CMDQ_CONS are ignored while CMDQEN=1; CMDQ_PROD is always writable', () => {
    const env = makeEnv(); // CMDQEN=1, CMDQ_BASE = CMDQ | 8
    env.write('CMDQ_BASE', 0x9900_0000n | 4n);
    env.write('CMDQ_CONS', 5);
    expect(env.read('CMDQ_BASE')).toBe(CMDQ | 8n);
    expect(env.read('CMDQ_CONS')).toBe(0n);
    expect(env.rec.notes.filter((n) => /CMDQ_(BASE|CONS) ignored/.test(n))).toHaveLength(2);
    env.cmd('CMD_SYNC'); // writes slot 0 and CMDQ_PROD = 1; consumed at once
    expect(env.read('CMDQ_PROD')).toBe(1n);
    expect(env.read('CMDQ_CONS')).toBe(1n);
    expect(env.rec.commands).toEqual(['CMD_SYNC']);
    // CMDQEN=0 (SMMUEN and EVENTQEN stay): both become writable.
    env.write('CR0', 0x5);
    env.write('CMDQ_BASE', 0x9900_0000n | 4n);
    env.write('CMDQ_CONS', 5);
    expect(env.read('CMDQ_BASE')).toBe(0x9900_0004n);
    expect(env.read('CMDQ_CONS')).toBe(5n);
  });

  it('EVENTQ_BASE and EVENTQ_PROD are ignored while EVENTQEN=1; EVENTQ_CONS is always writable', () => {
    const env = makeEnv(); // EVENTQEN=1, EVENTQ_BASE = EVTQ | 4
    env.write('EVENTQ_BASE', 0x9900_0000n | 2n);
    env.write('EVENTQ_PROD', 3);
    expect(env.read('EVENTQ_BASE')).toBe(EVTQ | 4n);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.notes.filter((n) => /EVENTQ_(BASE|PROD) ignored/.test(n))).toHaveLength(2);
    env.write('EVENTQ_CONS', 0x8000_0003); // OVACKFLG [31] | RD 3
    expect(env.read('EVENTQ_CONS')).toBe(0x8000_0003n);
    env.write('CR0', 0x9); // EVENTQEN=0
    env.write('EVENTQ_BASE', 0x9900_0000n | 2n);
    env.write('EVENTQ_PROD', 3);
    expect(env.read('EVENTQ_BASE')).toBe(0x9900_0002n);
    expect(env.read('EVENTQ_PROD')).toBe(3n);
  });

  it('the qemu-7.2 profile aliases Page-0 0xA8/0xAC to EVENTQ_PROD/CONS', () => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    env.dma({ sid: 1, addr: 0n }); // C_BAD_STE -> EVENTQ_PROD = 1
    expect(env.smmu.mmioRead(0xa8, 4)).toBe(1n);
    expect(env.smmu.mmioRead(OFF.EVENTQ_PROD, 4)).toBe(1n);
    env.smmu.mmioWrite(0xac, 1n, 4);
    expect(env.smmu.mmioRead(OFF.EVENTQ_CONS, 4)).toBe(1n);
    expect(env.smmu.mmioRead(0xac, 4)).toBe(1n);
  });

  it('the default profile has no alias: Page-0 0xA8/0xAC are RAZ/WI with a note', () => {
    const env = makeEnv();
    env.dma({ sid: 1, addr: 0n }); // EVENTQ_PROD = 1
    expect(env.smmu.mmioRead(0xa8, 4)).toBe(0n);
    env.smmu.mmioWrite(0xac, 1n, 4);
    expect(env.read('EVENTQ_CONS')).toBe(0n);
    expect(env.read('EVENTQ_PROD')).toBe(1n);
    expect(env.rec.notes.filter((n) => n.includes('offset 0xa8') || n.includes('offset 0xac'))).toHaveLength(2);
  });

  it('PRIQ registers are RAZ/WI without SMMU_IDR0.PRI', () => {
    const s = bare();
    s.w64(OFF.PRIQ_BASE, 0x9000_0004n);
    expect(s.r64(OFF.PRIQ_BASE)).toBe(0n);
  });
});

describe('GBPA (§6.3.14) and SMMUEN=0 traffic (§3.4, §13.2)', () => {
  it('a write without Update is ignored; with Update it completes at once and Update reads 0', () => {
    const s = bare();
    expect(s.r32(OFF.GBPA)).toBe(0n); // default profile reset value
    s.w32(OFF.GBPA, 0x0010_0000); // ABORT without Update
    expect(s.r32(OFF.GBPA)).toBe(0n);
    expect(notes(s.rec, 'write to GBPA ignored')).toHaveLength(1);
    s.w32(OFF.GBPA, 0x8010_0000);
    expect(s.r32(OFF.GBPA)).toBe(0x0010_0000n);
    // Fields: ABORT [20], INSTCFG [19:18], PRIVCFG [17:16], SHCFG [13:12], ALLOCCFG [11:8], MTCFG [4], MemAttr [3:0]
    // = 0x10_0000 | 0xf_0000 | 0x3000 | 0xf00 | 0x10 | 0xf = 0x001f_3f1f.
    s.w32(OFF.GBPA, 0xffff_ffff);
    expect(s.r32(OFF.GBPA)).toBe(0x001f_3f1fn);
  });

  it('ABORT=1 makes SMMUEN=0 traffic abort with no event; ABORT=0 bypasses', () => {
    const env = makeEnv({ enable: false });
    env.write('CR0', 0xc); // queues on, SMMUEN off
    env.write('GBPA', 0x8010_0000);
    expect(env.dma({ sid: 1, addr: 0x1234n }).outcome).toBe('abort');
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.lost).toEqual([]);
    env.write('GBPA', 0x8000_0000);
    expect(env.dma({ sid: 1, addr: 0x1234n })).toMatchObject({ outcome: 'bypass', pa: 0x1234n });
    // No StreamID range check while SMMUEN=0: SID 0xffff (beyond LOG2SIZE 8) bypasses too.
    expect(env.dma({ sid: 0xffff, addr: 0x10n })).toMatchObject({ outcome: 'bypass', pa: 0x10n });
  });

  it('an address beyond the OAS (48 bits) with SMMUEN=0 aborts without an event', () => {
    const env = makeEnv({ enable: false });
    env.write('CR0', 0xc);
    expect(env.dma({ sid: 1, addr: 0xffff_ffff_ffffn })).toMatchObject({ outcome: 'bypass' });
    expect(env.dma({ sid: 1, addr: 0x1_0000_0000_0000n }).outcome).toBe('abort');
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.events).toEqual([]);
    // qemu-7.2: OAS 44 bits.
    const q = makeEnv({ profile: QEMU_72_PROFILE, enable: false });
    expect(q.dma({ sid: 1, addr: 0x1000_0000_0000n }).outcome).toBe('abort');
    expect(q.dma({ sid: 1, addr: 0x0fff_ffff_ffffn }).outcome).toBe('bypass');
  });
});

describe('GERROR / GERRORN (§6.3.19, §6.3.20, §7.5)', () => {
  it('an error toggles GERROR; it is active while GERROR != GERRORN; acknowledging toggles GERRORN', () => {
    const env = makeEnv();
    // Slot 0 of the command queue is all zero: opcode 0x00 is reserved -> CERROR_ILL.
    env.write('CMDQ_PROD', 1);
    expect(env.read('GERROR')).toBe(1n); // CMDQ_ERR
    expect(env.read('GERRORN')).toBe(0n);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    // CMDQ_CONS: ERR [30:24] = 1 (CERROR_ILL), RD stays at the failing command 0.
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0000n);
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['CMDQ_ERR']);
    // While active, nothing is consumed: a CMD_SYNC in slot 1 waits.
    env.cmd('CMD_SYNC');
    expect(env.read('CMDQ_PROD')).toBe(2n);
    expect(Number(env.read('CMDQ_CONS') & 0xfffffn)).toBe(0);
    // Fix slot 0 (CMD_SYNC = opcode 0x46) and acknowledge: GERRORN[0] = GERROR[0] = 1.
    env.mem.write(CMDQ, 8, 0x46n);
    env.write('GERRORN', 1);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(false);
    expect(Number(env.read('CMDQ_CONS') & 0xfffffn)).toBe(2); // both commands consumed without a PROD write
    expect(env.rec.commands).toEqual(['CMD_SYNC', 'CMD_SYNC']);
    // A second error toggles GERROR back to 0: active again although GERROR reads 0.
    env.write('CMDQ_PROD', 3); // slot 2 is zero
    expect(env.read('GERROR')).toBe(0n);
    expect(env.read('GERRORN')).toBe(1n);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    env.mem.write(CMDQ + 32n, 8, 0x46n); // fix slot 2, then acknowledge with GERRORN[0] = 0
    env.write('GERRORN', 0);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(false);
    expect(Number(env.read('CMDQ_CONS') & 0xfffffn)).toBe(3);
    expect(env.rec.gerrors).toHaveLength(2);
  });

  it('a repeat error while active is not logged again, and EVENTQ_ABT_ERR stops event delivery (§7.2.2)', () => {
    const env = makeEnv();
    env.mem.declareAbort(EVTQ, 32n * 16n); // the whole 16-entry event queue aborts
    env.dma({ sid: 1, addr: 0n }); // C_BAD_STE: the record write aborts
    env.dma({ sid: 2, addr: 0n }); // second record: the queue is not writable while the error is active
    expect(env.read('GERROR')).toBe(0x4n); // EVENTQ_ABT_ERR [2]
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['EVENTQ_ABT_ERR']);
    expect(env.rec.lost.map((l) => l.why)).toEqual(['queue-abort', 'abort-error-active']);
    expect(env.read('EVENTQ_PROD')).toBe(0n); // a synchronous abort does not advance PROD
  });

  it('GERROR is read-only; GERRORN keeps only the defined bits (0x1fd)', () => {
    const s = bare();
    s.w32(OFF.GERROR, 0xff);
    expect(s.r32(OFF.GERROR)).toBe(0n);
    expect(notes(s.rec, 'write to GERROR ignored')).toHaveLength(1);
    s.w32(OFF.GERRORN, 0xffff_ffff);
    // [0] CMDQ_ERR, [8:2]: bit 1 and bits [31:9] dropped = 0x1fd.
    expect(s.r32(OFF.GERRORN)).toBe(0x1fdn);
  });
});

describe('IRQ_CTRL / IRQ_CTRLACK and the IRQ_CFG registers (§6.3.16, §6.3.18, §6.3.21-§6.3.23, §6.3.30-§6.3.32)', () => {
  it('IRQ_CTRLACK follows IRQ_CTRL; PRIQ_IRQEN is RES0 without PRI', () => {
    const s = bare();
    s.w32(OFF.IRQ_CTRL, 0xffff_ffff);
    expect(s.r32(OFF.IRQ_CTRL)).toBe(0x5n); // GERROR_IRQEN [0] | EVENTQ_IRQEN [2]
    expect(s.r32(OFF.IRQ_CTRLACK)).toBe(0x5n);
    s.w32(OFF.IRQ_CTRL, 0x4);
    expect(s.r32(OFF.IRQ_CTRLACK)).toBe(0x4n);
    s.w32(OFF.IRQ_CTRLACK, 0);
    expect(s.r32(OFF.IRQ_CTRLACK)).toBe(0x4n);
  });

  it('GERROR_IRQ_CFG0/1/2 keep ADDR [55:2], DATA [31:0], SH [5:4] + MemAttr [3:0]; read-only while GERROR_IRQEN=1', () => {
    const s = bare();
    s.w64(OFF.GERROR_IRQ_CFG0, 0xffff_ffff_ffff_ffffn);
    expect(s.r64(OFF.GERROR_IRQ_CFG0)).toBe(0x00ff_ffff_ffff_fffcn);
    s.w32(OFF.GERROR_IRQ_CFG1, 0xdead_beef);
    expect(s.r32(OFF.GERROR_IRQ_CFG1)).toBe(0xdead_beefn);
    s.w32(OFF.GERROR_IRQ_CFG2, 0xffff_ffff);
    expect(s.r32(OFF.GERROR_IRQ_CFG2)).toBe(0x3fn);
    s.w32(OFF.IRQ_CTRL, 0x1);
    s.w64(OFF.GERROR_IRQ_CFG0, 0x1000n);
    s.w32(OFF.GERROR_IRQ_CFG1, 1);
    s.w32(OFF.GERROR_IRQ_CFG2, 0);
    expect([s.r64(OFF.GERROR_IRQ_CFG0), s.r32(OFF.GERROR_IRQ_CFG1), s.r32(OFF.GERROR_IRQ_CFG2)]).toEqual([0x00ff_ffff_ffff_fffcn, 0xdead_beefn, 0x3fn]);
    expect(notes(s.rec, 'GERROR_IRQ_CFG')).toHaveLength(3);
    // EVENTQ_IRQEN does not guard the GERROR triplet.
    s.w32(OFF.IRQ_CTRL, 0x4);
    s.w32(OFF.GERROR_IRQ_CFG1, 1);
    expect(s.r32(OFF.GERROR_IRQ_CFG1)).toBe(1n);
  });

  it('EVENTQ_IRQ_CFG0/1/2 are read-only while EVENTQ_IRQEN=1', () => {
    const s = bare();
    s.w64(OFF.EVENTQ_IRQ_CFG0, 0x7000_0003n);
    s.w32(OFF.EVENTQ_IRQ_CFG1, 0x55);
    s.w32(OFF.EVENTQ_IRQ_CFG2, 0x1ff);
    expect([s.r64(OFF.EVENTQ_IRQ_CFG0), s.r32(OFF.EVENTQ_IRQ_CFG1), s.r32(OFF.EVENTQ_IRQ_CFG2)]).toEqual([0x7000_0000n, 0x55n, 0x3fn]);
    s.w32(OFF.IRQ_CTRL, 0x4);
    s.w64(OFF.EVENTQ_IRQ_CFG0, 0n);
    s.w32(OFF.EVENTQ_IRQ_CFG1, 0);
    s.w32(OFF.EVENTQ_IRQ_CFG2, 0);
    expect([s.r64(OFF.EVENTQ_IRQ_CFG0), s.r32(OFF.EVENTQ_IRQ_CFG1), s.r32(OFF.EVENTQ_IRQ_CFG2)]).toEqual([0x7000_0000n, 0x55n, 0x3fn]);
    expect(notes(s.rec, 'EVENTQ_IRQ_CFG')).toHaveLength(3);
  });

  it('the IRQ_CFG registers are RES0 without SMMU_IDR0.MSI (qemu-7.2)', () => {
    const q = bare(QEMU_72_PROFILE);
    q.w64(OFF.GERROR_IRQ_CFG0, 0x7000_0000n);
    q.w32(OFF.EVENTQ_IRQ_CFG1, 0x55);
    expect(q.r64(OFF.GERROR_IRQ_CFG0)).toBe(0n);
    expect(q.r32(OFF.EVENTQ_IRQ_CFG1)).toBe(0n);
  });

  it('a GERROR with GERROR_IRQEN=1 sends the MSI: a 32-bit write of CFG1 to CFG0', () => {
    const env = makeEnv();
    env.write('GERROR_IRQ_CFG0', 0x7000_0000n);
    env.write('GERROR_IRQ_CFG1', 0x1234_5678);
    env.write('IRQ_CTRL', 0x1);
    env.write('CMDQ_PROD', 1); // CERROR_ILL
    expect(env.mem.read(0x7000_0000n, 4)).toBe(0x1234_5678n);
    expect(env.rec.irqs).toEqual(['gerror:msi']);
  });

  it('the event queue interrupt fires once, when the queue goes from empty to non-empty; wired when CFG0.ADDR=0', () => {
    const env = makeEnv();
    env.write('IRQ_CTRL', 0x4);
    env.dma({ sid: 1, addr: 0n });
    env.dma({ sid: 2, addr: 0n });
    expect(env.read('EVENTQ_PROD')).toBe(2n);
    expect(env.rec.irqs).toEqual(['eventq:wired']);
    // Consume both (CONS = PROD = 2): the next record fires again.
    env.write('EVENTQ_CONS', 2);
    env.dma({ sid: 3, addr: 0n });
    expect(env.rec.irqs).toEqual(['eventq:wired', 'eventq:wired']);
  });
});
