/**
 * The registry of driver-policy variants.  A trace without `op` rows is
 * replayed once, under the variant `hw`, which has no driver; a trace with
 * `op` rows under the named variants (all registered ones by default).
 * Users add variants with `--variant-file` (a JSON file of choices, or an ES
 * module exporting one variant as its default export).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VariantRunSpec } from '../replay/run.js';
import { DriverEngine } from './driver.js';
import { defineVariant, VARIANT_DEFAULTS, type Variant } from './variant.js';
import auger7 from './variants/auger-v7.js';
import auger8 from './variants/auger-v8.js';
import linux50 from './variants/linux-5.0.js';
import linux610 from './variants/linux-6.10.js';
import linuxCurrent from './variants/linux-current.js';
import nosync from './variants/nosync.js';
import rfc3 from './variants/rfc-v3.js';
import rfc3Cleared from './variants/rfc-v3-cleared.js';
import rfc3Review from './variants/rfc-v3-review.js';
import rfc3Union from './variants/rfc-v3-union.js';
import torn from './variants/torn.js';

export const HW_VARIANT: VariantRunSpec = { name: 'hw' };

/** The bundled variants, in the order reports list them. */
export const BUILTIN_VARIANTS: readonly Variant[] = [
  linux50, rfc3, rfc3Union, rfc3Cleared, rfc3Review, auger7, auger8, linux610, linuxCurrent, torn, nosync,
];

const registry = new Map<string, Variant>(BUILTIN_VARIANTS.map((v) => [v.name, v]));

export function variantByName(name: string): Variant | undefined {
  return registry.get(name);
}

export function registeredVariants(): Variant[] {
  return [...registry.values()];
}

export function runSpec(v: Variant): VariantRunSpec {
  return { name: v.name, makeDriver: (file: string) => new DriverEngine(v, file) };
}

/** Allowed values of each choice, for validating user variant files. */
const CHOICES: Readonly<Record<string, readonly (string | boolean)[]>> = {
  builder: ['legacy', 'modern'],
  layout: ['split', 'union'],
  unionLayout: ['v5.0', 'rfc-v3'],
  s1Bypass: ['flag', 'clear'],
  abort: ['unreachable', 'config-abort', 'empty-cd'],
  liveUpdate: ['bug-on-live', 'invalidate-first', 'in-place', 'hitless', 'hitless-safe', 'always-break', 'torn', 'nosync'],
  tlbiAsid: ['shared', 'leaf'],
  nested: ['none', 'pasid-table', 'vste'],
  usedBits: ['v6.10', 'current'],
  prefetch: [true, false],
  zeroS2WithoutS2: [true, false],
  detachResetsAbort: [true, false],
  disableBypass: [true, false],
};

/** Check a variant object; returns the problems found (empty when valid). */
export function validateVariant(o: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.name)) problems.push('name must be a word of letters, digits, dot, dash or underscore');
  if (o.name === 'hw') problems.push("'hw' is reserved for traces without op rows");
  if (typeof o.description !== 'string') problems.push('description must be a string');
  if (o.hooks !== undefined) {
    const h = o.hooks as Record<string, unknown> | null;
    if (typeof h !== 'object' || h === null) problems.push('hooks must be an object of functions');
    else {
      for (const [k, f] of Object.entries(h)) {
        if (k !== 'adjustSte') problems.push(`unknown hook '${k}' (known: adjustSte)`);
        else if (typeof f !== 'function') problems.push(`hooks.${k} must be a function (hooks need an ES module variant file, not JSON)`);
      }
    }
  }
  for (const k of Object.keys(o)) {
    if (k === 'name' || k === 'description' || k === 'extends' || k === 'hooks') continue;
    const allowed = CHOICES[k];
    if (!allowed) { problems.push(`unknown choice '${k}' (known: ${Object.keys(CHOICES).join(', ')})`); continue; }
    if (!allowed.includes(o[k] as string | boolean)) problems.push(`${k} must be one of ${allowed.map(String).join(', ')}, not ${JSON.stringify(o[k])}`);
  }
  for (const req of ['builder', 'liveUpdate']) if (o[req] === undefined && o.extends === undefined) problems.push(`${req} is required (or 'extends' a named variant)`);
  return problems;
}

/**
 * Load a user variant: `.json` holds choices (optionally `"extends": "<name>"`
 * to start from a named variant); `.js`/`.mjs` is a module whose default
 * export is a variant object (hooks allowed).  Registers it and returns it.
 */
export async function loadVariantFile(path: string, cwd: string): Promise<Variant> {
  const abs = resolve(cwd, path);
  let raw: Record<string, unknown>;
  if (/\.m?js$/.test(abs)) {
    const mod = (await import(pathToFileURL(abs).href)) as { default?: Record<string, unknown> };
    if (!mod.default || typeof mod.default !== 'object') throw new Error(`${path}: the module has no default export of a variant`);
    raw = mod.default;
  } else {
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch {
      throw new Error(`${path}: no such file`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
  }
  let base: Partial<Variant> = {};
  if (raw.extends !== undefined) {
    const b = registry.get(String(raw.extends));
    if (!b) throw new Error(`${path}: extends unknown variant '${String(raw.extends)}'`);
    base = b;
  }
  const problems = validateVariant({ ...base, ...raw, extends: raw.extends });
  if (problems.length) throw new Error(`${path}: ${problems.join('; ')}`);
  const { extends: _e, ...rest } = raw;
  const v = defineVariant({ ...VARIANT_DEFAULTS, ...base, ...(rest as Partial<Variant>) } as Variant);
  if (registry.has(v.name) && !BUILTIN_VARIANTS.some((b) => b.name === v.name)) throw new Error(`${path}: a variant named '${v.name}' is already loaded`);
  if (BUILTIN_VARIANTS.some((b) => b.name === v.name)) throw new Error(`${path}: '${v.name}' is a bundled variant; choose another name`);
  registry.set(v.name, v);
  return v;
}

/** Forget a variant loaded from a file (bundled variants stay). */
export function unloadVariant(name: string): void {
  if (!BUILTIN_VARIANTS.some((b) => b.name === name)) registry.delete(name);
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
  if (!names || names.length === 0) return registeredVariants().map(runSpec);
  const out: VariantRunSpec[] = [];
  for (const n of names.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '')) {
    const v = registry.get(n);
    if (!v) return `unknown variant '${n}' (known: ${[...registry.keys()].join(', ')})`;
    out.push(runSpec(v));
  }
  if (out.length === 0) return `no variant named in '${names.join(',')}'`;
  return out;
}
