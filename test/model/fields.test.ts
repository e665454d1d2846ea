/**
 * The bit-field tables (src/model/fields.ts): decode, encode, getField,
 * setField, reserved bits, diffs and formatting, checked against values
 * computed by hand from the spec's bit positions.
 */
import { describe, expect, it } from '@jest/globals';
import { CD_LAYOUT } from '../../src/model/cd.js';
import {
  bit, bits, decode, describePosition, diffFields, dw, encode, enumName, fieldByName, fieldMask, formatField, formatValue,
  getField, hex, hex64, MASK64, reservedBitsSet, reservedMasks, setField, type FieldDef, type Layout,
} from '../../src/model/fields.js';
import { STE_LAYOUT } from '../../src/model/ste.js';
import { L1STD_LAYOUT } from '../../src/model/streamTable.js';

function field(layout: Layout, name: string): FieldDef {
  const f = fieldByName(layout, name);
  if (!f) throw new Error(`no field ${name} in ${layout.name}`);
  return f;
}

/** A small layout of our own, so that the reserved-bit arithmetic is easy to follow. */
const TOY: Layout<'A' | 'B' | 'Ptr' | 'Kind'> = {
  name: 'TOY', qwords: 2, fields: [
    dw('A', 0, 0, 0, 'test'), // DW0[0]
    dw('B', 0, 7, 4, 'test'), // DW0[7:4]
    dw('Ptr', 0, 47, 12, 'test', { addr: true }), // DW0[47:12], in place
    dw('Kind', 1, 2, 0, 'test', { enum: { 0: 'zero', 1: 'one', 3: 'three' } }), // DW1[2:0], 2 and 4..7 are holes
  ],
};

describe('dw / fieldMask / describePosition', () => {
  it('DWn[hi:lo] gives lo, width and the mask', () => {
    const f = dw('X', 1, 11, 8, 'spec');
    expect(f).toEqual({ name: 'X', qword: 1, lo: 8, width: 4, spec: 'spec' });
    expect(fieldMask(f)).toBe(0xf00n); // 4 ones shifted by 8
    expect(describePosition(f)).toBe('DW1[11:8]');
    expect(fieldMask(dw('All', 0, 63, 0, 's'))).toBe(MASK64);
  });

  it('rejects hi < lo and bits outside the doubleword', () => {
    expect(() => dw('X', 0, 3, 4, 's')).toThrow('bad field X [3:4]');
    expect(() => dw('X', 0, 64, 0, 's')).toThrow();
    expect(() => dw('X', 0, 3, -1, 's')).toThrow();
  });

  it('keeps the enum and addr options only when given', () => {
    expect('enum' in dw('X', 0, 1, 0, 's')).toBe(false);
    expect('addr' in dw('X', 0, 1, 0, 's')).toBe(false);
    expect(dw('X', 0, 55, 6, 's', { addr: true }).addr).toBe(true);
  });
});

describe('getField / decode with hand-computed vectors', () => {
  it('STE DW0 = 0x2000_0000_9000_000b: V=DW0[0]=1, Config=DW0[3:1]=0b101, S1ContextPtr=DW0[55:6]=0x9000_0000, S1CDMax=DW0[63:59]=4', () => {
    // 0xb = 0b1011: bit 0 = 1 (V), bits [3:1] = 0b101 (Config S1).
    // 0x2000_0000_0000_0000 = 1 << 61 = 0b00100 << 59 -> S1CDMax = 4.
    const q = [0x2000_0000_9000_000bn, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    expect(getField(field(STE_LAYOUT, 'V'), q)).toBe(1n);
    expect(getField(field(STE_LAYOUT, 'Config'), q)).toBe(0b101n);
    expect(getField(field(STE_LAYOUT, 'S1Fmt'), q)).toBe(0n);
    // In-place address: decoded as the masked doubleword bits [55:6], not shifted.
    expect(getField(field(STE_LAYOUT, 'S1ContextPtr'), q)).toBe(0x9000_0000n);
    expect(getField(field(STE_LAYOUT, 'S1CDMax'), q)).toBe(4n);
    const d = decode(STE_LAYOUT, q);
    expect(d.V).toBe(1n);
    expect(d.Config).toBe(5n);
    expect(d.S1CDMax).toBe(4n);
    expect(d.S2VMID).toBe(0n);
  });

  it('STE DW1 = 0x0000_1000_0000_00d6: S1DSS=0b10, S1CIR=0b01, S1COR=0b01, S1CSH=0b11, SHCFG=DW1[45:44]=0b01', () => {
    // 0xd6 = 0b1101_0110: [1:0]=10, [3:2]=01, [5:4]=01, [7:6]=11.  0x1000_0000_0000 = 1 << 44.
    const d = decode(STE_LAYOUT, [0n, 0x0000_1000_0000_00d6n]);
    expect([d.S1DSS, d.S1CIR, d.S1COR, d.S1CSH, d.SHCFG]).toEqual([2n, 1n, 1n, 3n, 1n]);
    expect(d.STRW).toBe(0n);
    expect(d.EATS).toBe(0n);
  });

  it('a missing doubleword reads as zero', () => {
    // S2TTB lives in DW3; only DW0 is supplied.
    expect(getField(field(STE_LAYOUT, 'S2TTB'), [0xffn])).toBe(0n);
  });

  it('CD DW0 bit 31 is V and DW0[63:48] is ASID', () => {
    // 0xbeef_0000_8000_0000: bit 31 set, bits [63:48] = 0xbeef.
    const d = decode(CD_LAYOUT, [0xbeef_0000_8000_0000n]);
    expect(d.V).toBe(1n);
    expect(d.ASID).toBe(0xbeefn);
    expect(d.T0SZ).toBe(0n);
  });

  it('L1STD = 0x9000_0107: Span=DW0[4:0]=7, L2Ptr=DW0[55:6]=0x9000_0100', () => {
    // 0x107: low 5 bits 0b00111 = 7; bit 8 (0x100) is inside L2Ptr; bit 5 is RES0 and clear.
    const d = decode(L1STD_LAYOUT, [0x9000_0107n]);
    expect(d).toEqual({ Span: 7n, L2Ptr: 0x9000_0100n });
  });
});

describe('setField / encode', () => {
  it('places values at their positions and leaves the other bits alone', () => {
    const q = [0xffff_0000_0000_0000n];
    setField(field(STE_LAYOUT, 'Config'), q, 6n); // 6 << 1 = 0xc
    expect(q[0]).toBe(0xffff_0000_0000_000cn);
    setField(field(STE_LAYOUT, 'Config'), q, 4n); // replaces, does not OR: 4 << 1 = 0x8
    expect(q[0]).toBe(0xffff_0000_0000_0008n);
    // setField extends a short array with zeros.
    const r: bigint[] = [];
    setField(field(STE_LAYOUT, 'S2VMID'), r, 0x1234n);
    expect(r[2]).toBe(0x1234n);
  });

  it('encode of a Linux-style stage-1 STE gives DW0 = 0x2000_0000_9000_000b, DW1 = 0x0000_1000_0000_00d6', () => {
    const q = encode(STE_LAYOUT, {
      V: 1, Config: 5, S1ContextPtr: 0x9000_0000n, S1CDMax: 4,
      S1DSS: 2, S1CIR: 1, S1COR: 1, S1CSH: 3, SHCFG: 1,
    });
    // DW0: 1 | 5<<1 | 0x9000_0000 | 4<<59 = 0x2000_0000_9000_000b.
    // DW1: 2 | 1<<2 | 1<<4 | 3<<6 | 1<<44 = 0x2+0x4+0x10+0xc0 + 0x1000_0000_0000.
    expect(q).toEqual([0x2000_0000_9000_000bn, 0x0000_1000_0000_00d6n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });

  it('throws RangeError when a value does not fit its field', () => {
    const q = [0n];
    // Config is 3 bits: 8 needs 4.
    expect(() => setField(field(STE_LAYOUT, 'Config'), q, 8n)).toThrow(RangeError);
    expect(() => setField(field(STE_LAYOUT, 'Config'), q, 8n)).toThrow('Config: value 0x8 does not fit DW0[3:1]');
    expect(() => setField(field(STE_LAYOUT, 'V'), q, -1n)).toThrow(RangeError);
    // An in-place address must have its low bits clear: S1ContextPtr is [55:6], 0x9000_0020 has bit 5 set.
    expect(() => setField(field(STE_LAYOUT, 'S1ContextPtr'), q, 0x9000_0020n)).toThrow(RangeError);
    // ... and must not reach above bit 55.
    expect(() => setField(field(STE_LAYOUT, 'S1ContextPtr'), q, 1n << 56n)).toThrow(RangeError);
    expect(() => encode(STE_LAYOUT, { S1CDMax: 32 })).toThrow(RangeError); // 5 bits: max 31
    // A failed setField leaves the doubleword unchanged.
    expect(q[0]).toBe(0n);
  });

  it('encode accepts numbers and bigints, and leaves undefined fields zero', () => {
    expect(encode(TOY, { A: 1, B: 0xan, Ptr: 0x1234_5000n, Kind: 3 })).toEqual([
      // 1 | 0xa<<4 | 0x1234_5000 = 0x1234_50a1.
      0x1234_50a1n,
      3n,
    ]);
    expect(encode(TOY, {})).toEqual([0n, 0n]);
  });
});

describe('reserved bits', () => {
  it('reservedMasks is the complement of all defined fields per doubleword', () => {
    // TOY DW0 defines bit 0, [7:4] and [47:12]: used = 0x0000_ffff_ffff_f0f1.
    // Reserved = ~used = 0xffff_0000_0000_0f0e.  DW1 defines [2:0]: reserved = ~0x7.
    expect(reservedMasks(TOY)).toEqual([0xffff_0000_0000_0f0en, MASK64 & ~7n]);
  });

  it('the STE reserved bits of DW0 are [58:56] (§5.2: between S1ContextPtr and S1CDMax)', () => {
    // 7 << 56 = 0x0700_0000_0000_0000.
    expect(reservedMasks(STE_LAYOUT)[0]).toBe(0x0700_0000_0000_0000n);
  });

  it('every STE doubleword reserves exactly the RES0 ranges of §5.2 (v3.1 layout)', () => {
    expect(reservedMasks(STE_LAYOUT)).toEqual([
      0x0700_0000_0000_0000n, // DW0[58:56]           (abs [58:56])
      0x0000_0e00_0000_0000n, // DW1[43:41] = 7 << 41  (abs [107:105])
      0n, // DW2 fully defined (S2VMID .. DPT_VMATCH)
      0x9ff0_0000_0000_0000n, // DW3[60:52] and [63]: S2TTB[55:52] (D128 only), abs [252:248], [255]
      0x0000_3f00_0000_0000n, // DW4[45:40] = 0x3f << 40 (abs [301:296])
      0xff00_0000_0000_0000n, // DW5[63:56]           (abs [383:376])
      0x9f00_0000_0000_0008n, // DW6[3], [60:56], [63] (abs 387, [444:440], 447)
      0n, // DW7 = S2POI
    ]);
  });

  it('every CD doubleword reserves exactly the RES0 ranges of §5.4 (v3.1 layout)', () => {
    expect(reservedMasks(CD_LAYOUT)).toEqual([
      0n, // DW0 fully defined (T0SZ .. ASID)
      0x03f0_0000_0000_0000n, // DW1[57:52]: TTB0[55:52] (D128 only) and abs [121:120]
      0x03f0_0000_0000_0000n, // DW2[57:52]: TTB1[55:52] (D128 only) and abs [185:184]
      0n, // DW3 = MAIR
      0n, // DW4 = AMAIR
      0xff00_0000_0000_0000n, // DW5[63:56] (abs [383:376])
      0xffff_0000_0000_0000n, // DW6[63:48] (abs [447:432])
      0xffff_0000_0000_0000n, // DW7[63:48] (abs [511:496])
    ]);
  });

  it('reservedBitsSet reports each doubleword with the offending bits', () => {
    expect(reservedBitsSet(TOY, [0x1234_50a1n, 3n])).toEqual([]);
    // DW0 bit 1 and bit 63 are reserved; DW1 bit 3 is reserved; bit 0 of DW1 is Kind.
    expect(reservedBitsSet(TOY, [0x8000_0000_0000_0003n, 0x9n])).toEqual([
      { qword: 0, bits: 0x8000_0000_0000_0002n },
      { qword: 1, bits: 0x8n },
    ]);
    // STE: bit 57 of DW0 is reserved.
    expect(reservedBitsSet(STE_LAYOUT, [1n << 57n | 1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n])).toEqual([{ qword: 0, bits: 1n << 57n }]);
  });
});

describe('diffFields', () => {
  it('lists changed fields in table order with old and new values', () => {
    const a = encode(STE_LAYOUT, { V: 1, Config: 4, S2VMID: 7 });
    const b = encode(STE_LAYOUT, { V: 1, Config: 5, S1ContextPtr: 0x9000_0000n, S2VMID: 7 });
    const d = diffFields(STE_LAYOUT, a, b);
    expect(d.map((x) => [x.field.name, x.old, x.new])).toEqual([
      ['Config', 4n, 5n],
      ['S1ContextPtr', 0n, 0x9000_0000n],
    ]);
  });

  it('ignores changes to reserved bits and reports nothing for identical images', () => {
    const a = encode(STE_LAYOUT, { V: 1 });
    const b = [...a];
    b[0] = b[0]! | (1n << 56n); // reserved DW0[56]
    expect(diffFields(STE_LAYOUT, a, b)).toEqual([]);
    expect(diffFields(STE_LAYOUT, a, a)).toEqual([]);
  });
});

describe('formatting', () => {
  it('hex and hex64', () => {
    expect(hex(255)).toBe('0xff');
    expect(hex(0xabn, 4)).toBe('0x00ab');
    expect(hex64(0x1234n)).toBe('0x0000000000001234');
    expect(hex64(MASK64)).toBe('0xffffffffffffffff');
  });

  it('enum values print their mnemonic; holes print UNKNOWN(0x..)', () => {
    const kind = field(TOY, 'Kind');
    expect(formatValue(kind, 1n)).toBe('one');
    expect(formatValue(kind, 2n)).toBe('UNKNOWN(0x2)');
    expect(formatValue(kind, 7n)).toBe('UNKNOWN(0x7)');
    expect(enumName({ 0: 'a' }, 0xabn)).toBe('UNKNOWN(0xab)');
    // STE.Config 0b001..0b011 are reserved encodings with no name (§5.2).
    expect(formatField(field(STE_LAYOUT, 'Config'), 2n)).toBe('Config=UNKNOWN(0x2)');
    expect(formatField(field(STE_LAYOUT, 'Config'), 6n)).toBe('Config=S2');
    // CD.TG1 0b00 is reserved (§5.4), and TG1 uses 0b10 for 4K.
    expect(formatField(field(CD_LAYOUT, 'TG1'), 0n)).toBe('TG1=UNKNOWN(0x0)');
    expect(formatField(field(CD_LAYOUT, 'TG1'), 2n)).toBe('TG1=4K');
  });

  it('addresses print in hex, single bits in decimal, narrow values in decimal below 10 and hex from 10', () => {
    expect(formatField(field(STE_LAYOUT, 'S1ContextPtr'), 0x9000_0000n)).toBe('S1ContextPtr=0x90000000');
    expect(formatField(field(STE_LAYOUT, 'S1ContextPtr'), 0n)).toBe('S1ContextPtr=0x0');
    expect(formatField(field(STE_LAYOUT, 'V'), 1n)).toBe('V=1');
    expect(formatField(field(STE_LAYOUT, 'S2VMID'), 9n)).toBe('S2VMID=9');
    expect(formatField(field(STE_LAYOUT, 'S2VMID'), 10n)).toBe('S2VMID=0xa');
    expect(formatField(field(STE_LAYOUT, 'S2VMID'), 20n)).toBe('S2VMID=0x14');
  });

  it('sizes and counts marked dec print in decimal at any value', () => {
    expect(formatField(field(STE_LAYOUT, 'S1CDMax'), 20n)).toBe('S1CDMax=20');
    expect(formatField(field(CD_LAYOUT, 'T0SZ'), 16n)).toBe('T0SZ=16');
    expect(formatField(field(L1STD_LAYOUT, 'Span'), 11n)).toBe('Span=11');
    expect(formatValue(dw('N', 0, 7, 0, 's', { dec: true }), 255n)).toBe('255');
    expect(formatValue(dw('N', 0, 7, 0, 's'), 255n)).toBe('0xff');
    expect('dec' in dw('X', 0, 1, 0, 's')).toBe(false);
  });
});

describe('bits / bit / fieldByName', () => {
  it('bits(v, hi, lo) shifts the range down; bit(v, n) tests one bit', () => {
    // 0xabcd: bits [11:4] = 0xbc, bits [15:12] = 0xa.
    expect(bits(0xabcdn, 11, 4)).toBe(0xbcn);
    expect(bits(0xabcdn, 15, 12)).toBe(0xan);
    expect(bits(MASK64, 63, 63)).toBe(1n);
    expect(bit(0b100n, 2)).toBe(true);
    expect(bit(0b100n, 1)).toBe(false);
  });

  it('fieldByName finds rows and returns undefined for unknown names', () => {
    const f = fieldByName(STE_LAYOUT, 'S2TTB')!;
    expect(describePosition(f)).toBe('DW3[51:4]');
    expect(fieldByName(STE_LAYOUT, 'NoSuchField')).toBeUndefined();
  });
});
