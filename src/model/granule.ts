/**
 * VMSAv8-64 translation granule geometry (Arm ARM D8.2, IHI0070 §3.4), as
 * data: the walk loop reads these rows and never branches on the granule.
 *
 * level shift(L) = g + (3 - L) * (g - 3) for a granule of 2^g bytes; each
 * table resolves s = g - 3 bits of input address.
 */

export type GranuleName = '4K' | '16K' | '64K';

export interface Granule {
  readonly name: GranuleName;
  /** log2 of the granule size in bytes. */
  readonly shift: number;
  /** Input-address bits resolved by one table (g - 3). */
  readonly stride: number;
  /** Lowest level that exists for this granule without 52-bit extensions. */
  readonly firstLevel: number;
  /** Levels at which a block descriptor (bits[1:0] = 0b01) is permitted without DS/LPA (Arm ARM D8.3.1). */
  readonly blockLevels: readonly number[];
  /** Contiguous-hint group size per level (Arm ARM D8.6.1); informational, the model treats the hint as a no-op. */
  readonly contiguous: Readonly<Record<number, number>>;
}

export const GRANULES: Readonly<Record<GranuleName, Granule>> = {
  '4K': { name: '4K', shift: 12, stride: 9, firstLevel: 0, blockLevels: [1, 2], contiguous: { 1: 16, 2: 16, 3: 16 } },
  '16K': { name: '16K', shift: 14, stride: 11, firstLevel: 0, blockLevels: [2], contiguous: { 2: 32, 3: 128 } },
  '64K': { name: '64K', shift: 16, stride: 13, firstLevel: 1, blockLevels: [2], contiguous: { 2: 32, 3: 32 } },
};

/** Lowest input-address bit a descriptor at this level resolves. */
export function levelShift(g: Granule, level: number): number {
  return g.shift + (3 - level) * g.stride;
}

/**
 * Start level of a stage-1 walk for an input range of n bits (Arm ARM D8.2.x,
 * IHI0070 §5.4 TxSZ): the level whose table covers bit n-1,
 * L = 4 - floor((n - 4) / s).  Worked: 4K, n = 48 -> 4 - floor(44/9) = 0;
 * 4K, n = 39 -> 4 - floor(35/9) = 1; 64K, n = 48 -> 4 - floor(44/13) = 1.
 */
export function stage1StartLevel(g: Granule, n: number): number {
  return 4 - Math.floor((n - 4) / g.stride);
}

/** Stage-2 start level from S2SL0 (IHI0070 §5.2 S2SL0, Arm ARM VTCR_EL2.SL0 without DS/TTST). */
export function stage2StartLevel(g: Granule, sl0: number): number | undefined {
  // 4K: SL0 0b00 -> L2, 0b01 -> L1, 0b10 -> L0; 16K and 64K: 0b00 -> L3, 0b01 -> L2, 0b10 -> L1.
  // 0b11 is reserved (L3 for 4K needs TTST, L0 for 16K needs DS).
  if (sl0 > 2) return undefined;
  return g.name === '4K' ? 2 - sl0 : 3 - sl0;
}

/**
 * Number of concatenated start-level tables a stage-2 walk of n input bits
 * starting at `level` needs (Arm ARM D8.2.x "concatenated translation
 * tables"): one table resolves `stride` bits above the level shift; up to 16
 * tables (4 more bits) may be concatenated.  Returns undefined when the
 * combination is inconsistent: the start level is too deep (more than 16
 * tables) or too shallow (n does not reach above the level shift).
 */
export function stage2Concatenation(g: Granule, level: number, n: number): number | undefined {
  const k = levelShift(g, level);
  if (level < g.firstLevel) return undefined;
  if (n <= k) return undefined;
  const extra = n - (k + g.stride);
  if (extra <= 0) return 1;
  if (extra > 4) return undefined;
  return 1 << extra;
}

/** Size in bytes of a table at `level` for a walk of n input bits with `concat` start tables. */
export function tableBytes(g: Granule, level: number, n: number, start: number, concat: number): number {
  if (level !== start) return 8 << g.stride;
  const k = levelShift(g, level);
  const bitsHere = Math.min(n - k, g.stride);
  return (8 << bitsHere) * concat;
}
