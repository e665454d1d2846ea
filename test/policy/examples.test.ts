/**
 * The user-variant examples of docs/variants.md do what the page says.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';

const kunitLines = readFileSync(join(ROOT, 'traces', 'kunit-ste.csv'), 'utf8').split('\n');
/** The line of the (single) target write of a KUnit case: the second write_ste on StreamID 0x200 + n. */
function target(n: number): number {
  const sid = `op,write_ste,sid=0x${(0x200 + n).toString(16)},`;
  const rows = kunitLines.flatMap((l, i) => (l.startsWith(sid) ? [i + 1] : []));
  expect(rows).toHaveLength(2);
  return rows[1]!;
}

describe('docs/examples/hitless-nosafe.json: the regression the 2026 update-safe bits fixed', () => {
  it('KUnit cases 21 and 22 break through V=0; nothing else changes', async () => {
    const r = await runCli(['compare', 'traces/kunit-ste.csv', 'linux-current', 'hitless-nosafe', '--variant-file', 'docs/examples/hitless-nosafe.json'], ROOT);
    expect(r.code).toBe(1);
    const added = r.out.split('\n').filter((l) => /^\+\d+,hazard,/.test(l));
    expect(added.map((l) => Number(l.slice(1, l.indexOf(','))))).toEqual([target(21), target(22)]);
    for (const l of added) expect(l).toContain('V=0, a transaction gets C_BAD_STE');
    expect(r.out).toMatch(new RegExp(`^ste: differ \\(.*; first at trace line ${target(21)}\\)$`, 'm'));
    expect(r.out).toContain('dma: identical');
  });
});

describe('docs/examples/drop-mev.mjs: a hook', () => {
  it('nested STEs lose MEV, an effective difference; faults and DMA are unchanged', async () => {
    const r = await runCli(['compare', 'traces/nested-bypass.csv', 'linux-current', 'drop-mev', '--variant-file', 'docs/examples/drop-mev.mjs', '--semantic'], ROOT);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    const minus = lines.filter((l) => /^-\d+,0x10,(cfgi|fetch),/.test(l));
    const plus = lines.filter((l) => /^\+\d+,0x10,(cfgi|fetch),/.test(l));
    expect(minus.filter((l) => l.includes(' MEV=1 ')).length).toBeGreaterThan(0);
    expect(plus.length).toBeGreaterThan(0);
    expect(plus.every((l) => !l.includes('MEV'))).toBe(true);
    // Every B row is an A row without MEV.  (A has one more: leaving nested, linux-current clears
    // the update-safe MEV first, so the SMMU briefly sees nested without MEV; B never had it.)
    const aWithoutMev = new Set(minus.map((l) => l.slice(1).replace(' MEV=1', '')));
    for (const l of plus) expect(aWithoutMev.has(l.slice(1))).toBe(true);
    expect(r.out).toContain('faults: identical');
    expect(r.out).toContain('dma: identical');
  });
});
