/**
 * The Stream table (IHI0070 §3.3.2, §5.1, §6.3.24, §6.3.25): linear and 2-level
 * formats, the L1STD, and where the STE of a StreamID lives.
 */
import { dw, type Layout } from './fields.js';
import type { Features } from './profiles.js';

const l1stdFields = [
  dw('Span', 0, 4, 0, 'IHI0070 §5.1', { dec: true }),
  dw('L2Ptr', 0, 55, 6, 'IHI0070 §5.1', { addr: true }),
] as const;
export type L1stdField = (typeof l1stdFields)[number]['name'];
export const L1STD_LAYOUT: Layout<L1stdField> = { name: 'L1STD', qwords: 1, fields: l1stdFields as unknown as Layout<L1stdField>['fields'] };

export const STE_BYTES = 64n;

/** Stream table configuration as programmed in STRTAB_BASE / STRTAB_BASE_CFG. */
export interface StrtabConfig {
  readonly base: bigint;
  readonly fmt: number;
  readonly log2size: number;
  readonly split: number;
}

/** The layout the SMMU actually uses after applying the "behaves as" rules of §6.3.25. */
export interface StrtabGeometry {
  readonly twoLevel: boolean;
  /** Effective base, aligned as §6.3.24 requires. */
  readonly base: bigint;
  /** Number of StreamIDs in range: 2^MIN(LOG2SIZE, SIDSIZE). */
  readonly sidLimit: number;
  readonly split: number;
  readonly log2size: number;
}

export function strtabGeometry(c: StrtabConfig, f: Features): StrtabGeometry {
  // §6.3.25 FMT: values other than 0b00/0b01 behave as linear; 2-level needs SMMU_IDR0.ST_LEVEL.
  const twoLevel = c.fmt === 1 && f.twoLevelStreamTable;
  // §6.3.25 SPLIT: 6, 8 or 10; other values behave as 6.
  const split = c.split === 8 || c.split === 10 ? c.split : 6;
  const log2 = c.log2size;
  // §6.3.24 ADDR alignment uses the literal LOG2SIZE: linear to the table size, 2-level to MAX(64 B, L1 size).
  const alignBits = twoLevel ? Math.max(6, log2 - split + 3) : log2 + 6;
  const base = c.base & ~((1n << BigInt(Math.min(alignBits, 56))) - 1n);
  return { twoLevel, base, sidLimit: 2 ** Math.min(log2, f.sidSize), split, log2size: log2 };
}

export type SteLocation =
  | { readonly kind: 'ok'; readonly addr: bigint; readonly l1Index?: number }
  | { readonly kind: 'bad-streamid'; readonly reason: string }
  | { readonly kind: 'fetch-abort'; readonly fetchAddr: bigint };

/**
 * Find the STE of a StreamID (§3.3.2).  `readL1` returns an L1STD (from the
 * configuration cache or memory) or undefined when its fetch aborted.
 */
export function locateSte(g: StrtabGeometry, sid: number, readL1: (index: number, addr: bigint) => bigint | undefined): SteLocation {
  if (sid >= g.sidLimit) return { kind: 'bad-streamid', reason: `StreamID 0x${sid.toString(16)} >= 2^${Math.log2(g.sidLimit)}` };
  if (!g.twoLevel) return { kind: 'ok', addr: g.base + BigInt(sid) * STE_BYTES };
  const index = Math.floor(sid / 2 ** g.split);
  const l1Addr = g.base + BigInt(index) * 8n;
  const d = readL1(index, l1Addr);
  if (d === undefined) return { kind: 'fetch-abort', fetchAddr: l1Addr };
  return stePlace(d, sid, g.split, index);
}

/** Interpret an L1STD for a StreamID (§5.1 Span, L2Ptr). */
export function stePlace(l1std: bigint, sid: number, split: number, index: number): SteLocation {
  const span = Number(l1std & 0x1fn);
  // §5.1 Span: 0 means no L2 table; 12..31 are reserved and behave as 0; a Span above SPLIT+1 is invalid.
  if (span === 0 || span > 11) return { kind: 'bad-streamid', reason: `L1STD[${index}].Span=${span}: no level-2 table` };
  if (span > split + 1) return { kind: 'bad-streamid', reason: `L1STD[${index}].Span=${span} exceeds SPLIT+1=${split + 1}` };
  const l2Index = sid % 2 ** split;
  if (l2Index >= 2 ** (span - 1)) return { kind: 'bad-streamid', reason: `StreamID 0x${sid.toString(16)} beyond L1STD[${index}].Span=${span} (${2 ** (span - 1)} STEs)` };
  // §5.1 L2Ptr: aligned to the size of the level-2 array, 64 << (Span - 1) bytes.
  const l2 = l1std & ((1n << 56n) - 1n) & ~((64n << BigInt(span - 1)) - 1n);
  return { kind: 'ok', addr: l2 + BigInt(l2Index) * STE_BYTES, l1Index: index };
}

/**
 * The reverse question, for the replay's STE stream: which StreamID and
 * doubleword does a store to physical address `pa` hit?  For a 2-level table
 * `l1` gives the current L1STD contents (from memory).
 */
export function steAtAddress(g: StrtabGeometry, pa: bigint, l1: (index: number) => bigint): { sid: number; qword: number } | undefined {
  if (!g.twoLevel) {
    const end = g.base + BigInt(g.sidLimit) * STE_BYTES;
    if (pa < g.base || pa >= end) return undefined;
    const off = pa - g.base;
    return { sid: Number(off / STE_BYTES), qword: Number((off % STE_BYTES) / 8n) };
  }
  const entries = Math.max(1, 2 ** Math.max(0, Math.min(g.log2size, 32) - g.split));
  const perL1 = Math.min(entries, Math.ceil(g.sidLimit / 2 ** g.split));
  for (let i = 0; i < perL1; i++) {
    const d = l1(i);
    const span = Number(d & 0x1fn);
    if (span === 0 || span > 11 || span > g.split + 1) continue;
    const size = 64n << BigInt(span - 1);
    const l2 = d & ((1n << 56n) - 1n) & ~(size - 1n);
    if (pa >= l2 && pa < l2 + size) {
      const off = pa - l2;
      return { sid: i * 2 ** g.split + Number(off / STE_BYTES), qword: Number((off % STE_BYTES) / 8n) };
    }
  }
  return undefined;
}
