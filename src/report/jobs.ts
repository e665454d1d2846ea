/**
 * Replaying trace files, one at a time in this thread or several at once in
 * worker threads (`--jobs N`).  Each trace is replayed whole by one thread
 * (one parse feeding all its variants); the results are merged in the order
 * the traces were given, so the output does not depend on which thread
 * finished first, and when traces fail, the error reported is that of the
 * first failing trace in that order, as without --jobs.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { CachingPolicy } from '../model/caches.js';
import { profileByName, type Profile } from '../model/profiles.js';
import { explainCheck } from '../oracle/deviations.js';
import { chooseVariants } from '../policy/registry.js';
import type { ReplaySummary } from '../replay/engine.js';
import { profileFor, runTrace, scanTrace, type TraceDeclarations, type VariantRunSpec } from '../replay/run.js';
import type { StreamName, StreamSink } from '../replay/streams.js';
import { TraceError } from '../trace/format.js';
import type { ParseThread } from '../trace/parallel.js';
import { SharedDma, SpoolDir, SpoolFiles, type SpoolStreams, type StreamTexts } from './spool.js';

/** Variants a caller chose for a trace, with the declarations it scanned to choose them (not scanned again). */
export interface ChosenVariants {
  readonly specs: readonly VariantRunSpec[];
  readonly decl: TraceDeclarations;
}

/** What a replay of one trace needs besides the trace. */
export interface TraceJobOptions {
  readonly variants: readonly string[] | undefined;
  /** undefined: the trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
  readonly onProgress?: (rows: number) => void;
  /** Parse on a thread of its own ('auto': large files); a --jobs worker is already one thread of several. */
  readonly parseThread?: ParseThread;
}

export interface TraceResult<S extends StreamTexts> {
  readonly variant: string;
  readonly summary: ReplaySummary;
  readonly streams: S;
}

/**
 * Replay one trace file under its variants (`o.variants` chosen by the
 * registry for the trace, or `chosen` by a caller that scanned the trace
 * already).  `sinkFor` makes the
 * sink of each variant and `done` turns it into what the caller keeps once
 * the trace has finished.  Throws TraceError (bad input) or Error (missing
 * file ...).
 */
export async function replayTraceFile<K extends StreamSink, S extends StreamTexts>(
  abs: string, display: string, o: TraceJobOptions, sinkFor: () => K, done: (k: K) => S, drop: (k: K) => void,
  chosen?: ChosenVariants,
): Promise<TraceResult<S>[]> {
  try {
    if (statSync(abs).isDirectory()) throw new Error(`${display}: is a directory, not a trace`);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new Error(`${display}: no such file`);
    throw e;
  }
  const decl = chosen?.decl ?? await scanTrace(abs);
  const variants = chosen?.specs ?? chooseVariants(o.variants, decl.hasOps);
  if (typeof variants === 'string') throw new Error(`${display}: ${variants}`);
  const sinks = new Map<string, K>();
  try {
    const results = await runTrace(abs, {
      profile: profileFor(decl, display, o.profile), caching: o.caching, variants, displayName: display, explain: explainCheck,
      ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.parseThread ? { parseThread: o.parseThread } : {}),
    }, (v) => {
      const s = sinkFor();
      sinks.set(v, s);
      return s;
    });
    return results.map((r) => ({ variant: r.variant, summary: r.summary, streams: done(sinks.get(r.variant)!) }));
  } catch (e) {
    for (const s of sinks.values()) drop(s);
    throw e;
  }
}

/** A trace to replay: its absolute path and the name shown for it. */
export interface TraceJob {
  readonly abs: string;
  readonly display: string;
}

/** Messages between the main thread and a job worker (src/report/jobWorker.ts). */
export interface JobRequest {
  readonly index: number;
  readonly abs: string;
  readonly display: string;
}

export interface JobSetup {
  readonly spoolDir: string;
  readonly variants: readonly string[] | undefined;
  readonly variantFiles: readonly string[];
  readonly cwd: string;
  /** undefined: each trace's own `meta,profile` row, else `default`. */
  readonly profile: string | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages: number | undefined;
}

export type JobError =
  | { readonly kind: 'trace'; readonly file: string; readonly line: number; readonly problem: string; readonly column: number | undefined }
  | { readonly kind: 'error'; readonly message: string; readonly internal: boolean; readonly stack: string | undefined };

export type JobReply =
  | { readonly index: number; readonly ok: true; readonly results: { variant: string; summary: ReplaySummary; paths: Record<StreamName, string> }[] }
  | { readonly index: number; readonly ok: false; readonly error: JobError };

/** An error as it crosses from a worker to the main thread. */
export function toJobError(e: unknown): JobError {
  if (e instanceof TraceError) return { kind: 'trace', file: e.file, line: e.line, problem: e.problem, column: e.column };
  const err = e as Error;
  return {
    kind: 'error', message: String(err?.message ?? err),
    internal: err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || typeof err?.message !== 'string',
    stack: err?.stack,
  };
}

/** The error a worker reported, rebuilt in the main thread (reportError words it as without --jobs). */
export function fromJobError(e: JobError): Error {
  if (e.kind === 'trace') return new TraceError(e.file, e.line, e.problem, e.column);
  if (e.internal) {
    const err = new TypeError(e.message);
    if (e.stack) err.stack = e.stack;
    return err;
  }
  return new Error(e.message);
}

/** Profile by name for a worker (the main thread checked it); undefined: the trace's own. */
export function jobProfile(name: string | undefined): Profile | undefined {
  if (name === undefined) return undefined;
  const p = profileByName(name);
  if (!p) throw new Error(`unknown profile '${name}'`);
  return p;
}

/**
 * Replay traces in `jobs` worker threads; results in the order of `traces`.
 * The streams are spooled to files under `spool`.
 */
export async function runJobs(traces: readonly TraceJob[], jobs: number, setup: JobSetup): Promise<TraceResult<SpoolFiles>[][]> {
  const replies: (JobReply | undefined)[] = new Array(traces.length).fill(undefined);
  const workers: Worker[] = [];
  let next = 0;
  // Once a trace has failed, later traces need not run: the error of the first failing trace is reported.
  let firstFailure = traces.length;
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      let running = 0;
      const dispatch = (w: Worker): void => {
        if (next >= traces.length || next > firstFailure) {
          if (running === 0) resolveAll();
          return;
        }
        const index = next++;
        running++;
        const req: JobRequest = { index, abs: traces[index]!.abs, display: traces[index]!.display };
        w.postMessage(req);
      };
      const count = Math.max(1, Math.min(jobs, traces.length));
      for (let i = 0; i < count; i++) {
        const w = new Worker(new URL('./jobWorker.js', import.meta.url), { workerData: setup });
        workers.push(w);
        w.on('message', (m: JobReply) => {
          replies[m.index] = m;
          running--;
          if (!m.ok && m.index < firstFailure) firstFailure = m.index;
          dispatch(w);
          if (running === 0 && (next >= traces.length || next > firstFailure)) resolveAll();
        });
        w.on('error', (e) => rejectAll(e));
        w.on('exit', (code) => rejectAll(new Error(`a replay worker thread stopped (exit code ${code})`)));
        dispatch(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const out: TraceResult<SpoolFiles>[][] = [];
  for (let i = 0; i < traces.length; i++) {
    const r = replies[i];
    if (!r) break;
    if (!r.ok) throw fromJobError(r.error);
    out.push(r.results.map((x) => ({ variant: x.variant, summary: x.summary, streams: new SpoolFiles(x.paths) })));
  }
  return out;
}

/** In one thread: spool each trace's streams under `spool`. */
export async function replaySpooledFile(job: TraceJob, o: TraceJobOptions, spool: SpoolDir, tag = '', chosen?: ChosenVariants): Promise<TraceResult<SpoolFiles>[]> {
  const shared = new SharedDma();
  return replayTraceFile<SpoolStreams, SpoolFiles>(job.abs, job.display, o, () => spool.streams(tag, shared), (k) => k.close(), (k) => k.discard(), chosen);
}
