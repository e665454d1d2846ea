/**
 * PhysicalMemory: the sparse little-endian physical address space the SMMU
 * reads its tables from and writes its queues to (src/model/memory.ts).
 */
import { describe, expect, it } from '@jest/globals';
import { EABT, MemoryCapExceeded, PAGE_SIZE, PhysicalMemory, type AccessSize } from '../../src/model/memory.js';

describe('sparse memory', () => {
  it('reads never-written memory as zero at every size without allocating a page', () => {
    const m = new PhysicalMemory();
    for (const size of [1, 2, 4, 8] as AccessSize[]) {
      expect(m.read(0x1234_5678n, size)).toBe(0n);
      expect(m.read(0xffff_ffff_ffff_fff0n, size)).toBe(0n);
    }
    // Reads do not create pages; only writes do.
    expect(m.pagesAllocated).toBe(0);
    m.write(0x5000n, 1, 0x5an);
    expect(m.pagesAllocated).toBe(1);
    // The rest of the written page still reads as zero.
    expect(m.read(0x5001n, 1)).toBe(0n);
    expect(m.read(0x5ff8n, 8)).toBe(0n);
  });

  it('PAGE_SIZE is 4 KiB', () => {
    expect(PAGE_SIZE).toBe(4096);
  });
});

describe('little-endian accesses of 1, 2, 4 and 8 bytes', () => {
  it('an 8-byte write is laid out least significant byte first', () => {
    const m = new PhysicalMemory();
    m.write(0x1000n, 8, 0x0807_0605_0403_0201n);
    // Byte n of the doubleword holds n+1.
    for (let i = 0; i < 8; i++) expect(m.read(0x1000n + BigInt(i), 1)).toBe(BigInt(i + 1));
    // 2-byte reads: bytes {1,2} -> 0x0201, bytes {3,4} at +2 -> 0x0403, ...
    expect(m.read(0x1000n, 2)).toBe(0x0201n);
    expect(m.read(0x1002n, 2)).toBe(0x0403n);
    expect(m.read(0x1006n, 2)).toBe(0x0807n);
    // 4-byte reads: low word 0x04030201, high word 0x08070605.
    expect(m.read(0x1000n, 4)).toBe(0x0403_0201n);
    expect(m.read(0x1004n, 4)).toBe(0x0807_0605n);
    // Unaligned 4-byte read at +1 inside the page: bytes 2,3,4,5 -> 0x05040302.
    expect(m.read(0x1001n, 4)).toBe(0x0504_0302n);
    expect(m.read(0x1000n, 8)).toBe(0x0807_0605_0403_0201n);
  });

  it('narrow writes merge into the surrounding bytes', () => {
    const m = new PhysicalMemory();
    m.write(0x2000n, 8, 0xffff_ffff_ffff_ffffn);
    m.write(0x2002n, 2, 0x1234n); // bytes 2,3 = 0x34, 0x12
    m.write(0x2007n, 1, 0x00n); // byte 7 = 0
    m.write(0x2004n, 1, 0xabn); // byte 4 = 0xab
    // bytes (LSB first): ff ff 34 12 ab ff ff 00 -> 0x00ffffab1234ffff
    expect(m.read(0x2000n, 8)).toBe(0x00ff_ffab_1234_ffffn);
    expect(m.read(0x2000n, 4)).toBe(0x1234_ffffn);
  });

  it('the highest doubleword of the 64-bit space is usable', () => {
    const m = new PhysicalMemory();
    m.write(0xffff_ffff_ffff_fff8n, 8, 0xdead_beef_0000_0001n);
    expect(m.read(0xffff_ffff_ffff_fff8n, 8)).toBe(0xdead_beef_0000_0001n);
    expect(m.read(0xffff_ffff_ffff_ffffn, 1)).toBe(0xden);
  });

  it('rejects accesses outside the 64-bit space and values that do not fit the size', () => {
    const m = new PhysicalMemory();
    // 0xffff_ffff_ffff_fffc + 8 > 2^64.
    expect(() => m.read(0xffff_ffff_ffff_fffcn, 8)).toThrow(RangeError);
    expect(() => m.read(-8n, 8)).toThrow(RangeError);
    expect(() => m.write(0x1000n, 1, 0x100n)).toThrow(RangeError); // 0x100 needs 9 bits
    expect(() => m.write(0x1000n, 2, 0x1_0000n)).toThrow(RangeError);
    expect(() => m.write(0x1000n, 4, 0x1_0000_0000n)).toThrow(RangeError);
    expect(() => m.write(0x1000n, 8, 1n << 64n)).toThrow(RangeError);
    expect(() => m.write(0x1000n, 8, -1n)).toThrow(RangeError);
    // Nothing was written by the rejected writes.
    expect(m.pagesAllocated).toBe(0);
  });
});

describe('accesses crossing a page boundary', () => {
  it('an 8-byte write at 0x1ffc lands 4 bytes in each page and reads back whole', () => {
    const m = new PhysicalMemory();
    m.write(0x1ffcn, 8, 0x8877_6655_4433_2211n);
    expect(m.pagesAllocated).toBe(2); // pages 1 (0x1000) and 2 (0x2000)
    expect(m.read(0x1ffcn, 8)).toBe(0x8877_6655_4433_2211n);
    // Bytes 0x1ffc..0x1fff hold the low word, 0x2000..0x2003 the high word.
    expect(m.read(0x1ffcn, 4)).toBe(0x4433_2211n);
    expect(m.read(0x2000n, 4)).toBe(0x8877_6655n);
    // A 2-byte read straddling the boundary: byte 0x1fff = 0x44, byte 0x2000 = 0x55 -> 0x5544.
    expect(m.read(0x1fffn, 2)).toBe(0x5544n);
  });

  it('a straddling read where the second page was never written reads zeros for it', () => {
    const m = new PhysicalMemory();
    m.write(0x3ff8n, 8, 0xaabb_ccdd_eeff_0011n);
    // 0x3ffc..0x3fff = the high word 0xaabbccdd; 0x4000..0x4003 unwritten = 0.
    expect(m.read(0x3ffcn, 8)).toBe(0x0000_0000_aabb_ccddn);
    expect(m.pagesAllocated).toBe(1);
  });
});

describe('abort ranges', () => {
  it('reads overlapping an abort range return EABT, reads next to it do not', () => {
    const m = new PhysicalMemory();
    m.write(0x8ff8n, 8, 0x1111n);
    m.declareAbort(0x9000n, 0x100n); // [0x9000, 0x9100)
    expect(m.isAbort(0x9000n, 1)).toBe(true);
    expect(m.isAbort(0x90ffn, 1)).toBe(true);
    expect(m.isAbort(0x9100n, 8)).toBe(false); // first byte after the range
    expect(m.isAbort(0x8ff8n, 8)).toBe(false); // ends at 0x9000, exclusive
    expect(m.isAbort(0x8ffcn, 8)).toBe(true); // 0x8ffc..0x9003 overlaps
    expect(m.read(0x9000n, 8)).toBe(EABT);
    expect(m.read(0x90f8n, 8)).toBe(EABT);
    expect(m.read(0x8ffcn, 8)).toBe(EABT);
    expect(m.read(0x8ff8n, 8)).toBe(0x1111n);
    expect(m.read(0x9100n, 8)).toBe(0n);
  });

  it('writes to an abort range return EABT and modify nothing, not even the non-aborting bytes', () => {
    const m = new PhysicalMemory();
    m.write(0x8ff8n, 8, 0x0102_0304_0506_0708n);
    m.declareAbort(0x9000n, 0x100n);
    let seen = 0;
    m.onWrite = () => { seen++; };
    // 0x8ffc..0x9003: the low 4 bytes are outside the range, the high 4 inside.
    expect(m.write(0x8ffcn, 8, 0xffff_ffff_ffff_ffffn)).toBe(EABT);
    expect(m.write(0x9080n, 4, 0x1234n)).toBe(EABT);
    // Bytes 0x8ffc..0x8fff still hold the old high word 0x01020304.
    expect(m.read(0x8ff8n, 8)).toBe(0x0102_0304_0506_0708n);
    expect(seen).toBe(0);
    // A successful write returns undefined.
    expect(m.write(0x9100n, 4, 0x1234n)).toBeUndefined();
    expect(seen).toBe(1);
  });

  it('readQwords returns EABT when any doubleword aborts', () => {
    const m = new PhysicalMemory();
    for (let i = 0; i < 8; i++) m.write(0xa000n + BigInt(8 * i), 8, BigInt(i + 1));
    expect(m.readQwords(0xa000n, 8)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    m.declareAbort(0xa038n, 8n); // the last doubleword of the 64-byte block
    expect(m.readQwords(0xa000n, 8)).toBe(EABT);
    expect(m.readQwords(0xa000n, 7)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  it('declareAbort rejects empty ranges and ranges beyond 2^64', () => {
    const m = new PhysicalMemory();
    expect(() => m.declareAbort(0x1000n, 0n)).toThrow(RangeError);
    expect(() => m.declareAbort(-1n, 8n)).toThrow(RangeError);
    expect(() => m.declareAbort(0xffff_ffff_ffff_fff8n, 16n)).toThrow(RangeError);
    // Exactly up to 2^64 is allowed.
    m.declareAbort(0xffff_ffff_ffff_fff8n, 8n);
    expect(m.read(0xffff_ffff_ffff_fff8n, 8)).toBe(EABT);
  });
});

describe('write hooks', () => {
  it('beforeWrite and onWrite see each successful write with its address, size and value', () => {
    const m = new PhysicalMemory();
    const log: string[] = [];
    m.beforeWrite = (a, s) => log.push(`before ${a.toString(16)}/${s}`);
    m.onWrite = (a, s, v) => log.push(`after ${a.toString(16)}/${s}=${v.toString(16)}`);
    m.write(0x40n, 4, 0xcafen);
    expect(log).toEqual(['before 40/4', 'after 40/4=cafe']);
  });
});

describe('page cap', () => {
  it('throws MemoryCapExceeded when a write needs one page more than the cap', () => {
    const m = new PhysicalMemory(2);
    m.write(0x0n, 8, 1n); // page 0
    m.write(0x1ff8n, 8, 2n); // page 1
    m.write(0x1000n, 8, 3n); // page 1 again: no new page
    expect(m.pagesAllocated).toBe(2);
    let err: unknown;
    try {
      m.write(0x2000n, 8, 4n); // page 2: the third
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemoryCapExceeded);
    expect((err as MemoryCapExceeded).capPages).toBe(2);
    // 2 pages * 4096 B = 8192 B = 0.0078125 MiB, printed in the message.
    expect((err as Error).message).toContain('more than 2 pages');
    expect(m.pagesAllocated).toBe(2);
    // Reads beyond the cap still work (they never allocate).
    expect(m.read(0x2000n, 8)).toBe(0n);
    expect(m.read(0x1ff8n, 8)).toBe(2n);
  });
});
