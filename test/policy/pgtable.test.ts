import { describe, expect, it } from '@jest/globals';
import { GRANULES, stage1StartLevel, stage2Concatenation, stage2StartLevel } from '../../src/model/granule.js';
import { RegionAllocator } from '../../src/policy/alloc.js';
import { IoPgtable, LINUX_MAIR, parseProt, type PgtableConfig, type Prot, type TableIo } from '../../src/policy/pgtable.js';

/** A page table over a Map-backed memory that records every descriptor store in order. */
function setup(cfg: PgtableConfig, base = 0x1_0000_0000n) {
  const mem = new Map<bigint, bigint>();
  const writes: [bigint, bigint][] = [];
  const io: TableIo = {
    read: (a) => mem.get(a) ?? 0n,
    write: (a, v) => {
      mem.set(a, v);
      writes.push([a, v]);
    },
  };
  const alloc = new RegionAllocator(base);
  const t = new IoPgtable(cfg, alloc, io);
  return { t, mem, writes, alloc };
}

function prot(s: string): Prot {
  const p = parseProt(s);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

const B = 0x1_0000_0000n;
// Stage-1 attribute bits, as io-pgtable-arm sets them.
const XN_S1 = 0x0060_0000_0000_0000n; // PXN (bit 53) | UXN (bit 54)
const XN_S2 = 0x0060_0000_0000_0000n; // XN[1:0] = 0b11 (bits 54:53), as io-pgtable-arm writes ARM_LPAE_PTE_XN at both stages

describe('parseProt', () => {
  it('reads the letters r, w, x, p in any order', () => {
    expect(parseProt('rw')).toEqual({ read: true, write: true, exec: false, priv: false });
    expect(parseProt('wr')).toEqual({ read: true, write: true, exec: false, priv: false });
    expect(parseProt('rwxp')).toEqual({ read: true, write: true, exec: true, priv: true });
    expect(parseProt('x')).toEqual({ read: false, write: false, exec: true, priv: false });
    expect(parseProt('p')).toEqual({ read: false, write: false, exec: false, priv: true });
  });
  it('refuses other letters, upper case and the empty string', () => {
    expect(parseProt('')).toBe("prot must be made of the letters r, w, x, p, not ''");
    expect(parseProt('RW')).toBe("prot must be made of the letters r, w, x, p, not 'RW'");
    expect(parseProt('rwz')).toBe("prot must be made of the letters r, w, x, p, not 'rwz'");
  });
});

describe('IoPgtable start level and concatenation', () => {
  // levels = ceil((ias - shift) / stride); start = 4 - levels; pgdBits = (ias - shift) - (levels - 1) * stride.
  // Stage 2 with start 0 and 2^pgdBits <= 16 entries: concat = 2^pgdBits, start 1, pgdBits += stride.
  // The root is 8 * 2^pgdBits bytes, at least one 4 KiB page, aligned to its size; the allocator starts at
  // 4 GiB (aligned to everything here), so alloc.used is the root's size.
  const cases: [stage: 1 | 2, granule: '4K' | '16K' | '64K', ias: number, start: number, concat: number, rootBytes: bigint, why: string][] = [
    [1, '4K', 48, 0, 1, 0x1000n, 'va 36 bits, 4 levels, pgd 36-27 = 9 bits: 512 entries = 4 KiB'],
    [1, '4K', 40, 0, 1, 0x1000n, 'va 28 bits, 4 levels, pgd 1 bit: 2 entries (16 bytes, one page); stage 1 never concatenates'],
    [1, '4K', 39, 1, 1, 0x1000n, 'va 27 bits, 3 levels, pgd 27-18 = 9 bits'],
    [2, '4K', 48, 0, 1, 0x1000n, 'pgd 9 bits: 512 entries > 16, no concatenation'],
    [2, '4K', 44, 0, 1, 0x1000n, 'va 32 bits, 4 levels, pgd 5 bits: 32 entries > 16, start 0 (256 bytes, one page)'],
    [2, '4K', 40, 1, 2, 0x2000n, 'pgd 1 bit: 2 entries <= 16: 2 level-1 tables, 2^10 entries = 8 KiB'],
    [2, '4K', 42, 1, 8, 0x8000n, 'va 30 bits, pgd 3 bits: 8 entries <= 16: 8 level-1 tables, 2^12 entries = 32 KiB'],
    [2, '4K', 32, 1, 1, 0x1000n, 'va 20 bits, 3 levels: start 1 with 4 entries; only a level-0 start is concatenated'],
    [1, '16K', 48, 0, 1, 0x1000n, 'va 34 bits, ceil(34/11) = 4 levels, pgd 34-33 = 1 bit'],
    [1, '16K', 36, 2, 1, 0x4000n, 'va 22 bits, 2 levels, pgd 11 bits: 2048 entries = 16 KiB'],
    [2, '16K', 48, 1, 2, 0x8000n, 'pgd 1 bit: 2 level-1 tables of 2048 entries = 32 KiB'],
    [2, '16K', 40, 1, 1, 0x1000n, 'va 26 bits, 3 levels, pgd 26-22 = 4 bits: 16 entries (128 bytes)'],
    [1, '64K', 48, 1, 1, 0x1000n, 'va 32 bits, ceil(32/13) = 3 levels, pgd 32-26 = 6 bits: 64 entries (512 bytes)'],
    [2, '64K', 48, 1, 1, 0x1000n, 'as stage 1: start 1, 64 entries'],
    [2, '64K', 42, 2, 1, 0x10000n, 'va 26 bits, 2 levels, pgd 13 bits: 8192 entries = 64 KiB'],
  ];
  it.each(cases)('stage %i %s ias %i: start level %i, %i start table(s)', (stage, granule, ias, start, concat, rootBytes) => {
    const { t, alloc, writes } = setup({ stage, granule, ias, oas: 48 });
    expect(t.startLevel).toBe(start);
    expect(t.concat).toBe(concat);
    expect(t.root).toBe(B);
    expect(alloc.used).toBe(rootBytes);
    expect(writes).toEqual([]); // a fresh table is zero: nothing is stored until a map
    // The architecture's own rules agree (the model's walk uses these).
    const g = GRANULES[granule];
    if (stage === 1) expect(stage1StartLevel(g, ias)).toBe(start);
    else {
      expect(stage2StartLevel(g, t.vtcr().S2SL0)).toBe(start);
      expect(stage2Concatenation(g, start, ias)).toBe(concat);
    }
  });

  it('aligns a concatenated root to its whole size', () => {
    // Stage 2 4K ias 40: 8 KiB root from an allocator at 0x1000 -> 0x2000; the allocator then stands at 0x4000.
    const { t, alloc } = setup({ stage: 2, granule: '4K', ias: 40, oas: 40 }, 0x1000n);
    expect(t.root).toBe(0x2000n);
    expect(alloc.used).toBe(0x3000n); // 0x4000 - 0x1000
  });
  it('aligns a 64 KiB root to 64 KiB', () => {
    const { t } = setup({ stage: 2, granule: '64K', ias: 42, oas: 42 }, 0x1000n);
    expect(t.root).toBe(0x1_0000n);
  });
});

describe('tcr() and vtcr()', () => {
  it('stage-1 TCR: T0SZ = 64 - ias, TG0 encoding, write-back inner shareable walks, IPS from oas, EPD1', () => {
    const tcr = (granule: '4K' | '16K' | '64K', ias: number, oas: number) => setup({ stage: 1, granule, ias, oas }).t.tcr();
    expect(tcr('4K', 48, 48)).toEqual({ T0SZ: 16, TG0: 0, IR0: 1, OR0: 1, SH0: 3, IPS: 5, EPD1: 1 });
    // TG0: 4K 0b00, 64K 0b01, 16K 0b10; IPS: 32 0, 36 1, 40 2, 42 3, 44 4, 48 5, 52 6
    expect(tcr('64K', 48, 44)).toMatchObject({ T0SZ: 16, TG0: 1, IPS: 4 });
    expect(tcr('16K', 36, 32)).toMatchObject({ T0SZ: 28, TG0: 2, IPS: 0 });
    expect(tcr('4K', 39, 40)).toMatchObject({ T0SZ: 25, TG0: 0, IPS: 2 });
    expect(tcr('4K', 39, 36).IPS).toBe(1);
    expect(tcr('4K', 39, 42).IPS).toBe(3);
  });
  it('52-bit sizes (FEAT_LPA/LVA) are not modelled: the constructor refuses them, as do sizes it has no encoding for', () => {
    // The driver refuses them first (domain_alloc: EINVAL), so reaching the constructor is a bug.
    expect(() => setup({ stage: 1, granule: '64K', ias: 48, oas: 52 })).toThrow('output size 52');
    expect(() => setup({ stage: 2, granule: '64K', ias: 52, oas: 48 })).toThrow('input size 52');
    expect(() => setup({ stage: 1, granule: '4K', ias: 48, oas: 47 })).toThrow('output size 47');
    expect(() => setup({ stage: 1, granule: '4K', ias: 12, oas: 48 })).toThrow('input size 12');
  });
  it('stage-2 VTCR: S2SL0 = 2 - start (4K) or 3 - start (16K, 64K), S2TG, S2PS from oas', () => {
    const vtcr = (granule: '4K' | '16K' | '64K', ias: number, oas: number) => setup({ stage: 2, granule, ias, oas }).t.vtcr();
    // 4K ias 40: start 1 (concatenated) -> SL0 1
    expect(vtcr('4K', 40, 40)).toEqual({ S2T0SZ: 24, S2SL0: 1, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2TG: 0, S2PS: 2 });
    // 4K ias 48: start 0 -> SL0 2
    expect(vtcr('4K', 48, 48)).toMatchObject({ S2T0SZ: 16, S2SL0: 2, S2TG: 0, S2PS: 5 });
    // 4K ias 32: start 1 -> SL0 1
    expect(vtcr('4K', 32, 36)).toMatchObject({ S2T0SZ: 32, S2SL0: 1, S2PS: 1 });
    // 16K ias 48: start 1 (concatenated) -> SL0 3 - 1 = 2, TG 0b10
    expect(vtcr('16K', 48, 44)).toMatchObject({ S2T0SZ: 16, S2SL0: 2, S2TG: 2, S2PS: 4 });
    // 64K ias 42: start 2 -> SL0 1, TG 0b01
    expect(vtcr('64K', 42, 42)).toMatchObject({ S2T0SZ: 22, S2SL0: 1, S2TG: 1, S2PS: 3 });
    // 64K ias 48: start 1 -> SL0 2
    expect(vtcr('64K', 48, 48)).toMatchObject({ S2T0SZ: 16, S2SL0: 2, S2TG: 1, S2PS: 5 });
  });
  it("LINUX_MAIR: attr0 0x44, attr1 0xff, attr2 0x04, attr3 0xf4", () => {
    expect(LINUX_MAIR & 0xffn).toBe(0x44n);
    expect((LINUX_MAIR >> 8n) & 0xffn).toBe(0xffn);
    expect((LINUX_MAIR >> 16n) & 0xffn).toBe(0x04n);
    expect((LINUX_MAIR >> 24n) & 0xffn).toBe(0xf4n);
  });
});

describe('map() stage 1, 4K', () => {
  // Stage-1 leaf low bits: type (3 page, 1 block) | AttrIndx 1 (0x4) | AP[1] (0x40) unless priv | AP[2] (0x80) unless
  // write | SH ISH (0x300) | AF (0x400) | nG (0x800); PXN|UXN unless exec.
  //   rw page  = 3 + 0x4 + 0x40 + 0x300 + 0x400 + 0x800 = 0xf47
  //   r  page  = 0xf47 + 0x80 = 0xfc7;  r block = 0xfc5;  rw block = 0xf45
  //   rwxp block = 1 + 0x4 + 0x300 + 0x400 + 0x800 = 0xf05 (no AP[1], no AP[2], executable)
  //   rp page  = 3 + 0x4 + 0x80 + 0x300 + 0x400 + 0x800 = 0xf87
  const cfg: PgtableConfig = { stage: 1, granule: '4K', ias: 48, oas: 48 };

  it('a 4 KiB page: three table levels allocated in order, then the level-3 entry', () => {
    const { t, writes, alloc } = setup(cfg);
    expect(t.map(0x1000n, 0x8000_0000n, 0x1000n, prot('rw'))).toBeUndefined();
    // root B; L1 table B+0x1000, L2 B+0x2000, L3 B+0x3000; iova 0x1000 is entry 1 of the L3 table.
    expect(writes).toEqual([
      [B, B + 0x1003n],
      [B + 0x1000n, B + 0x2003n],
      [B + 0x2000n, B + 0x3003n],
      [B + 0x3008n, XN_S1 | 0x8000_0f47n],
    ]);
    expect(alloc.used).toBe(0x4000n);
  });

  it('a 2 MiB block where iova, pa and size are 2 MiB-aligned (read-only)', () => {
    const { t, writes } = setup(cfg);
    expect(t.map(0x20_0000n, 0x8020_0000n, 0x20_0000n, prot('r'))).toBeUndefined();
    // L2 entry (0x20_0000 >> 21) & 0x1ff = 1 of the L2 table at B+0x2000.
    expect(writes).toEqual([
      [B, B + 0x1003n],
      [B + 0x1000n, B + 0x2003n],
      [B + 0x2008n, XN_S1 | 0x8020_0fc5n],
    ]);
  });

  it('a 1 GiB block at level 1 (privileged, writable, executable)', () => {
    const { t, writes } = setup(cfg);
    expect(t.map(0x4000_0000n, 0xc000_0000n, 0x4000_0000n, prot('rwxp'))).toBeUndefined();
    // L1 entry (0x4000_0000 >> 30) = 1
    expect(writes).toEqual([
      [B, B + 0x1003n],
      [B + 0x1008n, 0xc000_0f05n],
    ]);
  });

  it('a privileged read-only page has AP[2] and no AP[1]', () => {
    const { t, mem } = setup(cfg);
    expect(t.map(0x1000n, 0x5000n, 0x1000n, prot('rp'))).toBeUndefined();
    expect(mem.get(B + 0x3008n)).toBe(XN_S1 | 0x5f87n);
  });

  it('splits a range into the largest aligned pieces: page, 2 MiB block, page', () => {
    const { t, writes } = setup(cfg);
    // [0x1f_f000, 0x40_1000): 0x1f_f000 is only 4K-aligned; 0x20_0000 with 0x20_1000 left is a 2 MiB block;
    // 0x40_0000 with 0x1000 left is a page.
    expect(t.map(0x1f_f000n, 0x801f_f000n, 0x20_2000n, prot('rw'))).toBeUndefined();
    expect(writes).toEqual([
      [B, B + 0x1003n],
      [B + 0x1000n, B + 0x2003n],
      [B + 0x2000n, B + 0x3003n],
      [B + 0x3ff8n, XN_S1 | 0x801f_ff47n], // L3 entry 0x1ff
      [B + 0x2008n, XN_S1 | 0x8020_0f45n], // L2 entry 1: block
      [B + 0x2010n, B + 0x4003n], // L2 entry 2: a new L3 table
      [B + 0x4000n, XN_S1 | 0x8040_0f47n],
    ]);
  });

  it('uses pages when pa is not aligned to a block, even if iova is', () => {
    const { t, writes } = setup(cfg);
    expect(t.map(0x20_0000n, 0x8000_1000n, 0x20_0000n, prot('rw'))).toBeUndefined();
    // 3 table descriptors, then 512 pages in the L3 table under L2 entry 1
    expect(writes.length).toBe(3 + 512);
    expect(writes[2]).toEqual([B + 0x2008n, B + 0x3003n]);
    expect(writes[3]).toEqual([B + 0x3000n, XN_S1 | 0x8000_1f47n]);
    // page 511: pa 0x8000_1000 + 0x1ff000 = 0x8020_0000
    expect(writes[514]).toEqual([B + 0x3ff8n, XN_S1 | 0x8020_0f47n]);
  });

  it('refuses misaligned, empty and out-of-range requests without storing anything', () => {
    const { t, writes } = setup({ stage: 1, granule: '4K', ias: 40, oas: 40 });
    expect(t.map(0x800n, 0x1000n, 0x1000n, prot('rw'))).toBe('iova, pa and size must be 4K-aligned');
    expect(t.map(0x1000n, 0x1800n, 0x1000n, prot('rw'))).toBe('iova, pa and size must be 4K-aligned');
    expect(t.map(0x1000n, 0x1000n, 0x800n, prot('rw'))).toBe('iova, pa and size must be 4K-aligned');
    expect(t.map(0x1000n, 0x1000n, 0n, prot('rw'))).toBe('size must be positive');
    // ias 40: the input space ends at 0x100_0000_0000; the last page fits, two pages from there do not
    expect(t.map(0xff_ffff_f000n, 0x1000n, 0x2000n, prot('rw'))).toBe('iova range beyond the 40-bit input size');
    expect(t.map(0x1000n, 0x100_0000_0000n, 0x1000n, prot('rw'))).toBe('pa range beyond the 40-bit output size');
    expect(t.map(0x1000n, 0xff_ffff_f000n, 0x2000n, prot('rw'))).toBe('pa range beyond the 40-bit output size');
    expect(writes).toEqual([]);
    expect(t.map(0xff_ffff_f000n, 0xff_ffff_f000n, 0x1000n, prot('rw'))).toBeUndefined();
    // ias 40 4K: start 0 with 2 entries; (0xff_ffff_f000 >> 39) & 1 = 1 -> root entry 1
    expect(writes[0]).toEqual([B + 8n, B + 0x1003n]);
    expect(writes.at(-1)).toEqual([B + 0x3ff8n, XN_S1 | 0xff_ffff_ff47n]);
  });

  it('refuses a second mapping of a page, of a page inside a block, and of a block over a table', () => {
    const { t, writes } = setup(cfg);
    expect(t.map(0x1000n, 0x5000n, 0x1000n, prot('rw'))).toBeUndefined();
    expect(t.map(0x1000n, 0x6000n, 0x1000n, prot('rw'))).toBe('0x1000 is already mapped');
    expect(t.map(0x20_0000n, 0x20_0000n, 0x20_0000n, prot('rw'))).toBeUndefined();
    expect(t.map(0x20_1000n, 0x7000n, 0x1000n, prot('rw'))).toBe('0x201000 is already mapped by a block at level 2');
    // a 2 MiB block at 0 would replace the L3 table that holds the page at 0x1000
    expect(t.map(0n, 0x40_0000n, 0x20_0000n, prot('rw'))).toBe('0x0 is already mapped');
    // 4 tables/leaves for the page, 1 block; nothing from the refused maps
    expect(writes.length).toBe(5);
  });
});

describe('map() stage 2', () => {
  // Stage-2 leaf low bits: type | MemAttr 0xf (0x3c) | S2AP read (0x40) | S2AP write (0x80) | SH (0x300) | AF (0x400);
  // XN[1:0] = 0b11 (bits 54:53) unless exec.
  //   rw block = 1 + 0x3c + 0x40 + 0x80 + 0x300 + 0x400 = 0x7fd
  //   rx page  = 3 + 0x3c + 0x40 + 0x300 + 0x400 = 0x77f (executable: no XN)
  //   r block  = 1 + 0x3c + 0x40 + 0x300 + 0x400 = 0x77d
  it('4K ias 40: concatenated level-1 root indexed with 10 bits', () => {
    const { t, writes } = setup({ stage: 2, granule: '4K', ias: 40, oas: 40 }, 0x1000n);
    // root 0x2000 (8 KiB). iova 0x80_4000_0000: level-1 index (iova >> 30) & 0x3ff = 0x201, in the second table:
    // 0x2000 + 0x201 * 8 = 0x3008
    expect(t.map(0x80_4000_0000n, 0x4000_0000n, 0x4000_0000n, prot('rw'))).toBeUndefined();
    expect(writes).toEqual([[0x3008n, XN_S2 | 0x4000_07fdn]]);
    // A page at 0x1000: root entry 0 -> L2 at 0x4000 (next free), L3 at 0x5000, entry 1.
    expect(t.map(0x1000n, 0x5000n, 0x1000n, prot('rx'))).toBeUndefined();
    expect(writes.slice(1)).toEqual([
      [0x2000n, 0x4003n],
      [0x4000n, 0x5003n],
      [0x5008n, 0x577fn],
    ]);
    // A read-only 2 MiB block at 0x20_0000: L2 entry 1
    expect(t.map(0x20_0000n, 0x60_0000n, 0x20_0000n, prot('r'))).toBeUndefined();
    expect(writes.at(-1)).toEqual([0x4008n, XN_S2 | 0x60_077dn]);
  });

  it('64K: 512 MiB blocks at level 2 and 64 KiB pages; a 1 GiB range is two blocks (no level-1 blocks)', () => {
    const { t, writes } = setup({ stage: 1, granule: '64K', ias: 48, oas: 48 });
    // Stage 1 64K ias 48: start 1, root B (512 bytes in a 4 KiB page); L2 tables are 64 KiB, 64 KiB-aligned.
    expect(t.map(0x4000_0000n, 0x4000_0000n, 0x4000_0000n, prot('rw'))).toBeUndefined();
    // L1 index (0x4000_0000 >> 42) = 0 -> L2 table at B+0x10000; L2 indexes (va >> 29) & 0x1fff = 2 and 3
    expect(writes).toEqual([
      [B, B + 0x1_0003n],
      [B + 0x1_0010n, XN_S1 | 0x4000_0f45n],
      [B + 0x1_0018n, XN_S1 | 0x6000_0f45n],
    ]);
    expect(t.map(0x1_0000n, 0x7_0000n, 0x1_0000n, prot('rw'))).toBeUndefined();
    // L2 entry 0 -> L3 table at B+0x20000; L3 index (0x1_0000 >> 16) = 1
    expect(writes.slice(3)).toEqual([
      [B + 0x1_0000n, B + 0x2_0003n],
      [B + 0x2_0008n, XN_S1 | 0x7_0f47n],
    ]);
    expect(t.map(0x1000n, 0x1000n, 0x1_0000n, prot('rw'))).toBe('iova, pa and size must be 64K-aligned');
  });

  it('16K: a 32 MiB block at level 2 under a 2-entry level-0 root', () => {
    const { t, writes } = setup({ stage: 1, granule: '16K', ias: 48, oas: 48 });
    // root B (16 bytes in a page); L1 at 0x...4000 and L2 at 0x...8000 (16 KiB-aligned); L2 index (0x200_0000 >> 25) = 1
    expect(t.map(0x200_0000n, 0x400_0000n, 0x200_0000n, prot('rw'))).toBeUndefined();
    expect(writes).toEqual([
      [B, B + 0x4003n],
      [B + 0x4000n, B + 0x8003n],
      [B + 0x8008n, XN_S1 | 0x400_0f45n],
    ]);
  });

  it('refuses a block whose level lies above the start level (4K ias 30), leaving nothing mapped', () => {
    // Stage 2 4K ias 30: 30 - 12 = 18 va bits, ceil(18/9) = 2 levels, start level 2.  A 1 GiB range at iova 0 is
    // 1 GiB-aligned, so the iommu core asks for a 1 GiB (level-1) block; __arm_lpae_map has no level 1 here and
    // fails with -EINVAL.
    const { t, writes } = setup({ stage: 2, granule: '4K', ias: 30, oas: 40 });
    expect(t.startLevel).toBe(2);
    const rootWrites = writes.length;
    expect(t.map(0n, 0x4000_0000n, 0x4000_0000n, prot('rw'))).toMatch(/needs level 1, above this table's start level 2/);
    expect(writes.length).toBe(rootWrites);
    expect(t.unmap(0n, 0x1000n)).toBe('0x0 is not mapped');
  });

  it('undoes what it mapped when a later piece fails (iommu_map unmaps on error)', () => {
    // 4K stage 1: a page at 0x1000, then a 2 MiB block at 0x20_0000 that collides with an existing page there.
    const { t } = setup({ stage: 1, granule: '4K', ias: 48, oas: 48 });
    expect(t.map(0x20_0000n, 0x9000_0000n, 0x1000n, prot('rw'))).toBeUndefined();
    // [0x1f_f000, 0x40_0000): page 0x1f_f000 is new, then the block at 0x20_0000 finds a table there
    const err = t.map(0x1f_f000n, 0x801f_f000n, 0x20_1000n, prot('rw'));
    expect(err).toMatch(/already mapped/);
    // the page at 0x1f_f000 was written and then cleared again; the earlier page at 0x20_0000 stays
    expect(t.unmap(0x1f_f000n, 0x1000n)).toBe('0x1ff000 is not mapped');
    expect(t.unmap(0x20_0000n, 0x1000n)).toEqual([{ iova: 0x20_0000n, size: 0x1000n, level: 3 }]);
  });
});

describe('unmap()', () => {
  const cfg: PgtableConfig = { stage: 1, granule: '4K', ias: 48, oas: 48 };
  function mapped() {
    const s = setup(cfg);
    // page at 0x1f_f000, 2 MiB block at 0x20_0000, page at 0x40_0000 (see the map test above)
    expect(s.t.map(0x1f_f000n, 0x801f_f000n, 0x20_2000n, prot('rw'))).toBeUndefined();
    s.writes.length = 0;
    return s;
  }

  it('clears whole leaves and returns them with their sizes and levels', () => {
    const { t, writes, mem } = mapped();
    expect(t.unmap(0x1f_f000n, 0x20_2000n)).toEqual([
      { iova: 0x1f_f000n, size: 0x1000n, level: 3 },
      { iova: 0x20_0000n, size: 0x20_0000n, level: 2 },
      { iova: 0x40_0000n, size: 0x1000n, level: 3 },
    ]);
    expect(writes).toEqual([[B + 0x3ff8n, 0n], [B + 0x2008n, 0n], [B + 0x4000n, 0n]]);
    // table descriptors stay
    expect(mem.get(B + 0x2000n)).toBe(B + 0x3003n);
    expect(mem.get(B + 0x2010n)).toBe(B + 0x4003n);
  });

  it('refuses part of a block, whether the range starts at it or inside it', () => {
    const { t, writes } = mapped();
    expect(t.unmap(0x20_0000n, 0x1000n)).toBe('unmapping part of a 200000-byte block at 0x200000 is not supported');
    expect(t.unmap(0x20_1000n, 0x1000n)).toBe('unmapping part of a 200000-byte block at 0x200000 is not supported');
    expect(t.unmap(0x20_0000n, 0x10_0000n)).toBe('unmapping part of a 200000-byte block at 0x200000 is not supported');
    expect(writes).toEqual([]);
  });

  it('refuses unmapped addresses: an empty entry in an existing table, or no table at all', () => {
    const { t, writes } = mapped();
    expect(t.unmap(0x5000n, 0x1000n)).toBe('0x5000 is not mapped');
    expect(t.unmap(0x8000_0000n, 0x1000n)).toBe('0x80000000 is not mapped');
    expect(t.unmap(0x1000_0000_0000n, 0x1000n)).toBe('0x100000000000 is not mapped');
    expect(writes).toEqual([]);
  });

  it('lets a cleared range be mapped again, reusing or allocating tables', () => {
    const { t, writes } = mapped();
    expect(t.unmap(0x20_0000n, 0x20_0000n)).toEqual([{ iova: 0x20_0000n, size: 0x20_0000n, level: 2 }]);
    expect(t.unmap(0x20_0000n, 0x20_0000n)).toBe('0x200000 is not mapped');
    // a page where the block was: L2 entry 1 is empty now, so a new L3 table at B+0x5000
    expect(t.map(0x20_0000n, 0x9000_0000n, 0x1000n, prot('r'))).toBeUndefined();
    expect(writes.slice(1)).toEqual([
      [B + 0x2008n, B + 0x5003n],
      [B + 0x5000n, XN_S1 | 0x9000_0fc7n],
    ]);
    expect(t.unmap(0x20_0000n, 0x1000n)).toEqual([{ iova: 0x20_0000n, size: 0x1000n, level: 3 }]);
  });
});
