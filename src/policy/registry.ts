/**
 * Driver-policy variants as the replay sees them.  A trace without `op` rows
 * is replayed once, under the variant `hw`, which has no driver.
 */
import type { VariantRunSpec } from '../replay/run.js';

export const HW_VARIANT: VariantRunSpec = { name: 'hw' };

/** Registered driver-policy variants (none yet: they arrive with the driver model). */
const REGISTRY = new Map<string, VariantRunSpec>();

export function registeredVariants(): VariantRunSpec[] {
  return [...REGISTRY.values()];
}

/**
 * The variants to replay a trace under.  Without `op` rows only `hw`
 * applies; with them, the named variants (or all registered ones).
 */
export function chooseVariants(names: readonly string[] | undefined, hasOps: boolean): VariantRunSpec[] | string {
  if (!hasOps) {
    if (names && names.some((n) => n !== 'hw')) return `the trace has no 'op' rows, so it is replayed under variant 'hw' only (asked for: ${names.join(', ')})`;
    return [HW_VARIANT];
  }
  if (!names || names.length === 0) {
    const all = registeredVariants();
    return all.length ? all : "the trace has 'op' rows (driver operations) but no driver-policy variant is registered";
  }
  const out: VariantRunSpec[] = [];
  for (const n of names) {
    const v = REGISTRY.get(n);
    if (!v) return `unknown variant '${n}' (known: ${[...REGISTRY.keys()].join(', ') || 'none'})`;
    out.push(v);
  }
  return out;
}
