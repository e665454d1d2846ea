/**
 * "Used bits" of STEs and CDs: the bits an entry with its current V/Config
 * makes the SMMU read, as the Linux driver computes them
 * (arm_smmu_get_ste_used, arm_smmu_get_cd_used, arm_smmu_get_ste_update_safe)
 * and as the kernel's KUnit test arm-smmu-v3-test.c applies them to judge
 * intermediate entries.
 *
 * This is the driver's conservative reading of IHI0070 §5.2's IGNORED rules
 * (S1* ignored when stage 1 is bypassed, S2* except S2VMID ignored when stage
 * 2 is bypassed).  The hitless entry writers use it, and so do the STE
 * stream's `state` column and `compare --semantic` (with the newest rule).
 */
import { CD_LAYOUT, type CdField } from '../model/cd.js';
import { fieldMask } from '../model/fields.js';
import { STE_LAYOUT, type SteField } from '../model/ste.js';

export type Entry = readonly bigint[];
export type UsedFn = (e: Entry) => bigint[];
export type SafeFn = (cur: Entry, target: Entry) => bigint[];

const NUM_QWORDS = 8;
const ALL = (1n << 64n) - 1n;

const STE_FIELD = new Map(STE_LAYOUT.fields.map((f) => [f.name, f]));
function steMask(m: bigint[], ...names: SteField[]): void {
  for (const n of names) {
    const f = STE_FIELD.get(n)!;
    m[f.qword] = (m[f.qword] ?? 0n) | fieldMask(f);
  }
}

const VTCR: SteField[] = ['S2T0SZ', 'S2SL0', 'S2IR0', 'S2OR0', 'S2SH0', 'S2TG', 'S2PS'];

/**
 * The driver's used bits of an STE (arm_smmu_get_ste_used).  `current`
 * includes the later additions MEV (nested DoS mitigation), S2FWB and S2S;
 * `v6.10` is the rule of the first hitless writer.
 */
export function steUsed(version: 'v6.10' | 'current'): UsedFn {
  const cur = version === 'current';
  return (e) => {
    const m = new Array<bigint>(NUM_QWORDS).fill(0n);
    steMask(m, 'V');
    if (((e[0] ?? 0n) & 1n) === 0n) return m;
    steMask(m, 'Config');
    const cfg = Number(((e[0] ?? 0n) >> 1n) & 7n);
    if (cfg & 1) {
      steMask(m, 'S1Fmt', 'S1ContextPtr', 'S1CDMax', 'S1DSS', 'S1CIR', 'S1COR', 'S1CSH', 'S1STALLD', 'STRW', 'EATS', 'S2VMID');
      if (cur) steMask(m, 'MEV');
      if (((e[1] ?? 0n) & 3n) === 1n) steMask(m, 'SHCFG'); // S1DSS == BYPASS
    }
    if (cfg & 2) {
      steMask(m, 'EATS', 'SHCFG', 'S2VMID', ...VTCR, 'S2AA64', 'S2ENDI', 'S2PTW', 'S2R', 'S2TTB');
      if (cur) steMask(m, 'S2FWB', 'MEV', 'S2S');
    }
    if (cfg === 4) steMask(m, 'SHCFG');
    return m;
  };
}

/**
 * Update-safe bits of an STE (arm_smmu_get_ste_update_safe, 2026 fixes):
 * MEV may always change without a break; the EATS=TRANS value bit (bit 28
 * of DW1) may when neither entry has the S1CHK encoding bit (bit 29) nor
 * S2S=1.
 */
export const steUpdateSafe: SafeFn = (cur, tgt) => {
  const m = new Array<bigint>(NUM_QWORDS).fill(0n);
  steMask(m, 'MEV');
  const s1chk = (e: Entry) => ((e[1] ?? 0n) >> 29n) & 1n;
  const s2s = (e: Entry) => ((e[2] ?? 0n) >> 57n) & 1n;
  if (s1chk(cur) === 0n && s1chk(tgt) === 0n && s2s(cur) === 0n && s2s(tgt) === 0n) m[1] = m[1]! | (1n << 28n);
  return m;
};

const CD_FIELD = new Map(CD_LAYOUT.fields.map((f) => [f.name, f]));
/** The driver's used bits of a CD (arm_smmu_get_cd_used): V only when V=0, else everything but the TTB0 half when EPD0=1. */
export const cdUsed: UsedFn = (e) => {
  const v = fieldMask(CD_FIELD.get('V')!);
  if (((e[0] ?? 0n) & v) === 0n) return [v, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  const m = new Array<bigint>(NUM_QWORDS).fill(ALL);
  if (((e[0] ?? 0n) >> 14n) & 1n) {
    for (const n of ['T0SZ', 'TG0', 'IR0', 'OR0', 'SH0', 'TTB0'] as CdField[]) {
      const f = CD_FIELD.get(n)!;
      m[f.qword] = m[f.qword]! & ~fieldMask(f);
    }
  }
  return m;
};

/** The newest rule, used for the STE stream's `state` column and `--semantic`. */
export const steUsedMask: UsedFn = steUsed('current');

export function equalOnMask(a: readonly bigint[], b: readonly bigint[], mask: readonly bigint[]): boolean {
  for (let i = 0; i < mask.length; i++) {
    if ((((a[i] ?? 0n) ^ (b[i] ?? 0n)) & mask[i]!) !== 0n) return false;
  }
  return true;
}

export function equalEntries(a: readonly bigint[], b: readonly bigint[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0n) !== (b[i] ?? 0n)) return false;
  return true;
}

/** Bits to compare: the current entry's used bits without the update-safe bits against `other`. */
function compareMask(cur: Entry, other: Entry, used: readonly bigint[], safe: SafeFn | undefined): bigint[] {
  if (!safe) return [...used];
  const s = safe(cur, other);
  return used.map((u, i) => u & ~s[i]!);
}

/** The STE rules the STE stream and the hazard analysis use: newest used bits and update-safe bits. */
export const STE_RULES: { readonly used: UsedFn; readonly safe: SafeFn | undefined } = { used: steUsedMask, safe: steUpdateSafe };
/** The CD rules: CD used bits, no update-safe bits. */
export const CD_RULES: { readonly used: UsedFn; readonly safe: SafeFn | undefined } = { used: cdUsed, safe: undefined };

/**
 * How an entry looks to the SMMU right after a store, against the entry at the
 * previous invalidation (`old`) and at the next one (`new`), by the rule the
 * newest KUnit test applies to every intermediate entry (used bits of the
 * current entry, update-safe bits ignored):
 * - `old` / `new`: equal to one of them;
 * - `safe`: equal to `old` or `new` on every bit the current entry uses, so a
 *   transaction arriving now gets what it got before or what it will get;
 * - `invalid`: V=0 while neither the old nor the new entry is invalid
 *   (transactions now get C_BAD_STE / C_BAD_CD); a V=0 step of installing an
 *   entry into an invalid slot, or of invalidating one, is `safe`;
 * - `unsafe`: any other mix.
 * The valid bit is bit 0 of an STE and bit 31 of a CD; `rules` says which.
 */
export function classifyStore(cur: Entry, old: Entry, next: Entry, rules = STE_RULES, vBit = 0n): 'old' | 'new' | 'invalid' | 'safe' | 'unsafe' {
  if (equalEntries(cur, old)) return 'old';
  if (equalEntries(cur, next)) return 'new';
  const used = rules.used(cur);
  if (equalOnMask(cur, old, compareMask(cur, old, used, rules.safe))) return 'safe';
  if (equalOnMask(cur, next, compareMask(cur, next, used, rules.safe))) return 'safe';
  if ((((cur[0] ?? 0n) >> vBit) & 1n) === 0n) return 'invalid';
  return 'unsafe';
}
