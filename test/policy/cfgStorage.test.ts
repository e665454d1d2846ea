import { describe, expect, it } from '@jest/globals';
import { CfgStorage } from '../../src/policy/cfgStorage.js';

// Offsets (bytes from the start of the union; section F.2 of the driver history):
//   s2_cfg (both layouts): vmid 0..1, vttbr 8..15, vtcr 16..23
//   v5.0   s1_cfg: cdptr 0..7, cdptr_dma 8..15, cd.asid 16..17, cd.ttbr 24..31, cd.tcr 32..39, cd.mair 40..47
//   rfc-v3 s1_cfg: cdptr 0..7, cdptr_dma 8..15, nested_bypass 16, nested_abort 17, cd.asid 24..25,
//                  cd.ttbr 32..39, cd.tcr 40..47, cd.mair 48..55

// A realistic VTCR as the driver stores it: stage 2, 4K, ias 40, oas 40:
//   T0SZ 24 (0x18) | SL0 1 << 6 (0x40) | IR0 1 << 8 | OR0 1 << 10 | SH0 3 << 12 | TG 0 << 14 | PS 2 << 16
//   = 0x18 + 0x40 + 0x100 + 0x400 + 0x3000 + 0x20000 = 0x23558; byte 0 = 0x58, byte 1 = 0x35, byte 2 = 0x02
const VTCR = 0x2_3558n;
const CDPTR = 0xffff_8000_1234_5678n; // a kernel VA
const CD_DMA = 0x1_0000_2040n;
const ONES64 = 0xffff_ffff_ffff_ffffn;

function fillS2(c: CfgStorage, vmid: bigint, vttbr: bigint, vtcr: bigint): void {
  c.setS2('vmid', vmid);
  c.setS2('vttbr', vttbr);
  c.setS2('vtcr', vtcr);
}

describe('split layout', () => {
  it.each(['v5.0', 'rfc-v3'] as const)('%s: s1_cfg and s2_cfg have their own bytes', (structLayout) => {
    const c = new CfgStorage('split', structLayout);
    fillS2(c, 7n, 0x1_0000_4000n, VTCR);
    c.setS1('cdptr', CDPTR);
    c.setS1('cdptr_dma', CD_DMA);
    c.setS1('asid', 0xabcdn);
    c.setS1('nested_bypass', 1n);
    c.setS1('nested_abort', 1n);
    expect([c.getS2('vmid'), c.getS2('vttbr'), c.getS2('vtcr')]).toEqual([7n, 0x1_0000_4000n, VTCR]);
    fillS2(c, 0xffffn, ONES64, ONES64);
    expect([c.getS1('cdptr'), c.getS1('cdptr_dma'), c.getS1('asid'), c.getS1('nested_bypass'), c.getS1('nested_abort')])
      .toEqual([CDPTR, CD_DMA, 0xabcdn, 1n, 1n]);
  });
  it('a fresh storage reads zero everywhere (the domain is allocated zeroed)', () => {
    const c = new CfgStorage('split', 'v5.0');
    expect([c.getS1('cdptr'), c.getS1('mair'), c.getS2('vtcr'), c.getS1('nested_abort')]).toEqual([0n, 0n, 0n, 0n]);
  });
  it('stores truncate to the member size, little-endian', () => {
    const c = new CfgStorage('split', 'rfc-v3');
    c.setS1('asid', 0x1_2345n); // u16: 0x2345
    c.setS2('vmid', 0xf_0001n); // u16: 0x0001
    c.setS1('nested_bypass', 0x1ffn); // one byte: 0xff
    expect([c.getS1('asid'), c.getS2('vmid'), c.getS1('nested_bypass'), c.getS1('nested_abort')]).toEqual([0x2345n, 1n, 0xffn, 0n]);
  });
});

describe('union layout, v5.0 struct', () => {
  it('vmid is cdptr[15:0]: a cdptr store sets vmid; a vmid store changes only bytes 0-1 of cdptr', () => {
    const c = new CfgStorage('union', 'v5.0');
    c.setS1('cdptr', CDPTR);
    expect(c.getS2('vmid')).toBe(0x5678n); // bytes 0..1 of 0xffff_8000_1234_5678
    c.setS2('vmid', 0xabcdn);
    expect(c.getS1('cdptr')).toBe(0xffff_8000_1234_abcdn); // bytes 2..7 (s2_cfg padding) untouched
  });
  it('vttbr is cdptr_dma, both ways', () => {
    const c = new CfgStorage('union', 'v5.0');
    c.setS2('vttbr', 0x1_0000_4000n);
    c.setS1('cdptr_dma', CD_DMA);
    expect(c.getS2('vttbr')).toBe(CD_DMA);
    c.setS2('vttbr', 0x8_0000n);
    expect(c.getS1('cdptr_dma')).toBe(0x8_0000n);
  });
  it('cd.asid is vtcr[15:0]', () => {
    const c = new CfgStorage('union', 'v5.0');
    c.setS2('vtcr', VTCR);
    expect(c.getS1('asid')).toBe(0x3558n); // bytes 16..17 = 0x58, 0x35
    c.setS1('asid', 5n);
    // vtcr bytes 16..17 := 05 00; byte 18 (0x02, PS) stays: 0x2_0005 -> T0SZ 5, SL0 0, SH0 0, PS 2
    expect(c.getS2('vtcr')).toBe(0x2_0005n);
    // an 8-byte vtcr store reaches the cd padding (bytes 18..23) but only bytes 16..17 are read back as asid
    c.setS2('vtcr', 0x1234_5678_9abc_def0n);
    expect(c.getS1('asid')).toBe(0xdef0n);
  });
  it('cd.ttbr, cd.tcr and cd.mair lie beyond s2_cfg (bytes 24..47)', () => {
    const c = new CfgStorage('union', 'v5.0');
    fillS2(c, 0xffffn, ONES64, ONES64);
    expect([c.getS1('ttbr'), c.getS1('tcr'), c.getS1('mair')]).toEqual([0n, 0n, 0n]);
    c.setS1('ttbr', 0x1_0000_0000n);
    c.setS1('tcr', ONES64);
    c.setS1('mair', 0xf404_ff44n);
    expect([c.getS2('vmid'), c.getS2('vttbr'), c.getS2('vtcr')]).toEqual([0xffffn, ONES64, ONES64]);
    expect([c.getS1('ttbr'), c.getS1('tcr'), c.getS1('mair')]).toEqual([0x1_0000_0000n, ONES64, 0xf404_ff44n]);
  });
  it('the nested flags, absent from the v5.0 struct, are kept outside it', () => {
    const c = new CfgStorage('union', 'v5.0');
    fillS2(c, 0x1234n, 0x5000n, VTCR);
    c.setS1('asid', 0x3558n); // same bytes as vtcr[15:0]: no change
    c.setS1('nested_bypass', 1n);
    c.setS1('nested_abort', 1n);
    expect([c.getS1('nested_bypass'), c.getS1('nested_abort')]).toEqual([1n, 1n]);
    // nothing in the union moved: vtcr low byte is still 0x58, asid still 0x3558
    expect([c.getS2('vmid'), c.getS2('vttbr'), c.getS2('vtcr'), c.getS1('asid')]).toEqual([0x1234n, 0x5000n, VTCR, 0x3558n]);
    c.setS1('nested_bypass', 0n);
    expect(c.getS1('nested_bypass')).toBe(0n);
  });
});

describe('union layout, rfc-v3 struct', () => {
  it('nested_bypass is vtcr[7:0]: storing 1 over T0SZ=24|SL0=1 gives T0SZ=1, SL0=0', () => {
    const c = new CfgStorage('union', 'rfc-v3');
    c.setS2('vtcr', VTCR);
    // the flag byte reads the vtcr's low byte: 0x58 (nonzero, so "true")
    expect(c.getS1('nested_bypass')).toBe(0x58n);
    c.setS1('nested_bypass', 1n);
    // 0x23558 with byte 0 := 0x01 -> 0x23501: T0SZ = 0x01 & 0x3f = 1, SL0 = (0x01 >> 6) & 3 = 0
    const v = c.getS2('vtcr');
    expect(v).toBe(0x2_3501n);
    expect([v & 0x3fn, (v >> 6n) & 3n]).toEqual([1n, 0n]);
  });
  it('nested_abort is vtcr[15:8]: storing 1 over IR0|OR0|SH0 (0x35) leaves only IR0', () => {
    const c = new CfgStorage('union', 'rfc-v3');
    c.setS2('vtcr', VTCR);
    expect(c.getS1('nested_abort')).toBe(0x35n);
    c.setS1('nested_abort', 1n);
    // byte 1 := 0x01 -> 0x20158: IR0 = 1, OR0 = 0, SH0 = 0, TG = 0
    expect(c.getS2('vtcr')).toBe(0x2_0158n);
    c.setS2('vtcr', 0x2_0000n);
    expect([c.getS1('nested_bypass'), c.getS1('nested_abort')]).toEqual([0n, 0n]);
  });
  it('cd.asid moved to byte 24: no longer aliases vtcr', () => {
    const c = new CfgStorage('union', 'rfc-v3');
    fillS2(c, 0xffffn, ONES64, ONES64);
    expect(c.getS1('asid')).toBe(0n);
    c.setS1('asid', 0xbeefn);
    expect(c.getS2('vtcr')).toBe(ONES64);
    expect(c.getS1('asid')).toBe(0xbeefn);
  });
  it('vmid and vttbr still alias cdptr[15:0] and cdptr_dma', () => {
    const c = new CfgStorage('union', 'rfc-v3');
    fillS2(c, 3n, 0x1_0000_4000n, VTCR);
    c.setS1('cdptr', CDPTR);
    c.setS1('cdptr_dma', CD_DMA);
    expect([c.getS2('vmid'), c.getS2('vttbr'), c.getS2('vtcr')]).toEqual([0x5678n, CD_DMA, VTCR]);
  });
  it('cd.ttbr, cd.tcr and cd.mair (bytes 32..55) never alias', () => {
    const c = new CfgStorage('union', 'rfc-v3');
    c.setS1('ttbr', ONES64);
    c.setS1('tcr', ONES64);
    c.setS1('mair', ONES64);
    expect([c.getS2('vmid'), c.getS2('vttbr'), c.getS2('vtcr')]).toEqual([0n, 0n, 0n]);
    expect([c.getS1('cdptr'), c.getS1('cdptr_dma'), c.getS1('asid'), c.getS1('nested_bypass')]).toEqual([0n, 0n, 0n, 0n]);
  });
  it('the rfc-v3 union storage is separate per instance', () => {
    const a = new CfgStorage('union', 'rfc-v3');
    const b = new CfgStorage('union', 'rfc-v3');
    a.setS2('vtcr', VTCR);
    expect(b.getS1('nested_bypass')).toBe(0n);
  });
});
