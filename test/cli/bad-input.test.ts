/**
 * The bad-input corpus (test/fixtures/bad/README.md): every file gets exactly
 * the error in its `.err` file, exit status 2, no output files and nothing on
 * stdout, from `replay --out` and from `check`.
 */
import { describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const CORPUS = join(ROOT, 'test', 'fixtures', 'bad');
const cases = readdirSync(CORPUS).filter((n) => n.endsWith('.err')).map((n) => n.slice(0, -'.err'.length)).sort();

describe('bad-input corpus', () => {
  it('holds every kind of bad input issue 7 lists', () => {
    for (const n of ['unknown-kind.csv', 'unknown-register.csv', 'unknown-opcode.csv', 'unknown-key-dma.csv', 'value-above-2-64.csv', 'negative.csv',
      'non-numeric.csv', 'too-few-fields.csv', 'too-many-fields.csv', 'binary-junk.csv', 'bom-inside.csv', 'utf16.csv', 'crlf-stray-cr.csv',
      'truncated-last-line.csv', 'empty.csv', 'gzip-cut.csv.gz']) {
      expect(cases).toContain(n);
    }
    for (const n of cases) expect(existsSync(join(CORPUS, n))).toBe(true);
  });

  // A copy of the corpus per run, so that nothing can be written into the repository.
  const dir = tempDirs('smmu-bad-')();
  cpSync(CORPUS, dir, { recursive: true });

  for (const name of cases) {
    it(name, async () => {
      const want = readFileSync(join(CORPUS, `${name}.err`), 'utf8');
      expect(want).toMatch(new RegExp(`^smmu-replay: ${name.replace(/\./g, '\\.')}:\\d+(:\\d+)?: .+\\n$`));
      const out = `out-${name}`;
      const r = await runCli(['replay', name, '--out', out], dir);
      expect({ code: r.code, err: r.err, out: r.out }).toEqual({ code: 2, err: want, out: '' });
      expect(existsSync(join(dir, out))).toBe(false);
      const c = await runCli(['check', name, '--golden-dir', `golden-${name}`], dir);
      expect({ code: c.code, err: c.err, out: c.out }).toEqual({ code: 2, err: want, out: '' });
      expect(existsSync(join(dir, `golden-${name}`))).toBe(false);
    });
  }
});
