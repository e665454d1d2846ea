/**
 * Command encodings (IHI0070 §4): encode/decode round trips for every command
 * definition, hand-computed doublewords for the commands Linux issues, and every
 * CERROR_ILL rule of illegalReason (§4.1.3, §7.1 and each command's text).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  COMMANDS, commandByName, decodeCommand, effectiveTtl, encodeCommand, formatCommand, illegalReason,
  type CommandDef, type CommandName,
} from '../../src/model/commands.js';
import { fieldMask } from '../../src/model/fields.js';
import { DEFAULT_PROFILE, featuresOf, QEMU_72_PROFILE, type Profile } from '../../src/model/profiles.js';

const def = (n: CommandName): CommandDef => COMMANDS.find((c) => c.name === n)!;
const enc = (n: CommandName, v: Record<string, bigint | number> = {}): [bigint, bigint] =>
  encodeCommand(def(n), Object.fromEntries(Object.entries(v).map(([k, x]) => [k, BigInt(x)])));
const cmdOf = (n: CommandName, v: Record<string, bigint | number> = {}) => decodeCommand(...enc(n, v));

// ---------------------------------------------------------------------------
// Profiles for the legality rules.  IDR0 bits (§6.3.1): S2P 0, S1P 1, Hyp 9, ATS 10, NS1ATS 11, SEV 14,
// PRI 16, STALL_MODEL [25:24]; IDR3.RIL bit 10 (§6.3.4); IDR5.DS bit 7 (§6.3.6).
const variant = (name: string, p: Partial<Profile>): Profile => ({ ...DEFAULT_PROFILE, name, ...p });
/** Stage 2 only: S1P cleared, and Hyp/NS1ATS with it (both RES0 when S1P == 0, §6.3.1). 0x0d4c7e1b & ~0xa02 = 0x0d4c7419. */
const S2_ONLY = variant('s2-only', { IDR0: DEFAULT_PROFILE.IDR0 & ~(0x2 | 0x200 | 0x800) });
/** PRI supported: 0x0d4c7e1b | 0x10000 = 0x0d4d7e1b. */
const WITH_PRI = variant('pri', { IDR0: DEFAULT_PROFILE.IDR0 | 0x10000 });
/** STALL_MODEL = 0b00 (stall and terminate): 0x0d4c7e1b & ~0x03000000 = 0x0c4c7e1b. */
const STALL_00 = variant('stall', { IDR0: DEFAULT_PROFILE.IDR0 & ~0x0300_0000 });
/** IDR5.DS = 1: 0x75 | 0x80 = 0xf5. */
const WITH_DS = variant('ds', { IDR5: DEFAULT_PROFILE.IDR5 | 0x80 });
/** IDR3.RIL = 0: 0x414 & ~0x400 = 0x014. */
const NO_RIL = variant('no-ril', { IDR3: DEFAULT_PROFILE.IDR3 & ~0x400 });

const F = {
  def: featuresOf(DEFAULT_PROFILE),
  qemu: featuresOf(QEMU_72_PROFILE),
  s2only: featuresOf(S2_ONLY),
  pri: featuresOf(WITH_PRI),
  stall: featuresOf(STALL_00),
  ds: featuresOf(WITH_DS),
  noRil: featuresOf(NO_RIL),
};

describe('profiles used by these tests decode as intended', () => {
  it('feature flags', () => {
    expect([F.def.s1p, F.def.s2p, F.def.hyp, F.def.ats, F.def.pri, F.def.sev, F.def.ril, F.def.ds, F.def.stallModel])
      .toEqual([true, true, true, true, false, true, true, false, 1]);
    expect([F.qemu.s1p, F.qemu.s2p, F.qemu.hyp, F.qemu.ats, F.qemu.sev, F.qemu.msi, F.qemu.stallModel])
      .toEqual([true, false, false, false, false, false, 1]);
    expect([F.s2only.s1p, F.s2only.s2p, F.s2only.hyp]).toEqual([false, true, false]);
    expect(F.pri.pri).toBe(true);
    expect(F.stall.stallModel).toBe(0);
    expect(F.ds.ds).toBe(true);
    expect(F.noRil.ril).toBe(false);
  });
});

// ---------------------------------------------------------------------------

describe('command table structure', () => {
  it('opcodes are the §4.1.1 values', () => {
    const ops = Object.fromEntries(COMMANDS.map((c) => [c.name, c.opcode]));
    expect(ops).toEqual({
      PREFETCH_CONFIG: 0x01, PREFETCH_ADDR: 0x02, CFGI_STE: 0x03, CFGI_STE_RANGE: 0x04, CFGI_ALL: 0x04, CFGI_CD: 0x05,
      CFGI_CD_ALL: 0x06, TLBI_NH_ALL: 0x10, TLBI_NH_ASID: 0x11, TLBI_NH_VA: 0x12, TLBI_NH_VAA: 0x13, TLBI_EL3_ALL: 0x18,
      TLBI_EL3_VA: 0x1a, TLBI_EL2_ALL: 0x20, TLBI_EL2_ASID: 0x21, TLBI_EL2_VA: 0x22, TLBI_EL2_VAA: 0x23,
      TLBI_S12_VMALL: 0x28, TLBI_S2_IPA: 0x2a, TLBI_NSNH_ALL: 0x30, ATC_INV: 0x40, PRI_RESP: 0x41, RESUME: 0x44,
      STALL_TERM: 0x45, CMD_SYNC: 0x46,
    });
  });

  it('no two fields of a command overlap, and none overlaps the opcode byte DW0[7:0]', () => {
    for (const c of COMMANDS) {
      const used = [0xffn, 0n];
      for (const f of c.fields) {
        const m = fieldMask(f);
        expect({ cmd: c.name, field: f.key, overlap: (used[f.qword]! & m) !== 0n }).toEqual({ cmd: c.name, field: f.key, overlap: false });
        used[f.qword] = used[f.qword]! | m;
      }
    }
  });

  it('commandByName is case-insensitive and accepts the CMD_ prefix and SYNC', () => {
    expect(commandByName('cfgi_ste')?.name).toBe('CFGI_STE');
    expect(commandByName('CMD_TLBI_NH_VA')?.name).toBe('TLBI_NH_VA');
    expect(commandByName('sync')?.name).toBe('CMD_SYNC');
    expect(commandByName('cmd_sync')?.name).toBe('CMD_SYNC');
    expect(commandByName('CFGI_VMS_PIDM')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------

describe('hand-computed encodings of the commands Linux issues', () => {
  it('CFGI_STE sid=0x12 leaf=1 -> dw0 = 0x00000012_00000003, dw1 = 1', () => {
    // dw0 = opcode 0x03 | StreamID 0x12 << 32; dw1 = Leaf (bit 0).
    expect(enc('CFGI_STE', { sid: 0x12, leaf: 1 })).toEqual([0x0000_0012_0000_0003n, 1n]);
  });

  it('CFGI_STE_RANGE sid=0x40 range=5 -> dw1 = Range in [4:0]', () => {
    // dw0 = 0x04 | 0x40 << 32 = 0x00000040_00000004; dw1 = 5.
    expect(enc('CFGI_STE_RANGE', { sid: 0x40, range: 5 })).toEqual([0x0000_0040_0000_0004n, 5n]);
  });

  it('CFGI_ALL is opcode 0x04 with Range = 31 (§4.3.6), and decodes back as CFGI_ALL', () => {
    expect(enc('CFGI_ALL')).toEqual([0x04n, 0x1fn]);
    expect(decodeCommand(0x04n, 0x1fn).def?.name).toBe('CFGI_ALL');
    // StreamID is ignored by CFGI_ALL: any StreamID with Range = 31 is still CFGI_ALL.
    expect(decodeCommand(0x0000_1234_0000_0004n, 0x1fn).def?.name).toBe('CFGI_ALL');
    // Range = 30 is a (huge) CFGI_STE_RANGE, not CFGI_ALL.
    const r30 = decodeCommand(0x04n, 0x1en);
    expect(r30.def?.name).toBe('CFGI_STE_RANGE');
    expect(r30.f.range).toBe(30n);
  });

  it('CFGI_CD sid=0x12 ssid=5 leaf=1 and CFGI_CD_ALL sid=0x12', () => {
    // dw0 = 0x05 | SubstreamID 5 << 12 (0x5000) | 0x12 << 32 = 0x00000012_00005005.
    expect(enc('CFGI_CD', { sid: 0x12, ssid: 5, leaf: 1 })).toEqual([0x0000_0012_0000_5005n, 1n]);
    expect(enc('CFGI_CD_ALL', { sid: 0x12 })).toEqual([0x0000_0012_0000_0006n, 0n]);
  });

  it('CMD_SYNC CS=SIG_IRQ MSH=ISH MSIAttr=0xF with MSIData and MSIAddress', () => {
    // dw0 = 0x46 | CS 1 << 12 (0x1000) | MSH 3 << 22 (0xc00000) | MSIAttr 0xf << 24 (0x0f000000) | MSIData << 32
    //     = 0x12345678_0fc01046; dw1 = MSIAddress[55:2] in place = 0x83000040.
    expect(enc('CMD_SYNC', { cs: 1, msh: 3, msiattr: 0xf, msidata: 0x1234_5678, msiaddr: 0x8300_0040n }))
      .toEqual([0x1234_5678_0fc0_1046n, 0x8300_0040n]);
    // The SIG_SEV sync Linux uses without MSIs: 0x46 | 2 << 12 = 0x2046.
    expect(enc('CMD_SYNC', { cs: 2 })).toEqual([0x2046n, 0n]);
  });

  it('TLBI_NH_VA with ASID, VMID and the range fields', () => {
    // dw0 = 0x12 | NUM 3 << 12 (0x3000) | SCALE 2 << 20 (0x200000) | VMID 0x56 << 32 | ASID 0x1234 << 48
    //     = 0x12340056_00203012.
    // dw1 = Leaf 1 | TTL 3 << 8 (0x300) | TG 1 << 10 (0x400) | Address[63:12] 0x7fff_1234_5000 = 0x00007fff_12345701.
    expect(enc('TLBI_NH_VA', { asid: 0x1234, vmid: 0x56, num: 3, scale: 2, tg: 1, ttl: 3, leaf: 1, addr: 0x7fff_1234_5000n }))
      .toEqual([0x1234_0056_0020_3012n, 0x0000_7fff_1234_5701n]);
  });

  it('TLBI_NH_ASID, TLBI_NH_ALL, TLBI_S12_VMALL, TLBI_S2_IPA, TLBI_NSNH_ALL, TLBI_EL2_ALL', () => {
    // NH_ASID: 0x11 | ASID 1 << 48 | VMID 2 << 32 = 0x00010002_00000011.
    expect(enc('TLBI_NH_ASID', { asid: 1, vmid: 2 })).toEqual([0x0001_0002_0000_0011n, 0n]);
    expect(enc('TLBI_NH_ALL', { vmid: 7 })).toEqual([0x0000_0007_0000_0010n, 0n]);
    expect(enc('TLBI_S12_VMALL', { vmid: 0xffff })).toEqual([0x0000_ffff_0000_0028n, 0n]);
    // S2_IPA: dw1 = Address[55:12] 0x8_0000_1000 | Leaf 1 = 0x8_0000_1001.
    expect(enc('TLBI_S2_IPA', { vmid: 3, addr: 0x8_0000_1000n, leaf: 1 })).toEqual([0x0000_0003_0000_002an, 0x8_0000_1001n]);
    expect(enc('TLBI_NSNH_ALL')).toEqual([0x30n, 0n]);
    expect(enc('TLBI_EL2_ALL')).toEqual([0x20n, 0n]);
  });

  it('ATC_INV, PRI_RESP, RESUME, STALL_TERM, PREFETCH_CONFIG', () => {
    // ATC_INV sid=0x10 G=1 Size=52 (Linux ATC_INV_SIZE_ALL): dw0 = 0x40 | 1 << 9 (0x200) | 0x10 << 32; dw1 = 0x34.
    expect(enc('ATC_INV', { sid: 0x10, g: 1, size: 52 })).toEqual([0x0000_0010_0000_0240n, 0x34n]);
    // PRI_RESP sid=0x100 SSV=1 ssid=3 PRGIndex=0x1ff Resp=Success(2):
    // dw0 = 0x41 | 1 << 11 (0x800) | 3 << 12 (0x3000) | 0x100 << 32 = 0x00000100_00003841; dw1 = 0x1ff | 2 << 12 = 0x21ff.
    expect(enc('PRI_RESP', { sid: 0x100, ssv: 1, ssid: 3, prgindex: 0x1ff, resp: 2 })).toEqual([0x0000_0100_0000_3841n, 0x21ffn]);
    // RESUME sid=5 Ac=1 STAG=0xabc: dw0 = 0x44 | 1 << 12 | 5 << 32 = 0x00000005_00001044; dw1 = 0xabc.
    expect(enc('RESUME', { sid: 5, ac: 1, stag: 0xabc })).toEqual([0x0000_0005_0000_1044n, 0xabcn]);
    expect(enc('STALL_TERM', { sid: 5 })).toEqual([0x0000_0005_0000_0045n, 0n]);
    expect(enc('PREFETCH_CONFIG', { sid: 9 })).toEqual([0x0000_0009_0000_0001n, 0n]);
  });

  it('decodes the hand-computed TLBI_NH_VA back to its fields', () => {
    const c = decodeCommand(0x1234_0056_0020_3012n, 0x0000_7fff_1234_5701n);
    expect(c.def?.name).toBe('TLBI_NH_VA');
    expect(c.f).toEqual({ vmid: 0x56n, asid: 0x1234n, num: 3n, scale: 2n, leaf: 1n, ttl: 3n, tg: 1n, addr: 0x7fff_1234_5000n });
    expect(formatCommand(c)).toBe('TLBI_NH_VA VMID=0x56 ASID=0x1234 NUM=3 SCALE=2 Leaf=1 TTL=3 TG=4K Address=0x7fff12345000');
  });

  it('rejects values that do not fit a field and keys a command does not have', () => {
    expect(() => enc('CFGI_STE', { leaf: 2 })).toThrow(RangeError); // Leaf is 1 bit
    expect(() => enc('CFGI_STE_RANGE', { range: 32 })).toThrow(RangeError); // Range is 5 bits
    expect(() => enc('TLBI_S2_IPA', { addr: 1n << 56n })).toThrow(RangeError); // Address[55:12]: bit 56 has no room
    expect(() => enc('TLBI_NH_ALL', { asid: 1 })).toThrow(/no field 'asid'/);
  });
});

// ---------------------------------------------------------------------------

/** A random value that fits the field: [0, 2^width) shifted into place for address fields. */
function fieldArb(f: CommandDef['fields'][number]): fc.Arbitrary<bigint> {
  const v = fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n });
  return f.addr ? v.map((x) => x << BigInt(f.lo)) : v;
}

describe('encode/decode round trips (fast-check, fixed seeds)', () => {
  COMMANDS.forEach((c, i) => {
    it(`${c.name}: decode(encode(fields)) gives the command and every field back`, () => {
      const rec: Record<string, fc.Arbitrary<bigint>> = {};
      for (const f of c.fields) {
        // Range = 31 turns CFGI_STE_RANGE into CFGI_ALL (checked separately), so 0..30 here.
        rec[f.key] = c.name === 'CFGI_STE_RANGE' && f.key === 'range' ? fc.bigInt({ min: 0n, max: 30n }) : fieldArb(f);
      }
      fc.assert(
        fc.property(fc.record(rec), (vals) => {
          const [dw0, dw1] = encodeCommand(c, vals);
          const d = decodeCommand(dw0, dw1);
          expect(d.def?.name).toBe(c.name);
          expect(d.opcode).toBe(c.opcode);
          expect(d.f).toEqual(vals);
          // And back: encoding the decoded fields reproduces the same doublewords.
          expect(encodeCommand(d.def!, d.f)).toEqual([dw0, dw1]);
        }),
        { seed: 0xc0de + i, numRuns: 200 },
      );
    });
  });

  it('CFGI_STE_RANGE with Range = 31 round-trips as CFGI_ALL, SSec preserved', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffff_ffffn }), fc.bigInt({ min: 0n, max: 1n }), (sid, ssec) => {
        const d = decodeCommand(...encodeCommand(def('CFGI_STE_RANGE'), { sid, ssec, range: 31n }));
        expect(d.def?.name).toBe('CFGI_ALL');
        expect(d.f).toEqual({ ssec });
      }),
      { seed: 0xa11, numRuns: 100 },
    );
  });

  it('decode then encode keeps exactly the defined bits of arbitrary doublewords', () => {
    const defs = COMMANDS.filter((c) => c.name !== 'CFGI_ALL');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: defs.length - 1 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (k, a, b) => {
          const c = defs[k]!;
          const dw0 = (a & ~0xffn) | BigInt(c.opcode);
          const d = decodeCommand(dw0, b);
          const isAll = c.name === 'CFGI_STE_RANGE' && (b & 0x1fn) === 0x1fn;
          expect(d.def?.name).toBe(isAll ? 'CFGI_ALL' : c.name);
          // Expected: opcode plus every field bit of the definition, everything else (RES0) dropped.
          const m = [0xffn, isAll ? 0x1fn : 0n];
          for (const f of d.def!.fields) m[f.qword] = m[f.qword]! | fieldMask(f);
          expect(encodeCommand(d.def!, d.f)).toEqual([dw0 & m[0]!, b & m[1]!]);
        },
      ),
      { seed: 0xdec0de, numRuns: 1000 },
    );
  });
});

// ---------------------------------------------------------------------------

describe('illegalReason (CERROR_ILL rules, §4.1.3)', () => {
  const DEFINED = new Set(COMMANDS.map((c) => c.opcode));

  it('every opcode without a command definition is reserved (0x00, 0x07, 0x08, 0x50, 0x80, 0xff, ...)', () => {
    // §4.1.1: 0x07 CFGI_VMS_PIDM needs MPAM (IDR3.MPAM = 0 here), 0x50-0x60 are Secure-queue only,
    // 0x70/0x73 need DPT, 0x80-0x8f are IMPLEMENTATION DEFINED (none implemented): all CERROR_ILL here.
    let reserved = 0;
    for (let op = 0; op < 256; op++) {
      if (DEFINED.has(op)) continue;
      const c = decodeCommand(BigInt(op), 0n);
      expect(c.def).toBeUndefined();
      expect(illegalReason(c, F.def)).toBe(`opcode 0x${op.toString(16).padStart(2, '0')} is reserved`);
      reserved++;
    }
    // 256 opcodes - 24 distinct defined opcodes (CFGI_ALL shares 0x04 with CFGI_STE_RANGE) = 232.
    expect(reserved).toBe(232);
    for (const op of [0x00, 0x07, 0x08, 0x0b, 0x14, 0x19, 0x29, 0x31, 0x42, 0x47, 0x50, 0x58, 0x5a, 0x60, 0x70, 0x80, 0xff]) {
      expect(illegalReason(decodeCommand(BigInt(op), 0n), F.def)).toMatch(/reserved/);
    }
  });

  it('on the full profile, every command with zero fields is legal except EL3, PRI_RESP (no PRI), RESUME/STALL_TERM (STALL_MODEL=01)', () => {
    const illegal = COMMANDS.filter((c) => illegalReason(decodeCommand(...encodeCommand(c, {})), F.def) !== undefined).map((c) => c.name);
    expect(illegal).toEqual(['TLBI_EL3_ALL', 'TLBI_EL3_VA', 'PRI_RESP', 'RESUME', 'STALL_TERM']);
  });

  it('SSec = 1 is illegal on the Non-secure queue for every command that has SSec (§4.1.6)', () => {
    const withSsec = COMMANDS.filter((c) => c.fields.some((f) => f.key === 'ssec'));
    expect(withSsec.map((c) => c.name)).toEqual([
      'PREFETCH_CONFIG', 'PREFETCH_ADDR', 'CFGI_STE', 'CFGI_STE_RANGE', 'CFGI_ALL', 'CFGI_CD', 'CFGI_CD_ALL', 'RESUME', 'STALL_TERM',
    ]);
    for (const c of withSsec) {
      expect(illegalReason(decodeCommand(...encodeCommand(c, { ssec: 1n })), F.stall)).toBe('SSec=1 on the Non-secure command queue');
      if (c.name !== 'RESUME' && c.name !== 'STALL_TERM') expect(illegalReason(decodeCommand(...encodeCommand(c, { ssec: 0n })), F.def)).toBeUndefined();
    }
  });

  it('CFGI_CD, CFGI_CD_ALL and TLBI_NH_* are illegal without stage 1 (§4.3.3, §4.3.4, §4.4.2)', () => {
    for (const n of ['CFGI_CD', 'CFGI_CD_ALL', 'TLBI_NH_ALL', 'TLBI_NH_ASID', 'TLBI_NH_VA', 'TLBI_NH_VAA'] as const) {
      expect(illegalReason(cmdOf(n), F.s2only)).toBe(`${n} on an SMMU without stage 1`);
      expect(illegalReason(cmdOf(n), F.def)).toBeUndefined();
    }
    // Stage-2 and common commands stay legal on the stage-2-only SMMU.
    for (const n of ['CFGI_STE', 'CFGI_ALL', 'TLBI_S12_VMALL', 'TLBI_S2_IPA', 'TLBI_NSNH_ALL', 'CMD_SYNC'] as const) {
      expect(illegalReason(cmdOf(n), F.s2only)).toBeUndefined();
    }
  });

  it('TLBI_EL2_* are illegal without SMMU_IDR0.Hyp (qemu-7.2), legal with it (§4.4.2)', () => {
    for (const n of ['TLBI_EL2_ALL', 'TLBI_EL2_ASID', 'TLBI_EL2_VA', 'TLBI_EL2_VAA'] as const) {
      expect(illegalReason(cmdOf(n), F.qemu)).toBe(`${n} without SMMU_IDR0.Hyp`);
      expect(illegalReason(cmdOf(n), F.s2only)).toBe(`${n} without SMMU_IDR0.Hyp`);
      expect(illegalReason(cmdOf(n), F.def)).toBeUndefined();
    }
  });

  it('TLBI_EL3_* are illegal on the Non-secure queue whatever the features (§4.4.2.5-6)', () => {
    for (const feat of [F.def, F.qemu, F.stall]) {
      expect(illegalReason(cmdOf('TLBI_EL3_ALL'), feat)).toBe('TLBI_EL3_ALL is only valid on the Secure command queue');
      expect(illegalReason(cmdOf('TLBI_EL3_VA'), feat)).toBe('TLBI_EL3_VA is only valid on the Secure command queue');
    }
  });

  it('TLBI_S12_VMALL and TLBI_S2_IPA are illegal without stage 2 (qemu-7.2) (§4.4.3)', () => {
    expect(illegalReason(cmdOf('TLBI_S12_VMALL'), F.qemu)).toBe('TLBI_S12_VMALL on an SMMU without stage 2');
    expect(illegalReason(cmdOf('TLBI_S2_IPA'), F.qemu)).toBe('TLBI_S2_IPA on an SMMU without stage 2');
    // TLBI_NSNH_ALL is valid on S1-only, S2-only or both (§4.4.4.1).
    expect(illegalReason(cmdOf('TLBI_NSNH_ALL'), F.qemu)).toBeUndefined();
  });

  it('ATC_INV is illegal without ATS (qemu-7.2); PRI_RESP without PRI; PRI_RESP Resp=0b11 is reserved', () => {
    expect(illegalReason(cmdOf('ATC_INV'), F.qemu)).toBe('ATC_INV without SMMU_IDR0.ATS');
    expect(illegalReason(cmdOf('ATC_INV'), F.def)).toBeUndefined();
    expect(illegalReason(cmdOf('PRI_RESP', { resp: 2 }), F.def)).toBe('PRI_RESP without SMMU_IDR0.PRI');
    expect(illegalReason(cmdOf('PRI_RESP', { resp: 2 }), F.qemu)).toBe('PRI_RESP without SMMU_IDR0.PRI');
    expect(illegalReason(cmdOf('PRI_RESP', { resp: 2 }), F.pri)).toBeUndefined();
    expect(illegalReason(cmdOf('PRI_RESP', { resp: 0 }), F.pri)).toBeUndefined();
    expect(illegalReason(cmdOf('PRI_RESP', { resp: 3 }), F.pri)).toBe('PRI_RESP Resp=0b11 is reserved');
  });

  it('RESUME and STALL_TERM are illegal with STALL_MODEL=0b01, legal with 0b00 (§6.3.1 STALL_MODEL)', () => {
    expect(illegalReason(cmdOf('RESUME', { sid: 1, stag: 2 }), F.def)).toBe('RESUME with SMMU_IDR0.STALL_MODEL=0b01 (no stalls)');
    expect(illegalReason(cmdOf('STALL_TERM', { sid: 1 }), F.qemu)).toBe('STALL_TERM with SMMU_IDR0.STALL_MODEL=0b01 (no stalls)');
    expect(illegalReason(cmdOf('RESUME', { sid: 1, stag: 2 }), F.stall)).toBeUndefined();
    expect(illegalReason(cmdOf('STALL_TERM', { sid: 1 }), F.stall)).toBeUndefined();
  });

  it('CMD_SYNC CS=0b11 is reserved; SIG_SEV without SMMU_IDR0.SEV is not an error (behaves as SIG_NONE, §4.7.3)', () => {
    expect(illegalReason(cmdOf('CMD_SYNC', { cs: 3 }), F.def)).toBe('CMD_SYNC CS=0b11 is reserved');
    for (const cs of [0, 1, 2]) expect(illegalReason(cmdOf('CMD_SYNC', { cs }), F.def)).toBeUndefined();
    expect(F.qemu.sev).toBe(false);
    expect(illegalReason(cmdOf('CMD_SYNC', { cs: 2 }), F.qemu)).toBeUndefined();
  });

  describe('range TLBI parameters (§4.4.1.1)', () => {
    const RANGE_CMDS = ['TLBI_NH_VA', 'TLBI_NH_VAA', 'TLBI_EL2_VA', 'TLBI_EL2_VAA', 'TLBI_S2_IPA'] as const;

    it('TG != 0 with NUM = SCALE = TTL = 0 is reserved; any one non-zero makes it legal', () => {
      for (const n of RANGE_CMDS) {
        for (const tg of [1, 2, 3]) {
          expect(illegalReason(cmdOf(n, { tg }), F.def)).toBe(`${n}: TG!=0 with NUM=0, SCALE=0 and TTL=0 is reserved`);
          expect(illegalReason(cmdOf(n, { tg, num: 1 }), F.def)).toBeUndefined();
          expect(illegalReason(cmdOf(n, { tg, scale: 1 }), F.def)).toBeUndefined();
          expect(illegalReason(cmdOf(n, { tg, ttl: 2 }), F.def)).toBeUndefined();
        }
        // TG = 0: a single-address invalidation; NUM/SCALE/TTL are RES0 and ignored.
        expect(illegalReason(cmdOf(n), F.def)).toBeUndefined();
      }
    });

    it('TG = 16K with TTL = 0b01 counts as TTL = 0 without IDR5.DS (so NUM = SCALE = 0 is reserved), but not with DS', () => {
      for (const n of RANGE_CMDS) {
        expect(illegalReason(cmdOf(n, { tg: 2, ttl: 1 }), F.def))
          .toBe(`${n}: TG!=0 with NUM=0, SCALE=0 and TTL=0 is reserved (TTL=1 with a 16K TG counts as 0 without DS)`);
        expect(illegalReason(cmdOf(n, { tg: 2, ttl: 1 }), F.ds)).toBeUndefined();
        // With NUM != 0 the TTL is merely treated as 0: no error.
        expect(illegalReason(cmdOf(n, { tg: 2, ttl: 1, num: 1 }), F.def)).toBeUndefined();
        // TTL = 0b01 is a real level-1 hint for 4K and 64K.
        expect(illegalReason(cmdOf(n, { tg: 1, ttl: 1 }), F.def)).toBeUndefined();
        expect(illegalReason(cmdOf(n, { tg: 3, ttl: 1 }), F.def)).toBeUndefined();
      }
    });

    it('effectiveTtl: only (TG=16K, TTL=1, DS=0) changes', () => {
      expect(effectiveTtl(2, 1, F.def)).toBe(0);
      expect(effectiveTtl(2, 1, F.ds)).toBe(1);
      expect(effectiveTtl(2, 2, F.def)).toBe(2);
      expect(effectiveTtl(1, 1, F.def)).toBe(1);
      expect(effectiveTtl(3, 1, F.def)).toBe(1);
      expect(effectiveTtl(1, 0, F.def)).toBe(0);
    });

    // §4.4.1.1 SCALE: "If SMMU_IDR5.DS == 1, this field is 6 bits wide, bits [25:20]".  The model's SCALE
    // field is DW0[24:20] whatever DS says, so SCALE = 32 (only bit 25 set) reads as 0 and, with NUM = TTL = 0,
    // as the reserved TG != 0 / NUM = SCALE = TTL = 0 combination.
    it('with IDR5.DS = 1, SCALE is DW0[25:20]: SCALE = 32 with NUM = TTL = 0 is a legal range', () => {
      // dw0 = 0x12 | 1 << 25 (SCALE = 0b100000) | ASID 1 << 48; dw1 = TG 1 << 10.
      const c = decodeCommand(0x12n | (1n << 25n) | (1n << 48n), 1n << 10n);
      expect(illegalReason(c, F.ds)).toBeUndefined();
    });

    it('with IDR5.DS = 0, DW0 bit 25 is RES0: SCALE is read from bits [24:20] only', () => {
      // TLBI_NH_VA (0x12), ASID 1, bit 25 set, TG = 4K (DW1 bit 10), NUM = TTL = 0.
      // The field table holds the 6-bit DS form (decode shows 0b100000 = 32), but without DS the SMMU
      // ignores bit 25, so the effective SCALE is 0 and the combination is the reserved one.
      const c = decodeCommand(0x12n | (1n << 25n) | (1n << 48n), 1n << 10n);
      expect(c.f.scale).toBe(32n);
      expect(illegalReason(c, F.def)).toMatch(/NUM=0, SCALE=0 and TTL=0 is reserved/);
    });

    it('without SMMU_IDR3.RIL the range fields are RES0 and ignored (the model\'s choice under §4.1.5)', () => {
      expect(illegalReason(cmdOf('TLBI_NH_VA', { tg: 1 }), F.noRil)).toBeUndefined();
    });
  });

  it('TLBI_NH_VA is illegal exactly when TG != 0 and NUM = SCALE = effective TTL = 0 (fast-check)', () => {
    // Random legal TLBI_NH_VA on the full profile: TG = 0, or TG != 0 with NUM|SCALE|TTL != 0 (TTL=1 not with 16K).
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: 0xffffn }), fc.bigInt({ min: 0n, max: 31n }),
        fc.bigInt({ min: 0n, max: 31n }), fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 1n }),
        (asid, vmid, num, scale, tg, ttl, leaf) => {
          const c = decodeCommand(...encodeCommand(def('TLBI_NH_VA'), { asid, vmid, num, scale, tg, ttl, leaf }));
          const effTtl = tg === 2n && ttl === 1n ? 0n : ttl;
          const reserved = tg !== 0n && num === 0n && scale === 0n && effTtl === 0n;
          expect(illegalReason(c, F.def) !== undefined).toBe(reserved);
        },
      ),
      { seed: 0x7171, numRuns: 500 },
    );
  });
});

