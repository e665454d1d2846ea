/**
 * The CLI compiled from the current sources into a temporary directory, for
 * tests that need a real process (killed by a signal) or worker threads
 * (`--jobs`, the parse thread), which cannot run TypeScript sources.  Built
 * with @swc/core (what Jest's transform uses), so the tests never run a stale
 * dist/.
 */
import { transformFileSync } from '@swc/core';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ROOT } from './cli.js';

let built: string | undefined;

function compileDir(src: string, out: string): void {
  for (const e of readdirSync(src, { withFileTypes: true })) {
    const from = join(src, e.name);
    if (e.isDirectory()) {
      compileDir(from, join(out, e.name));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const { code } = transformFileSync(from, {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: false,
      });
      const to = join(out, e.name.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, code);
    }
  }
}

/** Directory holding cli/ and src/ compiled to JavaScript (made once per test file). */
export function compiledRoot(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'smmu-compiled-'));
  for (const d of ['cli', 'src']) compileDir(join(ROOT, d), join(dir, d));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  mkdirSync(join(dir, 'tmp'));
  built = dir;
  return dir;
}

/** Remove the compiled tree (and what the children left in its tmp/): call from afterAll. */
export function removeCompiled(): void {
  if (built) rmSync(built, { recursive: true, force: true });
  built = undefined;
}

/** The children's temporary directory (TMPDIR), inside the compiled tree: a killed child's spool goes with it. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', CI: '1', TMPDIR: join(compiledRoot(), 'tmp'), ...env };
}

/** The compiled CLI entry point. */
export function compiledCli(): string {
  return join(compiledRoot(), 'cli', 'bin.js');
}

/** Run the compiled CLI to completion. */
export function runCompiled(argv: readonly string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [compiledCli(), ...argv], { cwd, encoding: 'utf8', env: childEnv(env), timeout: 120_000 });
}

/** Start the compiled CLI (for a test that interrupts it). */
export function startCompiled(argv: readonly string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [compiledCli(), ...argv], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A path relative to a directory, for messages. */
export function rel(from: string, to: string): string {
  return relative(from, to) || '.';
}
