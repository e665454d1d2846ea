import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { DriverEngine } from '../../src/policy/driver.js';
import {
  BUILTIN_VARIANTS, chooseVariants, HW_VARIANT, loadVariantFile, registeredVariants, runSpec, validateVariant, variantByName,
} from '../../src/policy/registry.js';
import { VARIANT_DEFAULTS, type Variant } from '../../src/policy/variant.js';
import { Replay } from '../../src/replay/engine.js';
import type { VariantRunSpec } from '../../src/replay/run.js';
import type { DmaStreamRow, FaultRow } from '../../src/replay/streams.js';
import { parseTraceText } from '../../src/trace/parse.js';

const NAMES = [
  'linux-5.0', 'rfc-v3', 'rfc-v3-union', 'rfc-v3-cleared', 'rfc-v3-review', 'auger-v7', 'auger-v8',
  'linux-6.10', 'linux-current', 'torn', 'nosync',
];

function v(name: string): Variant {
  const x = variantByName(name);
  if (!x) throw new Error(`no variant ${name}`);
  return x;
}

function names(specs: VariantRunSpec[] | string): string[] | string {
  return typeof specs === 'string' ? specs : specs.map((s) => s.name);
}

describe('the bundled variants', () => {
  it('are the eleven named ones, in report order, and all registered', () => {
    expect(BUILTIN_VARIANTS.map((x) => x.name)).toEqual(NAMES);
    expect(registeredVariants().map((x) => x.name)).toEqual(NAMES);
    for (const n of NAMES) expect(variantByName(n)).toBe(BUILTIN_VARIANTS[NAMES.indexOf(n)]);
    expect(variantByName('hw')).toBeUndefined();
  });

  it('each is a valid variant with a one-line description and no hooks', () => {
    for (const x of BUILTIN_VARIANTS) {
      expect([x.name, validateVariant({ ...x })]).toEqual([x.name, []]);
      expect(x.description.length).toBeGreaterThan(10);
      expect(x.description).not.toContain('\n');
      expect(x.hooks).toBeUndefined();
    }
  });

  it('linux-5.0: legacy builder, v5.0 union, BUG_ON(ste_live), no nesting', () => {
    expect(v('linux-5.0')).toMatchObject({
      builder: 'legacy', layout: 'union', unionLayout: 'v5.0', liveUpdate: 'bug-on-live', nested: 'none', prefetch: true, disableBypass: true,
    });
  });

  it('rfc-v3: nested_bypass flag, unreachable abort, invalidate-first, shared ASID, split cfgs with the rfc-v3 struct', () => {
    expect(v('rfc-v3')).toMatchObject({
      builder: 'legacy', layout: 'split', unionLayout: 'rfc-v3', s1Bypass: 'flag', abort: 'unreachable',
      liveUpdate: 'invalidate-first', tlbiAsid: 'shared', nested: 'pasid-table', prefetch: true,
    });
  });

  it('the rfc-v3 derivatives differ from rfc-v3 only where their names say', () => {
    const base = v('rfc-v3');
    const diff = (name: string) => Object.fromEntries(Object.entries(v(name)).filter(([k, val]) => k !== 'name' && k !== 'description' && base[k as keyof Variant] !== val));
    expect(diff('rfc-v3-union')).toEqual({ layout: 'union' });
    expect(diff('rfc-v3-cleared')).toEqual({ s1Bypass: 'clear' });
    expect(diff('rfc-v3-review')).toEqual({ s1Bypass: 'clear', abort: 'empty-cd', tlbiAsid: 'leaf' });
    // the union variant keeps the rfc-v3 struct (nested_bypass at union byte 16)
    expect(v('rfc-v3-union').unionLayout).toBe('rfc-v3');
  });

  it('auger-v7 rewrites live STEs in place; auger-v8 invalidates first and zeroes qwords 2-3 without stage 2', () => {
    expect(v('auger-v7')).toMatchObject({
      builder: 'legacy', layout: 'split', liveUpdate: 'in-place', abort: 'config-abort', tlbiAsid: 'leaf',
      nested: 'pasid-table', zeroS2WithoutS2: false, detachResetsAbort: false,
    });
    expect(v('auger-v8')).toMatchObject({
      builder: 'legacy', layout: 'split', liveUpdate: 'invalidate-first', abort: 'config-abort', tlbiAsid: 'leaf',
      nested: 'pasid-table', zeroS2WithoutS2: true, detachResetsAbort: false,
    });
  });

  it('linux-6.10 is the first hitless writer without nesting; linux-current is hitless-safe with vSTE nesting', () => {
    expect(v('linux-6.10')).toMatchObject({ builder: 'modern', liveUpdate: 'hitless', usedBits: 'v6.10', nested: 'none' });
    expect(v('linux-current')).toMatchObject({
      builder: 'modern', liveUpdate: 'hitless-safe', usedBits: 'current', nested: 'vste', abort: 'config-abort', layout: 'split',
    });
  });

  it('torn and nosync are the modern negative controls without prefetch', () => {
    expect(v('torn')).toMatchObject({ builder: 'modern', liveUpdate: 'torn', prefetch: false });
    expect(v('nosync')).toMatchObject({ builder: 'modern', liveUpdate: 'nosync', prefetch: false });
  });

  it('only linux-5.0 and rfc-v3-union use the union layout', () => {
    expect(BUILTIN_VARIANTS.filter((x) => x.layout === 'union').map((x) => x.name)).toEqual(['linux-5.0', 'rfc-v3-union']);
  });
});

describe('validateVariant', () => {
  it('an empty object: name, description, builder and liveUpdate', () => {
    expect(validateVariant({})).toEqual([
      'name must be a word of letters, digits, dot, dash or underscore',
      'description must be a string',
      "builder is required (or 'extends' a named variant)",
      "liveUpdate is required (or 'extends' a named variant)",
    ]);
  });
  it('a minimal valid variant', () => {
    expect(validateVariant({ name: 'mine_1.0-b', description: '', builder: 'modern', liveUpdate: 'always-break' })).toEqual([]);
  });
  it('names: a word starting with a letter or digit; hw is reserved', () => {
    const ok = { description: 'd', builder: 'modern', liveUpdate: 'hitless' };
    expect(validateVariant({ ...ok, name: '-x' })).toEqual(['name must be a word of letters, digits, dot, dash or underscore']);
    expect(validateVariant({ ...ok, name: 'my variant' })).toEqual(['name must be a word of letters, digits, dot, dash or underscore']);
    expect(validateVariant({ ...ok, name: 'hw' })).toEqual(["'hw' is reserved for traces without op rows"]);
    expect(validateVariant({ ...ok, name: 3 })).toEqual(['name must be a word of letters, digits, dot, dash or underscore']);
  });
  it('unknown choices and values outside a choice, in key order', () => {
    expect(validateVariant({ name: 'x', description: 'd', builder: 'modern', liveUpdate: 'sometimes', liveupdate: 'hitless', prefetch: 'true' })).toEqual([
      'liveUpdate must be one of bug-on-live, invalidate-first, in-place, hitless, hitless-safe, always-break, torn, nosync, not "sometimes"',
      "unknown choice 'liveupdate' (known: builder, layout, unionLayout, s1Bypass, abort, liveUpdate, tlbiAsid, nested, usedBits, prefetch, zeroS2WithoutS2, detachResetsAbort, disableBypass)",
      'prefetch must be one of true, false, not "true"',
    ]);
    expect(validateVariant({ name: 'x', description: 'd', builder: 'hybrid', liveUpdate: 'torn', layout: 'packed', abort: 'empty-cd' })).toEqual([
      'builder must be one of legacy, modern, not "hybrid"',
      'layout must be one of split, union, not "packed"',
    ]);
  });
  it("with 'extends', builder and liveUpdate may be left out; extends and hooks are not choices", () => {
    expect(validateVariant({ name: 'x', description: 'd', extends: 'rfc-v3' })).toEqual([]);
    expect(validateVariant({ name: 'x', description: 'd', builder: 'legacy', liveUpdate: 'in-place', hooks: {} })).toEqual([]);
  });
});

describe('chooseVariants', () => {
  it("a trace without op rows is replayed under 'hw' only", () => {
    expect(chooseVariants(undefined, false)).toEqual([HW_VARIANT]);
    expect(chooseVariants([], false)).toEqual([HW_VARIANT]);
    expect(chooseVariants(['hw'], false)).toEqual([HW_VARIANT]);
    expect(HW_VARIANT).toEqual({ name: 'hw' }); // no driver
    expect(chooseVariants(['linux-5.0', 'hw'], false))
      .toBe("the trace has no 'op' rows, so it is replayed under variant 'hw' only (asked for: linux-5.0, hw)");
  });
  it('a trace with op rows: all registered variants by default, each with a driver of its own', () => {
    const all = chooseVariants(undefined, true);
    expect(names(all)).toEqual(NAMES);
    expect(names(chooseVariants([], true))).toEqual(NAMES);
    const spec = (all as VariantRunSpec[])[3]!;
    const d = spec.makeDriver!('t.csv');
    expect(d).toBeInstanceOf(DriverEngine);
    expect((d as DriverEngine).variant).toBe(v('rfc-v3-cleared'));
    expect(spec.makeDriver!('t.csv')).not.toBe(d);
  });
  it('names, comma-separated or not, in the order given', () => {
    expect(names(chooseVariants(['linux-current,rfc-v3', 'torn'], true))).toEqual(['linux-current', 'rfc-v3', 'torn']);
    expect(names(chooseVariants(['auger-v8'], true))).toEqual(['auger-v8']);
  });
  it('an unknown name (hw included, which has no driver) lists the known ones', () => {
    const known = NAMES.join(', ');
    expect(chooseVariants(['rfc-v3,rfc-v4'], true)).toBe(`unknown variant 'rfc-v4' (known: ${known})`);
    expect(chooseVariants(['hw'], true)).toBe(`unknown variant 'hw' (known: ${known})`);
  });
  it('runSpec names the spec after the variant', () => {
    const s = runSpec(v('torn'));
    expect(s.name).toBe('torn');
    expect((s.makeDriver!('f') as DriverEngine).variant.liveUpdate).toBe('torn');
  });
});

describe('loadVariantFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'smmu-variants-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  function write(name: string, content: unknown): string {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    return name;
  }

  it("JSON with 'extends': the named variant's choices, overridden by the file's, registered", async () => {
    const f = write('mine.json', { name: 'rfc-v3-abort', description: 'rfc-v3 with Config=abort', extends: 'rfc-v3', abort: 'config-abort' });
    const x = await loadVariantFile(f, dir);
    expect(x).toEqual({ ...v('rfc-v3'), name: 'rfc-v3-abort', description: 'rfc-v3 with Config=abort', abort: 'config-abort' });
    expect(x).not.toHaveProperty('extends');
    expect(variantByName('rfc-v3-abort')).toBe(x);
    expect(names(chooseVariants(['rfc-v3-abort,rfc-v3'], true))).toEqual(['rfc-v3-abort', 'rfc-v3']);
    // a loaded variant joins the default set, after the bundled ones
    expect(names(chooseVariants(undefined, true))).toEqual([...NAMES, 'rfc-v3-abort']);
  });

  it('JSON without extends: the defaults fill the choices left out', async () => {
    const f = write('plain.json', { name: 'breaker', description: 'always through V=0', builder: 'modern', liveUpdate: 'always-break' });
    const x = await loadVariantFile(join(dir, f), '/');
    expect(x).toEqual({
      name: 'breaker', description: 'always through V=0', builder: 'modern', liveUpdate: 'always-break',
      layout: 'split', unionLayout: 'v5.0', s1Bypass: 'clear', abort: 'config-abort', tlbiAsid: 'leaf', nested: 'none',
      usedBits: 'current', prefetch: false, zeroS2WithoutS2: false, detachResetsAbort: true, disableBypass: true,
    });
    expect(x).toEqual({ ...VARIANT_DEFAULTS, name: 'breaker', description: 'always through V=0', builder: 'modern', liveUpdate: 'always-break' });
  });

  it('invalid choices: every problem, prefixed with the path', async () => {
    const f = write('bad.json', { name: 'bad', description: 'd', extends: 'linux-current', liveUpdate: 'sometimes', flavour: 'x', prefetch: 1 });
    const err = await loadVariantFile(f, dir).then(() => undefined, (e: Error) => e.message);
    // the path, then the problems joined with '; ' (in the order of the merged object's keys)
    expect(err?.startsWith('bad.json: ')).toBe(true);
    expect(err!.slice('bad.json: '.length).split('; ').sort()).toEqual([
      'liveUpdate must be one of bug-on-live, invalidate-first, in-place, hitless, hitless-safe, always-break, torn, nosync, not "sometimes"',
      'prefetch must be one of true, false, not 1',
      "unknown choice 'flavour' (known: builder, layout, unionLayout, s1Bypass, abort, liveUpdate, tlbiAsid, nested, usedBits, prefetch, zeroS2WithoutS2, detachResetsAbort, disableBypass)",
    ]);
    expect(variantByName('bad')).toBeUndefined();
  });

  it('missing choices without extends, and the reserved name', async () => {
    const f = write('short.json', { name: 'short', description: 'd', builder: 'legacy' });
    await expect(loadVariantFile(f, dir)).rejects.toThrow("short.json: liveUpdate is required (or 'extends' a named variant)");
    const h = write('hw.json', { name: 'hw', description: 'd', extends: 'torn' });
    await expect(loadVariantFile(h, dir)).rejects.toThrow("hw.json: 'hw' is reserved for traces without op rows");
  });

  it('a bundled name is refused, whether given or inherited through extends', async () => {
    const f = write('dup.json', { name: 'linux-5.0', description: 'd', builder: 'legacy', liveUpdate: 'in-place' });
    await expect(loadVariantFile(f, dir)).rejects.toThrow("dup.json: 'linux-5.0' is a bundled variant; choose another name");
    const g = write('noname.json', { description: 'torn again', extends: 'torn' });
    await expect(loadVariantFile(g, dir)).rejects.toThrow("noname.json: 'torn' is a bundled variant; choose another name");
    expect(v('linux-5.0').liveUpdate).toBe('bug-on-live'); // the bundled variant is unchanged
  });

  it('a user variant cannot be loaded twice', async () => {
    const f = write('twice.json', { name: 'twice', description: 'd', builder: 'modern', liveUpdate: 'torn' });
    await loadVariantFile(f, dir);
    await expect(loadVariantFile(f, dir)).rejects.toThrow("twice.json: a variant named 'twice' is already loaded");
  });

  it('unknown extends, a missing file, broken JSON', async () => {
    const f = write('ext.json', { name: 'e', description: 'd', extends: 'linux-4.0' });
    await expect(loadVariantFile(f, dir)).rejects.toThrow("ext.json: extends unknown variant 'linux-4.0'");
    await expect(loadVariantFile('nowhere.json', dir)).rejects.toThrow('nowhere.json: no such file');
    const b = write('broken.json', '{"name": "b",');
    await expect(loadVariantFile(b, dir)).rejects.toThrow(/^broken\.json: not valid JSON \(/);
  });

  it('an ES module whose default export is a variant with hooks; the hook shapes the STEs the driver writes', async () => {
    // The hook turns the identity-domain STE of StreamID 1 into an abort STE (V=1, Config=0), and records its calls.
    write('hooked.mjs', `
export default {
  name: 'hooked',
  description: 'linux-current with bypass by default and StreamID 1 forced to abort',
  extends: 'linux-current',
  disableBypass: false,
  hooks: {
    adjustSte(ste, info) {
      (globalThis.__hookedCalls ??= []).push(info);
      return info.sid === 1 && info.domainType === 'identity' ? [1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] : [...ste];
    },
  },
};
`);
    const x = await loadVariantFile('hooked.mjs', dir);
    expect(x).toMatchObject({ name: 'hooked', builder: 'modern', liveUpdate: 'hitless-safe', nested: 'vste', disableBypass: false });
    expect(typeof x.hooks?.adjustSte).toBe('function');
    expect(x).not.toHaveProperty('extends');

    const out: { dma: DmaStreamRow[]; faults: FaultRow[] } = { dma: [], faults: [] };
    const spec = names(chooseVariants(['hooked'], true));
    expect(spec).toEqual(['hooked']);
    const r = new Replay({ file: 'h.csv', variant: 'hooked', profile: DEFAULT_PROFILE, caching: 'max', driver: runSpec(x).makeDriver!('h.csv') }, {
      ste() {}, fault: (f) => out.faults.push(f), dma: (d) => out.dma.push(d),
    });
    const rows = await parseTraceText(`op,probe
op,domain_alloc,id=id,type=identity
op,attach,sid=1,domain=id
op,attach,sid=2,domain=id
dma,1,0x1000,r
dma,2,0x1000,r
dma,3,0x1000,r
`, 'h.csv');
    for (const row of rows) r.apply(row);
    r.finish();
    // SID 1: the hook's abort STE; SID 2: the identity domain's bypass; SID 3 (unattached): disable_bypass=0 -> bypass
    expect(out.dma.map((d) => [d.sid, d.outcome])).toEqual([[1, 'abort'], [2, 'bypass'], [3, 'bypass']]);
    const calls = (globalThis as { __hookedCalls?: { sid: number; domainType: string | undefined }[] }).__hookedCalls;
    expect(calls).toEqual([{ sid: 1, domainType: 'identity' }, { sid: 2, domainType: 'identity' }]);
  });

  it('a module without a default export is refused', async () => {
    write('nodefault.mjs', 'export const name = "x";\n');
    await expect(loadVariantFile('nodefault.mjs', dir)).rejects.toThrow('nodefault.mjs: the module has no default export of a variant');
  });
});
