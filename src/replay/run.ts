/**
 * Replaying a trace file: one parse of the file feeds one Replay per variant.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { CachingPolicy } from '../model/caches.js';
import { DEFAULT_PROFILE, PROFILES, profileByName, type Profile } from '../model/profiles.js';
import { TraceError } from '../trace/format.js';
import { readTraceBatchesAuto, type ParseThread } from '../trace/parallel.js';
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

/** Scan a trace for its declarations (unreadable files declare nothing: the real parse reports the error). */
export async function scanTrace(path: string): Promise<TraceDeclarations> {
  const source = createReadStream(path);
  const input = path.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  const lines = createInterface({ input, crlfDelay: Infinity });
  let hasOps = false;
  let profile: TraceDeclarations['profile'];
  let n = 0;
  try {
    for await (const l of lines) {
      n++;
      if (!hasOps && /^\s*"?op"?\s*,/i.test(l)) hasOps = true;
      const m = profile ? null : /^\s*"?meta"?\s*,\s*"?profile"?\s*,\s*"?([^",\s]*)/i.exec(l);
      if (m) profile = { name: m[1]!, line: n };
    }
  } catch {
    // unreadable: the real parse reports the error with its location
  } finally {
    lines.close();
    source.destroy();
  }
  return { hasOps, profile };
}

/** Whether a trace has driver-operation rows (a quick scan, before choosing variants). */
export async function traceHasOps(path: string): Promise<boolean> {
  return (await scanTrace(path)).hasOps;
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
