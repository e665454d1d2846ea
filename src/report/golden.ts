/**
 * Golden files: `golden/<trace-stem>/<variant>.<stream>.csv`, compared with a
 * unified diff and updated atomically (temporary file in the same directory,
 * then rename), so an interrupted or failing update never leaves a partial
 * golden file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import type { StreamName } from '../replay/streams.js';

/** Stem of a trace path: the file name without .csv / .csv.gz. */
export function traceStem(path: string): string {
  return basename(path).replace(/\.csv(\.gz)?$/i, '');
}

export function goldenPath(goldenDir: string, stem: string, variant: string, stream: StreamName): string {
  return join(goldenDir, stem, `${variant}.${stream}.csv`);
}

export function readGolden(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A unified diff (git-apply-able headers) between golden text and actual text; '' when equal. */
export function unifiedDiff(path: string, golden: string, actual: string): string {
  if (golden === actual) return '';
  return createTwoFilesPatch(`a/${path}`, `b/${path}`, golden, actual, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY });
}

export interface PlannedWrite {
  readonly path: string;
  /** Text, or bytes (a compressed trace). */
  readonly text: string | Uint8Array;
}

function sameContent(path: string, data: string | Uint8Array): boolean {
  if (typeof data === 'string') return readGolden(path) === data;
  try {
    return Buffer.from(data).equals(readFileSync(path));
  } catch {
    return false;
  }
}

/**
 * Write files atomically: every file is first written in full to a temporary
 * name next to its target; only when all are written are they renamed into
 * place, one rename each (atomic on POSIX file systems).  Returns the paths
 * whose content changed.  `afterEach` is a test hook called after each rename.
 */
export function writeAtomically(files: readonly PlannedWrite[], afterEach?: (path: string) => void): string[] {
  const changed: string[] = [];
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const f of files) {
      if (sameContent(f.path, f.text)) continue;
      mkdirSync(dirname(f.path), { recursive: true });
      const tmp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.tmp`);
      writeFileSync(tmp, f.text);
      staged.push({ tmp, path: f.path });
    }
  } catch (e) {
    for (const s of staged) rmSync(s.tmp, { force: true });
    throw e;
  }
  try {
    for (const s of staged) {
      renameSync(s.tmp, s.path);
      changed.push(s.path);
      afterEach?.(s.path);
    }
  } finally {
    // Interrupted between renames: every file is either old or new; drop the staged copies not used.
    for (const s of staged) if (!changed.includes(s.path)) rmSync(s.tmp, { force: true });
  }
  return changed;
}
