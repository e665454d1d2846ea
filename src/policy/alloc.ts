/**
 * The driver model's deterministic allocators: physical memory from its own
 * region (default 4 GiB up, so hand-written traces keep the memory below),
 * and ASID/VMID numbers (lowest free first, as the kernel's IDA/bitmaps do).
 */

export class RegionAllocator {
  private next: bigint;
  constructor(readonly base: bigint) {
    this.next = base;
  }

  /** `bytes` of memory aligned to `align` (a power of two), zero on allocation in a fresh model. */
  alloc(bytes: bigint, align: bigint = 4096n): bigint {
    const a = (this.next + align - 1n) & ~(align - 1n);
    this.next = a + bytes;
    return a;
  }

  get used(): bigint {
    return this.next - this.base;
  }
}

/** Lowest-free number allocator in [first, limit). */
export class IdAllocator {
  private readonly taken = new Set<number>();
  constructor(private readonly first: number, private readonly limit: number) {}

  alloc(): number | undefined {
    for (let i = this.first; i < this.limit; i++) {
      if (!this.taken.has(i)) {
        this.taken.add(i);
        return i;
      }
    }
    return undefined;
  }

  /** Claim a specific number; false if taken or out of range. */
  claim(n: number): boolean {
    if (n < this.first || n >= this.limit || this.taken.has(n)) return false;
    this.taken.add(n);
    return true;
  }

  free(n: number): void {
    this.taken.delete(n);
  }
}
