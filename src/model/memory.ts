/**
 * Physical memory seen by the SMMU: a sparse 64-bit little-endian address
 * space.
 *
 * - Pages (4 KiB) are allocated on first write; memory never written reads as
 *   zero.
 * - Declared abort ranges model a completer that returns an external abort:
 *   reads and writes there fail, which is what lets the model produce
 *   F_STE_FETCH, F_CD_FETCH, F_WALK_EABT (IHI0070 §7.3.4, §7.3.10, §7.3.12)
 *   and CERROR_ABT (§7.1).
 * - A cap on the number of pages touched turns a trace that would exhaust the
 *   host into a clear error instead of an out-of-memory crash.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_MASK = BigInt(PAGE_SIZE - 1);
const ADDR_LIMIT = 1n << 64n;

/** Marker returned by a read or write that met an external abort. */
export const EABT: unique symbol = Symbol('external-abort');
export type Eabt = typeof EABT;

export type AccessSize = 1 | 2 | 4 | 8;

/**
 * Default cap: 1 GiB of simulated memory (262,144 pages), about 1.1 GB of
 * host memory when all touched.  Real traces touch a few MiB (tables,
 * queues, the pages DMA wrote); a larger cap is a command-line option.
 */
export const DEFAULT_CAP_PAGES = 1 << 18;

export class MemoryCapExceeded extends Error {
  constructor(readonly capPages: number) {
    super(`the trace touches more than ${capPages} pages (${(capPages * PAGE_SIZE) / (1 << 20)} MiB) of simulated memory; raise --memory-cap if this is intended`);
  }
}

export interface MemoryReader {
  read(addr: bigint, size: AccessSize): bigint | Eabt;
}

interface AbortRange {
  readonly start: bigint;
  readonly end: bigint; // exclusive
}

export class PhysicalMemory implements MemoryReader {
  private readonly pages = new Map<number, DataView>();
  /** Aborting ranges, sorted and disjoint (touching ranges are merged). */
  private readonly aborts: AbortRange[] = [];
  /** Optional hooks around each successful write (the replay uses them to see stream-table stores). */
  beforeWrite: ((addr: bigint, size: AccessSize) => void) | undefined;
  onWrite: ((addr: bigint, size: AccessSize, value: bigint) => void) | undefined;
  /** Optional hook before each read (the QEMU oracle uses it to see which addresses the SMMU reads). */
  onRead: ((addr: bigint, size: AccessSize) => void) | undefined;
  /** Reads so far (the SMMU's translation memo keeps only results computed without reading memory). */
  reads = 0;

  constructor(readonly capPages = DEFAULT_CAP_PAGES) {}

  get pagesAllocated(): number {
    return this.pages.size;
  }

  /**
   * Declare [start, start+size) as aborting.  The ranges are kept sorted and
   * merged, so that the check on every access is a binary search (a trace
   * declaring many ranges does not slow every access down in proportion).
   */
  declareAbort(start: bigint, size: bigint): void {
    if (size <= 0n || start < 0n || start + size > ADDR_LIMIT) throw new RangeError('abort range outside the 64-bit address space');
    let lo = start;
    let hi = start + size;
    // Ranges overlapping or touching [lo, hi) merge into it.
    const i = this.firstEndingAfter(lo - 1n);
    let j = i;
    while (j < this.aborts.length && this.aborts[j]!.start <= hi) {
      if (this.aborts[j]!.start < lo) lo = this.aborts[j]!.start;
      if (this.aborts[j]!.end > hi) hi = this.aborts[j]!.end;
      j++;
    }
    this.aborts.splice(i, j - i, { start: lo, end: hi });
  }

  /** Index of the first range (sorted, disjoint) whose end is above `addr`. */
  private firstEndingAfter(addr: bigint): number {
    let lo = 0;
    let hi = this.aborts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.aborts[mid]!.end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** True when an access of this size at this address meets an external abort. */
  isAbort(addr: bigint, size: number): boolean {
    if (this.aborts.length === 0) return false;
    const r = this.aborts[this.firstEndingAfter(addr)];
    return r !== undefined && r.start < addr + BigInt(size);
  }

  private page(addr: bigint, create: boolean): DataView | undefined {
    const pn = Number(addr >> BigInt(PAGE_SHIFT));
    let p = this.pages.get(pn);
    if (!p && create) {
      if (this.pages.size >= this.capPages) throw new MemoryCapExceeded(this.capPages);
      p = new DataView(new ArrayBuffer(PAGE_SIZE));
      this.pages.set(pn, p);
    }
    return p;
  }

  /** Little-endian read; an access crossing a page boundary is done byte by byte. */
  read(addr: bigint, size: AccessSize): bigint | Eabt {
    this.reads++;
    checkAccess(addr, size);
    this.onRead?.(addr, size);
    if (this.isAbort(addr, size)) return EABT;
    const off = Number(addr & PAGE_MASK);
    if (off + size <= PAGE_SIZE) {
      const p = this.page(addr, false);
      if (!p) return 0n;
      switch (size) {
        case 1: return BigInt(p.getUint8(off));
        case 2: return BigInt(p.getUint16(off, true));
        case 4: return BigInt(p.getUint32(off, true));
        case 8: return p.getBigUint64(off, true);
      }
    }
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | (this.read(addr + BigInt(i), 1) as bigint);
    return v;
  }

  /** Little-endian write; returns EABT (and writes nothing) if the range aborts. */
  write(addr: bigint, size: AccessSize, value: bigint): Eabt | undefined {
    checkAccess(addr, size);
    if (value < 0n || value >= 1n << BigInt(size * 8)) throw new RangeError(`value 0x${value.toString(16)} does not fit ${size} bytes`);
    if (this.isAbort(addr, size)) return EABT;
    this.beforeWrite?.(addr, size);
    const off = Number(addr & PAGE_MASK);
    if (off + size <= PAGE_SIZE) {
      const p = this.page(addr, true)!;
      switch (size) {
        case 1: p.setUint8(off, Number(value)); break;
        case 2: p.setUint16(off, Number(value), true); break;
        case 4: p.setUint32(off, Number(value), true); break;
        case 8: p.setBigUint64(off, value, true); break;
      }
    } else {
      for (let i = 0; i < size; i++) {
        const p = this.page(addr + BigInt(i), true)!;
        p.setUint8(Number((addr + BigInt(i)) & PAGE_MASK), Number((value >> BigInt(8 * i)) & 0xffn));
      }
    }
    this.onWrite?.(addr, size, value);
    return undefined;
  }

  /** Read n consecutive doublewords (a 64-byte STE or CD is 8); EABT if any of them aborts. */
  readQwords(addr: bigint, n: number): bigint[] | Eabt {
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) {
      const v = this.read(addr + BigInt(8 * i), 8);
      if (v === EABT) return EABT;
      out.push(v);
    }
    return out;
  }
}

function checkAccess(addr: bigint, size: number): void {
  if (addr < 0n || addr + BigInt(size) > ADDR_LIMIT) throw new RangeError(`access at 0x${addr.toString(16)} outside the 64-bit address space`);
}
