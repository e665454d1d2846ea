/**
 * "Used bits" of an STE: the bits an entry with its current V/Config makes the
 * SMMU read, as the Linux driver computes them (arm_smmu_get_ste_used, newest
 * revision with MEV, S2FWB and S2S) and as the kernel's KUnit test
 * arm-smmu-v3-test.c applies them to judge intermediate entries.
 *
 * This is the driver's conservative reading of IHI0070 §5.2's IGNORED rules
 * (S1* ignored when stage 1 is bypassed, S2* except S2VMID ignored when stage
 * 2 is bypassed); the STE stream's `state` column and `compare --semantic`
 * use it.
 */
import { fieldMask, type FieldDef } from '../model/fields.js';
import { STE_LAYOUT, type SteField } from '../model/ste.js';

const FIELD = new Map<string, FieldDef>(STE_LAYOUT.fields.map((f) => [f.name, f]));

function add(mask: bigint[], ...names: SteField[]): void {
  for (const n of names) {
    const f = FIELD.get(n)!;
    mask[f.qword] = (mask[f.qword] ?? 0n) | fieldMask(f);
  }
}

/** The STRTAB_STE_2_VTCR field of the driver: DW2[50:32] (S2T0SZ..S2PS). */
const VTCR: SteField[] = ['S2T0SZ', 'S2SL0', 'S2IR0', 'S2OR0', 'S2SH0', 'S2TG', 'S2PS'];

/** Per-doubleword masks of the bits an STE uses. */
export function steUsedMask(q: readonly bigint[]): bigint[] {
  const m = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  add(m, 'V');
  if (((q[0] ?? 0n) & 1n) === 0n) return m;
  add(m, 'Config');
  const cfg = Number(((q[0] ?? 0n) >> 1n) & 7n);
  if (cfg & 1) {
    add(m, 'S1Fmt', 'S1ContextPtr', 'S1CDMax', 'S1DSS', 'S1CIR', 'S1COR', 'S1CSH', 'S1STALLD', 'STRW', 'EATS', 'MEV', 'S2VMID');
    if (((q[1] ?? 0n) & 3n) === 1n) add(m, 'SHCFG'); // S1DSS == BYPASS
  }
  if (cfg & 2) {
    add(m, 'EATS', 'SHCFG', 'S2FWB', 'MEV', 'S2VMID', ...VTCR, 'S2AA64', 'S2ENDI', 'S2PTW', 'S2S', 'S2R', 'S2TTB');
  }
  if (cfg === 4) add(m, 'SHCFG');
  return m;
}

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

/**
 * How an entry looks to the SMMU right after a store, against the entry at the
 * previous invalidation (`old`) and at the next one (`new`):
 * - `old` / `new`: equal to one of them;
 * - `safe`: equal to `old` or `new` on every bit the current entry uses (a
 *   transaction arriving now gets what it got before or what it will get);
 * - `invalid`: V=0 while the old entry was not (transactions now get
 *   C_BAD_STE); a V=0 step of installing an entry into an invalid slot is
 *   `safe`, since nothing changes for traffic;
 * - `unsafe`: any other mix.
 */
export function classifyStore(cur: readonly bigint[], old: readonly bigint[], next: readonly bigint[]): 'old' | 'new' | 'invalid' | 'safe' | 'unsafe' {
  if (equalEntries(cur, old)) return 'old';
  if (equalEntries(cur, next)) return 'new';
  const used = steUsedMask(cur);
  if (equalOnMask(cur, old, used)) return 'safe';
  if (((cur[0] ?? 0n) & 1n) === 0n) return 'invalid';
  if (equalOnMask(cur, next, used)) return 'safe';
  return 'unsafe';
}
