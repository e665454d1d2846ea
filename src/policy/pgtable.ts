/**
 * The driver's page tables: a model of Linux's io-pgtable-arm for the
 * VMSAv8-64 stage-1 and stage-2 formats (the facts: start level from the
 * input size, stage-2 concatenation of a level-0 table of at most 16 entries
 * into level 1, block mappings where aligned, the PTE attribute bits the
 * driver sets).  Tables live in the driver's region; every descriptor store
 * goes out through `io.write`, so it appears in the trace's replay as a
 * memory write of the driver.
 */
import { GRANULES, levelShift, type Granule, type GranuleName } from '../model/granule.js';
import type { RegionAllocator } from './alloc.js';

export interface TableIo {
  read(addr: bigint): bigint;
  write(addr: bigint, value: bigint): void;
}

export interface Prot {
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  /** IOMMU_PRIV: no unprivileged access (stage 1). */
  readonly priv: boolean;
}

/** Parse a `prot=` value: letters r, w, x, p (privileged only). */
export function parseProt(s: string): Prot | string {
  if (!/^[rwxp]+$/.test(s)) return `prot must be made of the letters r, w, x, p, not '${s}'`;
  return { read: s.includes('r'), write: s.includes('w'), exec: s.includes('x'), priv: s.includes('p') };
}

const OAS_CODE: Readonly<Record<number, number>> = { 32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6 };

export interface PgtableConfig {
  readonly stage: 1 | 2;
  readonly granule: GranuleName;
  readonly ias: number;
  readonly oas: number;
}

export interface Leaf {
  readonly iova: bigint;
  readonly size: bigint;
  readonly level: number;
}

export class IoPgtable {
  readonly g: Granule;
  readonly startLevel: number;
  /** Number of concatenated start-level tables (stage 2). */
  readonly concat: number;
  readonly root: bigint;
  private readonly startBits: number;

  constructor(readonly cfg: PgtableConfig, private readonly alloc: RegionAllocator, private readonly io: TableIo) {
    const g = GRANULES[cfg.granule];
    this.g = g;
    // The driver validates ias/oas before building a table (domain_alloc); these are bugs.
    if (OAS_CODE[cfg.oas] === undefined || cfg.oas > 48) throw new Error(`IoPgtable: output size ${cfg.oas} is not one of 32, 36, 40, 42, 44, 48`);
    if (cfg.ias <= g.shift || cfg.ias > 48) throw new Error(`IoPgtable: input size ${cfg.ias} outside (${g.shift}, 48]`);
    // io-pgtable-arm: levels = ceil((ias - granule shift) / bits per level); the start table resolves the rest.
    const vaBits = cfg.ias - g.shift;
    const levels = Math.ceil(vaBits / g.stride);
    let start = 4 - levels;
    let pgdBits = vaBits - (levels - 1) * g.stride;
    let concat = 1;
    // Stage 2: a level-0 table of at most 16 entries is replaced by concatenated level-1 tables.
    if (cfg.stage === 2 && start === 0 && 2 ** pgdBits <= 16) {
      concat = 2 ** pgdBits;
      pgdBits += g.stride;
      start = 1;
    }
    this.startLevel = start;
    this.concat = concat;
    this.startBits = pgdBits;
    const bytes = BigInt(8 * 2 ** pgdBits);
    this.root = alloc.alloc(bytes < 4096n ? 4096n : bytes, bytes < 4096n ? 4096n : bytes);
  }

  /** CD TCR fields (stage 1): T0SZ, TG0, IR0/OR0 write-back, SH0 inner shareable, IPS, EPD1. */
  tcr(): { T0SZ: number; TG0: number; IR0: number; OR0: number; SH0: number; IPS: number; EPD1: number } {
    return { T0SZ: 64 - this.cfg.ias, TG0: tg0(this.g), IR0: 1, OR0: 1, SH0: 3, IPS: OAS_CODE[this.cfg.oas]!, EPD1: 1 };
  }

  /** STE VTCR fields (stage 2): S2T0SZ, S2SL0, S2IR0/S2OR0 write-back, S2SH0, S2TG, S2PS. */
  vtcr(): { S2T0SZ: number; S2SL0: number; S2IR0: number; S2OR0: number; S2SH0: number; S2TG: number; S2PS: number } {
    const sl0 = this.g.name === '4K' ? 2 - this.startLevel : 3 - this.startLevel;
    return { S2T0SZ: 64 - this.cfg.ias, S2SL0: sl0, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2TG: tg0(this.g), S2PS: OAS_CODE[this.cfg.oas]! };
  }

  /** Page and block sizes this table format can map (log2). */
  private sizes(): number[] {
    return [3, ...this.g.blockLevels].map((l) => levelShift(this.g, l)).sort((a, b) => b - a);
  }

  private index(iova: bigint, level: number): bigint {
    const shift = levelShift(this.g, level);
    const bits = level === this.startLevel ? this.startBits : this.g.stride;
    return (iova >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
  }

  private tableAddr(desc: bigint): bigint {
    return desc & 0x0000_ffff_ffff_f000n & ~((1n << BigInt(this.g.shift)) - 1n);
  }

  /**
   * Map [iova, iova+size) to [pa, pa+size) with the largest page or block
   * size alignment allows, as iommu_map() picks sizes from the format's
   * page-size bitmap (which does not depend on the input size).  A failure
   * part-way unmaps what this call mapped, as iommu_map() does.
   */
  map(iova: bigint, pa: bigint, size: bigint, prot: Prot): string | undefined {
    if (size <= 0n) return 'size must be positive';
    const gran = 1n << BigInt(this.g.shift);
    if ((iova | pa | size) % gran !== 0n) return `iova, pa and size must be ${this.g.name}-aligned`;
    if (iova + size > 1n << BigInt(this.cfg.ias)) return `iova range beyond the ${this.cfg.ias}-bit input size`;
    if (pa + size > 1n << BigInt(this.cfg.oas)) return `pa range beyond the ${this.cfg.oas}-bit output size`;
    // arm_lpae_map_pages: with neither read nor write there is nothing to map, and it succeeds.
    if (!prot.read && !prot.write) return undefined;
    const done: bigint[] = [];
    let off = 0n;
    while (off < size) {
      const va = iova + off;
      const out = pa + off;
      const left = size - off;
      const shift = this.sizes().find((s) => {
        const b = 1n << BigInt(s);
        return va % b === 0n && out % b === 0n && left >= b;
      })!;
      const level = 3 - (shift - this.g.shift) / this.g.stride;
      // __arm_lpae_map only places a block at the level whose block size it is: a
      // size whose level lies above the start level cannot be mapped (-EINVAL).
      const err = level < this.startLevel
        ? `a ${(1n << BigInt(shift)).toString(16)}-byte block needs level ${level}, above this table's start level ${this.startLevel} (io-pgtable: -EINVAL)`
        : this.install(va, out, level, prot);
      if (err) {
        for (const a of done) this.io.write(a, 0n);
        return err;
      }
      done.push(this.find(va)!.addr);
      off += 1n << BigInt(shift);
    }
    return undefined;
  }

  private install(va: bigint, pa: bigint, level: number, prot: Prot): string | undefined {
    let table = this.root;
    for (let l = this.startLevel; l < level; l++) {
      const addr = table + 8n * this.index(va, l);
      let d = this.io.read(addr);
      if ((d & 3n) === 1n) return `0x${va.toString(16)} is already mapped by a block at level ${l}`;
      if ((d & 3n) !== 3n) {
        const t = this.alloc.alloc(1n << BigInt(this.g.shift), 1n << BigInt(this.g.shift));
        d = t | 3n; // table descriptor
        this.io.write(addr, d);
      }
      table = this.tableAddr(d);
    }
    const addr = table + 8n * this.index(va, level);
    const old = this.io.read(addr);
    if ((old & 1n) === 1n) return `0x${va.toString(16)} is already mapped`;
    this.io.write(addr, this.leaf(pa, level, prot));
    return undefined;
  }

  private leaf(pa: bigint, level: number, p: Prot): bigint {
    let d = pa | (level === 3 ? 3n : 1n) | (1n << 10n) | (3n << 8n); // AF, inner shareable
    if (this.cfg.stage === 1) {
      d |= 1n << 11n; // nG: io-pgtable maps stage 1 non-global
      d |= 1n << 2n; // AttrIndx 1: write-back cacheable (MAIR attr 1)
      if (!p.priv) d |= 1n << 6n; // AP[1]: unprivileged access too
      if (!p.write) d |= 1n << 7n; // AP[2]: read-only
      if (!p.exec) d |= 3n << 53n; // PXN and UXN
    } else {
      d |= 0xfn << 2n; // MemAttr: Normal, outer and inner write-back
      if (p.read) d |= 1n << 6n;
      if (p.write) d |= 1n << 7n;
      // io-pgtable-arm sets the same XN bits for both stages (3 << 53). At stage 2
      // that is XN[1:0] = 0b11: with FEAT_XNX, no execution at EL0 but execution
      // at EL1 (Arm ARM D8.4.3); without FEAT_XNX only bit 54 counts.
      if (!p.exec) d |= 3n << 53n;
    }
    return d;
  }

  /** Unmap [iova, iova+size): clears whole leaves; returns them, or an error for a range that splits a leaf or is not mapped. */
  unmap(iova: bigint, size: bigint): Leaf[] | string {
    const leaves: Leaf[] = [];
    let off = 0n;
    while (off < size) {
      const va = iova + off;
      const found = this.find(va);
      if (!found) return `0x${va.toString(16)} is not mapped`;
      const leafSize = 1n << BigInt(levelShift(this.g, found.level));
      if (va % leafSize !== 0n || off + leafSize > size) return `unmapping part of a ${leafSize.toString(16)}-byte block at 0x${(va - (va % leafSize)).toString(16)} is not supported`;
      this.io.write(found.addr, 0n);
      leaves.push({ iova: va, size: leafSize, level: found.level });
      off += leafSize;
    }
    return leaves;
  }

  private find(va: bigint): { addr: bigint; level: number } | undefined {
    let table = this.root;
    for (let l = this.startLevel; l <= 3; l++) {
      const addr = table + 8n * this.index(va, l);
      const d = this.io.read(addr);
      if ((d & 1n) === 0n) return undefined;
      if (l === 3 || (d & 3n) === 1n) return { addr, level: l };
      table = this.tableAddr(d);
    }
    return undefined;
  }
}

function tg0(g: Granule): number {
  return g.name === '4K' ? 0 : g.name === '64K' ? 1 : 2;
}

/** Linux's MAIR for io-pgtable stage 1: attr0 Normal non-cacheable (0x44), attr1 Normal write-back (0xff), attr2 Device-nGnRE (0x04), attr3 outer-cacheable (0xf4). */
export const LINUX_MAIR = 0xf404ff44n;
