/**
 * `check --update` interrupted: a real child process (the CLI compiled from
 * the sources) gets a signal while it renames golden files into place.
 * Every golden file must then be exactly its old or its new text, never
 * partial, and every file it printed as updated must be new.  SIGKILL stops
 * it at once: the files it printed are new (and at most one more, renamed in
 * the instant before the signal), the others old.  SIGINT (Ctrl-C) is handled
 * between steps: the renames under way finish first (and the command may be
 * done by then).  A second --update
 * finishes the job and leaves no temporary files behind.  A Ctrl-C during the
 * replay writes nothing and removes the spooled streams.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { dmaTrace } from '../../bench/traces.js';
import { ROOT } from '../helpers/cli.js';
import { removeCompiled, runCompiled, startCompiled } from '../helpers/compiled.js';
import { tempDirs } from '../helpers/tmp.js';

afterAll(removeCompiled);

const tmp = tempDirs('smmu-kill-');

// Traces with several variants each, so that there are many golden files to write.
const TRACES = ['kunit-ste', 'nested-bypass', 'union-aliasing', 's1-translate'];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** A project copy whose golden files are all out of date: each has one extra line. */
function staleProject(): { dir: string; old: Map<string, string>; fresh: Map<string, string> } {
  const dir = tmp();
  const old = new Map<string, string>();
  const fresh = new Map<string, string>();
  for (const t of TRACES) {
    cpSync(join(ROOT, 'traces', `${t}.csv`), join(dir, 'traces', `${t}.csv`));
    cpSync(join(ROOT, 'golden', t), join(dir, 'golden', t), { recursive: true });
  }
  for (const f of files(join(dir, 'golden'))) {
    const p = join(dir, 'golden', f);
    const text = readFileSync(p, 'utf8');
    fresh.set(f, text);
    old.set(f, `${text}999,stale,row\n`);
    writeFileSync(p, old.get(f)!);
  }
  return { dir, old, fresh };
}

async function interrupt(signal: NodeJS.Signals): Promise<void> {
  const { dir, old, fresh } = staleProject();
  expect(old.size).toBeGreaterThan(40);
  const child = startCompiled(['check', '--update'], dir, { SMMU_REPLAY_UPDATE_PAUSE_MS: '40' });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
  await new Promise<void>((resolve) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      // Three files renamed and printed: interrupt while it sleeps after the third.
      if ((out.match(/^updated /gm) ?? []).length >= 3) {
        child.kill(signal);
        resolve();
      }
    });
  });
  const how = await exited;
  // SIGINT is handled between steps: arriving during the renames, it may find the command already done.
  if (signal === 'SIGKILL' || how.signal !== null) expect(how.signal).toBe(signal);
  else expect(how.code).toBe(0);
  const printed = new Set((out.match(/^updated (.*)$/gm) ?? []).map((l) => relative('golden', l.slice('updated '.length))));
  expect(printed.size).toBeGreaterThanOrEqual(3);
  // SIGKILL stops it in the middle; SIGINT lets the renames under way finish.
  if (signal === 'SIGKILL') expect(printed.size).toBeLessThan(old.size);
  else expect(printed.size).toBe(old.size);
  const now = new Map(files(join(dir, 'golden')).filter((f) => !f.endsWith('.tmp')).map((f) => [f, readFileSync(join(dir, 'golden', f), 'utf8')]));
  expect([...now.keys()].sort()).toEqual([...old.keys()].sort());
  const isNew: string[] = [];
  for (const [f, text] of now) {
    // Never partial: exactly the old text or exactly the new one.
    expect({ f, whole: text === old.get(f) || text === fresh.get(f) }).toEqual({ f, whole: true });
    if (text === fresh.get(f)) isNew.push(f);
  }
  for (const f of printed) expect(isNew).toContain(f);
  // At most one file was renamed after the last line printed (the signal came between the two).
  expect(isNew.length - printed.size).toBeLessThanOrEqual(1);

  // Running the update again finishes it: the rest is written, temporary files are gone, check is clean.
  const again = runCompiled(['check', '--update'], dir);
  expect(again.status).toBe(0);
  expect(again.stdout).toMatch(new RegExp(`^${old.size - isNew.length} golden files changed, ${isNew.length} unchanged\\n$`, 'm'));
  expect(files(join(dir, 'golden')).filter((f) => f.includes('.tmp'))).toEqual([]);
  for (const [f, text] of fresh) expect(readFileSync(join(dir, 'golden', f), 'utf8')).toBe(text);
  const check = runCompiled(['check'], dir);
  expect(check.stdout).toMatch(/, 0 differences\n$/);
}

describe('check --update interrupted by a signal', () => {
  it('SIGKILL in the middle: each golden file old or new, what was printed is what was written', () => interrupt('SIGKILL'), 120_000);
  it('SIGINT (Ctrl-C) in the middle: the renames under way finish, each file is new', () => interrupt('SIGINT'), 120_000);
  it('SIGINT during the replay: nothing written, the spooled streams removed', async () => {
    const dir = tmp();
    const spoolParent = tmp();
    dmaTrace(join(dir, 'big.csv'), 400_000);
    const child = startCompiled(['replay', 'big.csv', '--variant', 'linux-current', '--out', 'out'], dir, { TMPDIR: spoolParent });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    // Interrupt once the spool directory exists (the replay is under way).
    for (let i = 0; i < 600 && readdirSync(spoolParent).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(spoolParent).length).toBe(1);
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    expect(readdirSync(spoolParent)).toEqual([]);
    expect(readdirSync(dir)).toEqual(['big.csv']);
  }, 120_000);
});
