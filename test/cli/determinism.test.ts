/**
 * Same input, byte-identical output: every bundled trace replayed twice gives
 * the same hashes, and so do the other ways of running it: worker threads
 * (`--jobs`), shards (`check --shard`), and the parse thread large files are
 * read with (the CLI compiled from the sources runs those, since threads
 * cannot run TypeScript sources).
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dmaTrace } from '../../bench/traces.js';
import { bundledTraces } from '../../src/report/commands.js';
import { PARALLEL_MIN_BYTES } from '../../src/trace/parallel.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { removeCompiled, runCompiled } from '../helpers/compiled.js';
import { tempDirs } from '../helpers/tmp.js';

afterAll(removeCompiled);

const TRACES = bundledTraces(join(ROOT, 'traces')).map((t) => relative(ROOT, t));

/** sha256 of every file under a directory, by relative path. */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

const tmp = tempDirs('smmu-det-');

describe('determinism', () => {
  let first: Record<string, string>;
  it('every bundled trace, replayed twice, gives the same hashes (and the golden files\' hashes)', async () => {
    const a = tmp();
    const b = tmp();
    const ra = await runCli(['replay', ...TRACES, '--out', a, '--json'], ROOT);
    const rb = await runCli(['replay', ...TRACES, '--out', b, '--json'], ROOT);
    // (Exit 1: some bundled traces' negative-control variants fail their expectations on purpose.)
    expect(ra.code).not.toBe(2);
    expect(rb.code).toBe(ra.code);
    expect(rb.out).toBe(ra.out);
    first = hashes(a);
    expect(Object.keys(first).length).toBeGreaterThan(200);
    expect(hashes(b)).toEqual(first);
    // And they are the reviewed golden files.
    expect(hashes(join(ROOT, 'golden'))).toEqual(first);
  }, 60_000);

  it('--jobs 2 (worker threads) writes the same files and prints the same, in the same order', () => {
    const c = tmp();
    const r = runCompiled(['replay', ...TRACES, '--out', c, '--jobs', '2', '--json'], ROOT);
    const inProcess = runCompiled(['replay', ...TRACES, '--out', tmp(), '--json'], ROOT);
    expect(r.status).toBe(inProcess.status);
    expect(r.stdout).toBe(inProcess.stdout);
    expect(hashes(c)).toEqual(first);
    const one = runCompiled(['check'], ROOT);
    const two = runCompiled(['check', '--jobs', '2'], ROOT);
    expect(two.stdout).toBe(one.stdout);
    expect(two.stdout).toMatch(new RegExp(`^${TRACES.length} traces, \\d+ streams compared, 0 differences\\n$`));
  }, 120_000);

  it('check --shard i/3: disjoint shards that together check every trace', async () => {
    const seen: string[] = [];
    let streams = 0;
    for (const i of [1, 2, 3]) {
      const s = await runCli(['check', '--shard', `${i}/3`], ROOT);
      expect(s.code).toBe(0);
      const m = /^(\d+) traces?, (\d+) streams? compared, 0 differences \(shard (\d)\/3 of (\d+)\)\n$/.exec(s.out);
      expect(m).not.toBeNull();
      expect(m![3]).toBe(String(i));
      expect(Number(m![4])).toBe(TRACES.length);
      streams += Number(m![2]);
      // Shard i holds the traces at positions i-1, i+2, ... of the sorted list.
      seen.push(...TRACES.filter((_t, k) => k % 3 === i - 1));
    }
    expect(seen.sort()).toEqual([...TRACES].sort());
    const all = await runCli(['check'], ROOT);
    expect(all.out).toMatch(new RegExp(`, ${streams} streams compared, 0 differences\\n$`));
  }, 60_000);

  it('a trace read by the parse thread gives the same streams, and the same located error, as one read here', async () => {
    const d = tmp();
    const big = join(d, 'big.csv');
    dmaTrace(big, 250_000);
    expect(readFileSync(big).length).toBeGreaterThan(PARALLEL_MIN_BYTES);
    // In this process (TypeScript sources: no parse thread) and compiled (the parse thread reads it).
    const here = await runCli(['replay', 'big.csv', '--variant', 'linux-current', '--out', 'here'], d);
    const there = runCompiled(['replay', 'big.csv', '--variant', 'linux-current', '--out', 'there'], d);
    expect(here.code).toBe(0);
    expect(there.status).toBe(0);
    expect(hashes(join(d, 'there'))).toEqual(hashes(join(d, 'here')));
    // A bad cell on the last line: the same message either way, and nothing written.
    writeFileSync(big, `${readFileSync(big, 'utf8')}dma,0x10,0x1000,rw\n`);
    const lines = readFileSync(big, 'utf8').split('\n').length - 1;
    const e1 = await runCli(['replay', 'big.csv', '--variant', 'linux-current', '--out', 'e1'], d);
    const e2 = runCompiled(['replay', 'big.csv', '--variant', 'linux-current', '--out', 'e2'], d);
    expect(e1.err).toBe(`smmu-replay: big.csv:${lines}:4: access must be r, w, x or -, not 'rw'\n`);
    expect({ code: e2.status, err: e2.stderr }).toEqual({ code: 2, err: e1.err });
    expect(existsSync(join(d, 'e1')) || existsSync(join(d, 'e2'))).toBe(false);
  }, 120_000);

  it('--jobs with a bad trace among good ones: the error of the first bad trace in order, nothing written', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.csv'), 'mmio_write,CR0,0xd\n');
    writeFileSync(join(d, 'b.csv'), 'dma,1,0x1000,q\n');
    writeFileSync(join(d, 'c.csv'), 'frobnicate\n');
    const one = await runCli(['replay', 'a.csv', 'b.csv', 'c.csv', '--out', 'o1'], d);
    const two = runCompiled(['replay', 'a.csv', 'b.csv', 'c.csv', '--out', 'o2', '--jobs', '3'], d);
    expect(one.err).toBe("smmu-replay: b.csv:1:4: access must be r, w, x or -, not 'q'\n");
    expect({ code: two.status, err: two.stderr }).toEqual({ code: 2, err: one.err });
    expect(existsSync(join(d, 'o1')) || existsSync(join(d, 'o2'))).toBe(false);
  }, 60_000);
});
