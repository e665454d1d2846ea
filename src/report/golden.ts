/**
 * Golden files: `golden/<trace-stem>/<variant>.<stream>.csv`, compared with a
 * unified diff and updated atomically (temporary file in the same directory,
 * then rename), so an interrupted or failing update never leaves a partial
 * golden file.
 */
import {
  closeSync, constants, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { StreamName } from '../replay/streams.js';
import { sameBytes } from './spool.js';
import { diffStream, type StreamDiff } from './streamDiff.js';

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

/** A file to write: its text (or bytes: a compressed trace), or a (spool) file to copy. */
export type PlannedWrite =
  | { readonly path: string; readonly text: string | Uint8Array }
  | { readonly path: string; readonly from: string };

function unchanged(f: PlannedWrite): boolean {
  if ('text' in f && typeof f.text === 'string') return readGolden(f.path) === f.text;
  try {
    if ('text' in f) return Buffer.from(f.text).equals(readFileSync(f.path));
    return statSync(f.path).size === statSync(f.from).size && sameBytes(f.path, f.from);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
}

/** Temporary files a killed update left next to this target (`.<name>.<pid>.tmp`). */
function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix) && n.endsWith('.tmp')) rmSync(join(dir, n), { force: true });
}

/**
 * Test hook: milliseconds to wait after each rename, so that a test can kill
 * the process in the middle of an update (SMMU_REPLAY_UPDATE_PAUSE_MS).
 */
function pauseAfterRename(): void {
  const ms = Number(process.env.SMMU_REPLAY_UPDATE_PAUSE_MS ?? 0);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** An error in the middle of writeAtomically, with the files it had already renamed into place. */
export class PartialWriteError extends Error {
  constructor(override readonly cause: unknown, readonly written: readonly string[], readonly planned: number) {
    super((cause as Error)?.message ?? String(cause));
    this.name = 'PartialWriteError';
  }
}

/**
 * Write files atomically: every file is first written in full (or copied, or
 * moved when it is a spool file nothing else uses) to a temporary name next
 * to its target; only when all are written are they renamed into
 * place, one rename each (atomic on POSIX file systems).  So an error, a
 * Ctrl-C or a kill at any moment leaves every target either old or new, never
 * partial; `afterEach` is called after each rename (the commands print the
 * path then, so what was printed is what was written).  A kill can leave
 * temporary files behind; the next write of the same targets removes them.
 * Returns the paths whose content changed; an error after some renames is a
 * PartialWriteError naming them.
 */
export function writeAtomically(files: readonly PlannedWrite[], afterEach?: (path: string) => void): string[] {
  const changed: string[] = [];
  const staged: { tmp: string; path: string }[] = [];
  // A source file used by one planned write only (and last) is moved rather than copied when it can be.
  const lastUse = new Map<string, PlannedWrite>();
  for (const f of files) if ('from' in f) lastUse.set(f.from, f);
  try {
    for (const f of files) {
      removeStaleTemps(f.path);
      if (unchanged(f)) continue;
      mkdirSync(dirname(f.path), { recursive: true });
      const tmp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.tmp`);
      staged.push({ tmp, path: f.path });
      if ('text' in f) writeFileSync(tmp, f.text);
      // A copy is a copy-on-write clone where the file system has them (btrfs, XFS), else a plain copy.
      else if (lastUse.get(f.from) !== f || !moved(f.from, tmp)) copyFileSync(f.from, tmp, constants.COPYFILE_FICLONE);
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
      pauseAfterRename();
    }
  } catch (e) {
    throw changed.length > 0 ? new PartialWriteError(e, changed, staged.length) : e;
  } finally {
    // Interrupted between renames: every file is either old or new; drop the staged copies not used.
    for (const s of staged) if (!changed.includes(s.path)) rmSync(s.tmp, { force: true });
  }
  return changed;
}

/** Move a file if it is on the same file system (a rename), else leave it to be copied. */
function moved(from: string, to: string): boolean {
  try {
    renameSync(from, to);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'EXDEV') return false;
    throw e;
  }
}

/** Files larger than this are not diffed whole: the diff shows a window around the first difference. */
const WHOLE_DIFF_MAX = 8 << 20;
/** Bytes of each file around the first difference when the files are too large to diff whole. */
const WINDOW = 16 << 10;

/**
 * The diff between a golden file and a produced one (streamDiff.ts: field
 * lines under STE hunks), in bounded memory: whole when both are small, else
 * a window of each file starting a few lines before the first differing byte
 * (hunk headers renumbered to the files' lines, and a note saying so).
 * undefined when the files are equal.
 */
export function diffFiles(rel: string, goldenFile: string, actualFile: string): StreamDiff | undefined {
  return diffFileSides({ label: 'golden', file: `a/${rel}`, path: goldenFile }, { label: 'actual', file: `b/${rel}`, path: actualFile });
}

/** One side of a diff of files: its name in the field lines, its name in the header, and where it is. */
export interface FileSide {
  readonly label: string;
  readonly file: string;
  readonly path: string;
}

/** diffFiles with the sides named by the caller (compare: two variants' spooled streams). */
export function diffFileSides(sa: FileSide, sb: FileSide, semantic = false): StreamDiff | undefined {
  const goldenFile = sa.path;
  const actualFile = sb.path;
  if (sameBytes(goldenFile, actualFile)) return undefined;
  const ga = statSync(goldenFile).size;
  const aa = statSync(actualFile).size;
  if (ga <= WHOLE_DIFF_MAX && aa <= WHOLE_DIFF_MAX) {
    return diffStream({ label: sa.label, file: sa.file, text: readFileSync(goldenFile, 'utf8') }, { label: sb.label, file: sb.file, text: readFileSync(actualFile, 'utf8') }, semantic);
  }
  const at = firstDifference(goldenFile, actualFile);
  const g = windowAt(goldenFile, at);
  const a = windowAt(actualFile, at);
  const d = diffStream({ label: sa.label, file: sa.file, text: g.text }, { label: sb.label, file: sb.file, text: a.text }, semantic);
  if (!d) return undefined;
  // Renumber the hunk headers from window lines to file lines.
  const renumber = (h: string) => h.replace(/^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@/, (_m, x: string, xs: string | undefined, y: string, ys: string | undefined) =>
    `@@ -${Number(x) + g.firstLine - 1}${xs ?? ''} +${Number(y) + a.firstLine - 1}${ys ?? ''} @@`);
  return {
    ...d, hunks: d.hunks.map((h) => ({ ...h, header: renumber(h.header) })), countsOfWindow: true,
    note: `(the files are too large to diff whole: this is the first difference, at byte ${at}; the rest is not shown)${d.note ? `\n${d.note}` : ''}`,
  };
}

function firstDifference(a: string, b: string): number {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const ba = Buffer.allocUnsafe(1 << 20);
    const bb = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const na = readSync(fa, ba, 0, ba.length, pos);
      const nb = readSync(fb, bb, 0, bb.length, pos);
      const n = Math.min(na, nb);
      for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return pos + i;
      if (na !== nb || n === 0) return pos + n;
      pos += n;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** LFs in the first `limit` bytes of an open file. */
function countLf(fd: number, limit: number): number {
  const buf = Buffer.allocUnsafe(1 << 20);
  let n = 0;
  for (let pos = 0; pos < limit;) {
    const k = readSync(fd, buf, 0, Math.min(buf.length, limit - pos), pos);
    if (k === 0) break;
    for (let i = 0; i < k; i++) if (buf[i] === 0x0a) n++;
    pos += k;
  }
  return n;
}

/** Whole lines of a file around a byte offset, and the number of the first of them. */
function windowAt(path: string, at: number): { text: string; firstLine: number } {
  const fd = openSync(path, 'r');
  try {
    const start = Math.max(0, at - WINDOW);
    const buf = Buffer.allocUnsafe(2 * WINDOW);
    const n = readSync(fd, buf, 0, buf.length, start);
    let text = buf.subarray(0, n).toString('utf8');
    let skipped = 0;
    if (start > 0) {
      const cut = text.indexOf('\n') + 1;
      skipped = cut;
      text = text.slice(cut);
    }
    const last = text.lastIndexOf('\n');
    if (start + n < statSync(path).size && last >= 0) text = text.slice(0, last + 1);
    // The line number of the window's first line: LFs before it.
    return { text, firstLine: 1 + countLf(fd, start + skipped) };
  } finally {
    closeSync(fd);
  }
}
