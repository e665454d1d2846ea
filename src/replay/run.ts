/**
 * Replaying a trace file: one parse of the file feeds one Replay per variant.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { CachingPolicy } from '../model/caches.js';
import { DEFAULT_PROFILE, PROFILES, profileByName, type Profile } from '../model/profiles.js';
import { TraceError } from '../trace/format.js';
import { readTraceBatchesAuto, type ParseThread } from '../trace/parallel.js';
import { MAX_LINE_CHARS } from '../trace/records.js';
import { Replay, type Driver, type ReplayOptions, type ReplaySummary } from './engine.js';
import type { StreamSink } from './streams.js';

/** A variant as the runner needs it: a name and, for driver-level traces, a fresh driver per replay. */
export interface VariantRunSpec {
  readonly name: string;
  readonly makeDriver?: ((file: string) => Driver) | undefined;
}

export interface RunOptions {
  readonly profile: Profile;
  readonly caching: CachingPolicy;
  readonly variants: readonly VariantRunSpec[];
  readonly displayName?: string;
  readonly memoryCapPages?: number;
  /** Called every this many rows with the row count (progress output). */
  readonly onProgress?: (rows: number) => void;
  /** Explains failed `expect` checks (see ReplayOptions.explain). */
  readonly explain?: ReplayOptions['explain'];
  /** Parse on a worker thread while this one replays: 'auto' (the default) for large files; same rows either way. */
  readonly parseThread?: ParseThread;
}

export interface RunResult {
  readonly variant: string;
  readonly summary: ReplaySummary;
}

/** Replay one trace file under several variants at once; sinks are made per variant. */
export async function runTrace(path: string, o: RunOptions, sinkFor: (variant: string) => StreamSink): Promise<RunResult[]> {
  const name = o.displayName ?? path;
  const replays = o.variants.map((v) => new Replay({
    file: name, variant: v.name, profile: o.profile, caching: o.caching,
    driver: v.makeDriver?.(name), explain: o.explain, ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
  }, sinkFor(v.name)));
  let n = 0;
  let nextProgress = 65536;
  for await (const batch of readTraceBatchesAuto(path, { displayName: name }, o.parseThread ?? 'auto')) {
    // Row by row, every variant: the first error in file order is the one reported.
    for (const row of batch) for (const r of replays) r.apply(row);
    n += batch.length;
    if (o.onProgress && n >= nextProgress) {
      o.onProgress(n);
      nextProgress = n + 65536;
    }
  }
  return replays.map((r, i) => ({ variant: o.variants[i]!.name, summary: r.finish() }));
}

/** What a trace declares that decides how it is replayed, found by a quick scan before the replay. */
export interface TraceDeclarations {
  /** It has driver-operation (`op`) rows. */
  readonly hasOps: boolean;
  /** The profile its `meta,profile,<name>` row names (the first one), with the row's line. */
  readonly profile: { readonly name: string; readonly line: number } | undefined;
}

/** A row of kind `op` at the start of a line (cells may be spaced or quoted, the kind in any case). */
const OP_ROW = /(?:^|\n)[^\S\n]*"?op"?[^\S\n]*,/i;
/** A `meta,profile,<name>` row at the start of a line; group 1 is the name.  PROFILE_WORD first: 5 times quicker where it fails. */
const PROFILE_WORD = /profile/i;
const PROFILE_ROW = /(?:^|\n)[^\S\n]*"?meta"?[^\S\n]*,[^\S\n]*"?profile"?[^\S\n]*,[^\S\n]*"?([^",\s]*)/i;

/**
 * Scan a trace for its declarations (unreadable files declare nothing: the
 * real parse reports the error).  The text is searched in blocks of whole
 * lines, without splitting it into lines, and the scan stops once both
 * declarations are found; lines are counted only to give the profile row's
 * line, in a second pass over the text before it.  So the scan costs a small
 * fraction of the parse even on a trace of millions of rows (0.4-0.7 s and
 * about 20 MiB for 10 million rows).
 */
export async function scanTrace(path: string): Promise<TraceDeclarations> {
  let hasOps = false;
  let found: { name: string; offset: number } | undefined;
  /** Search whole lines of text that start at character `at` of the file's text. */
  const search = (text: string, at: number): void => {
    if (!hasOps) hasOps = OP_ROW.test(text);
    if (!found) {
      const m = PROFILE_WORD.test(text) ? PROFILE_ROW.exec(text) : null;
      if (m) found = { name: m[1]!, offset: at + m.index + (m[0].startsWith('\n') ? 1 : 0) };
    }
  };
  // The start of a line the last block cut (at most LINE_HEAD characters), and where it is.
  let carry = '';
  let carryAt = 0;
  // Inside a line longer than LINE_HEAD whose start was searched: skip to its end.
  let skipping = false;
  let lineAt = 0; // where the line being skipped starts
  let read = 0;
  try {
    for await (const block of traceText(path)) {
      let text = block;
      let at = read;
      read += block.length;
      if (skipping) {
        const lf = text.indexOf('\n');
        // A line the parser refuses for its length ends the scan (a decompression bomb is not read to its end).
        if (lf < 0 && read - lineAt > MAX_LINE_CHARS) break;
        if (lf < 0) continue;
        text = text.slice(lf + 1);
        at += lf + 1;
        skipping = false;
      }
      const all = carry + text;
      const allAt = carry ? carryAt : at;
      const cut = all.lastIndexOf('\n') + 1;
      search(all.slice(0, cut), allAt);
      const rest = all.slice(cut);
      if (rest.length > LINE_HEAD) {
        // A declaration is at the start of its line: the start is enough, and a line without an
        // end (binary junk, a file of one line) then costs no more than reading it.
        search(rest.slice(0, LINE_HEAD), allAt + cut);
        carry = '';
        skipping = true;
        lineAt = allAt + cut;
      } else {
        carry = rest;
        carryAt = allAt + cut;
      }
      if (hasOps && found) break;
    }
    if (!(hasOps && found) && carry) search(carry, carryAt);
    if (!found) return { hasOps, profile: undefined };
    return { hasOps, profile: { name: found.name, line: 1 + await lfsBefore(path, found.offset) } };
  } catch {
    // unreadable: the real parse reports the error with its location
    return { hasOps: false, profile: undefined };
  }
}

/** How much of a line the scan keeps while it waits for the line's end. */
const LINE_HEAD = 4096;

/**
 * The text of a trace file (gunzipped for .gz) in blocks of 64 KiB: small
 * enough for V8 to keep the strings in its young generation, where they are
 * freed at once (blocks of 1 MiB go to the large-object space and raised the
 * peak memory of a 10-million-row replay by about 35 MiB).
 */
async function* traceText(path: string): AsyncGenerator<string> {
  const source = createReadStream(path, { highWaterMark: 64 << 10 });
  const input = path.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of input) yield decoder.write(chunk as Buffer);
    yield decoder.end();
  } finally {
    source.destroy();
  }
}

/** LFs among the first `offset` characters of a trace's text. */
async function lfsBefore(path: string, offset: number): Promise<number> {
  let n = 0;
  let left = offset;
  for await (const text of traceText(path)) {
    const end = Math.min(left, text.length);
    for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
    left -= end;
    if (left === 0) break;
  }
  return n;
}

/**
 * The profile a trace is replayed with: the one the command line asked for,
 * else the one the trace declares (`meta,profile,<name>`: an imported capture
 * names the implementation it was recorded on), else `default`.
 */
export function profileFor(decl: TraceDeclarations, display: string, asked: Profile | undefined): Profile {
  if (asked) return asked;
  if (!decl.profile) return DEFAULT_PROFILE;
  const p = profileByName(decl.profile.name);
  if (!p) throw new TraceError(display, decl.profile.line, `meta,profile: unknown profile '${decl.profile.name}' (known: ${[...PROFILES.keys()].join(', ')})`);
  return p;
}
