/**
 * The `replay` and `check` commands: replay traces under their variants and
 * either write/print the streams or compare them with golden files.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import type { ReplaySummary } from '../replay/engine.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { TraceError } from '../trace/format.js';
import { TextStreams } from './csv.js';
import { formatResult, type CaseResult, type Finding, type OutputFormat, type RunResult } from './format.js';
import { diffFiles, goldenPath, PartialWriteError, traceStem, writeAtomically, type PlannedWrite } from './golden.js';
import {
  replaySpooledFile, replayTraceFile, runJobs, type ChosenVariants, type TraceJob, type TraceJobOptions, type TraceResult,
} from './jobs.js';
import { forEachBlock, withSpool, type SpoolDir, type SpoolFiles, type StreamTexts } from './spool.js';
import { EXIT_DIFF, EXIT_ERROR, EXIT_SAME, paint, progress, useColour, type Io } from './io.js';
import { renderDiff, rowDelta, type StreamDiff } from './streamDiff.js';

export interface ReplayRunOptions {
  readonly traces: readonly string[];
  readonly variants: readonly string[] | undefined;
  /** undefined: each trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
  /** Traces replayed at once, each in a worker thread; 1 (the default) replays them one by one in this thread. */
  readonly jobs?: number;
  /** The --variant-file files the command loaded: worker threads load them too, and reproduce commands repeat them. */
  readonly variantFiles?: readonly string[];
}

interface TraceOutput<S extends StreamTexts = StreamTexts> {
  readonly trace: string;
  readonly stem: string;
  readonly results: { variant: string; summary: ReplaySummary; streams: S }[];
}

/**
 * Replay one trace under the given variants (one parse feeds them all),
 * collecting each variant's streams as text in memory (compare, report).
 * Throws TraceError on bad input.
 */
export async function replayToText(abs: string, display: string, chosen: ChosenVariants,
  o: { profile: Profile; caching: CachingPolicy; memoryCapPages?: number; onProgress?: (rows: number) => void },
  limit?: ConstructorParameters<typeof TextStreams>[0]): Promise<TraceOutput<TextStreams>['results']> {
  return replayTraceFile(abs, display, { ...o, variants: chosen.specs.map((v) => v.name) }, () => new TextStreams(limit), (k) => k, () => undefined, chosen);
}

function traceJob(t: string, io: Io): TraceJob {
  const abs = resolve(io.cwd, t);
  return { abs, display: relative(io.cwd, abs) || t };
}

function jobOptions(o: ReplayRunOptions, display: string, prog: ((msg: string) => void) | undefined): TraceJobOptions {
  return {
    variants: o.variants, profile: o.profile, caching: o.caching,
    ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
    ...(prog ? { onProgress: (n: number) => prog(`${display}: ${n} rows`) } : {}),
  };
}

/**
 * Replay every trace with the streams spooled to files under `spool` (flat
 * memory however long the traces); with `jobs` > 1 in worker threads.
 * Results are in the given order.  Throws TraceError on bad input.
 */
export async function replaySpooled(o: ReplayRunOptions, io: Io, spool: SpoolDir, showProgress = true): Promise<TraceOutput<SpoolFiles>[]> {
  const jobs = o.traces.map((t) => traceJob(t, io));
  let results: TraceResult<SpoolFiles>[][];
  if ((o.jobs ?? 1) > 1 && jobs.length > 1) {
    results = await runJobs(jobs, o.jobs!, {
      spoolDir: spool.path, variants: o.variants, variantFiles: (o.variantFiles ?? []).map((f) => resolve(io.cwd, f)), cwd: io.cwd,
      profile: o.profile?.name, caching: o.caching, memoryCapPages: o.memoryCapPages,
    });
  } else {
    results = [];
    const prog = showProgress ? progress(io) : undefined;
    for (const job of jobs) {
      results.push(await replaySpooledFile(job, jobOptions(o, job.display, prog), spool));
      if (prog) prog('');
    }
  }
  return results.map((r, i) => ({ trace: jobs[i]!.display, stem: traceStem(o.traces[i]!), results: r }));
}

/** Report located input errors as `file:line: problem` and exit code 2. */
export function reportError(e: unknown, io: Io): number {
  if (e instanceof TraceError) {
    io.stderr(`smmu-replay: ${e.message}\n`);
    return EXIT_ERROR;
  }
  const err = e as Error;
  if (err && typeof err.message === 'string' && !(err instanceof TypeError || err instanceof ReferenceError)) {
    io.stderr(`smmu-replay: ${err.message}\n`);
    return EXIT_ERROR;
  }
  io.stderr(`smmu-replay: internal error: ${String(err?.stack ?? err)}\n`);
  return EXIT_ERROR;
}

function checksLine(s: ReplaySummary): string | undefined {
  const c = s.checks;
  if (c.matched + c.explained + c.mismatched === 0) return undefined;
  return `${c.matched} matched, ${c.explained} explained, ${c.mismatched} mismatched`;
}

export interface ReplayCommandOptions extends ReplayRunOptions {
  readonly out: string | undefined;
  readonly json: boolean;
}

export async function replayCommand(o: ReplayCommandOptions, io: Io): Promise<number> {
  return withSpool((spool) => replayCommandIn(o, io, spool));
}

async function replayCommandIn(o: ReplayCommandOptions, io: Io, spool: SpoolDir): Promise<number> {
  let outputs: TraceOutput<SpoolFiles>[];
  try {
    outputs = await replaySpooled(o, io, spool);
  } catch (e) {
    return reportError(e, io);
  }
  let mismatched = 0;
  for (const t of outputs) for (const r of t.results) mismatched += r.summary.checks.mismatched;
  if (o.out) {
    const files: PlannedWrite[] = [];
    for (const t of outputs) {
      for (const r of t.results) {
        for (const s of STREAMS) files.push({ path: join(resolve(io.cwd, o.out), t.stem, `${r.variant}.${s}.csv`), from: r.streams.path(s) });
      }
    }
    try {
      mkdirSync(resolve(io.cwd, o.out), { recursive: true });
      writeAtomically(files);
    } catch (e) {
      return reportError(e, io);
    }
  }
  if (o.json) {
    const all = outputs.flatMap((t) => t.results.map((r) => r.summary));
    io.stdout(JSON.stringify(all, null, 2) + '\n');
  } else {
    const colour = useColour(io);
    for (const t of outputs) {
      for (const r of t.results) {
        const s = r.summary;
        io.stdout(paint(colour, 'bold', `== ${t.trace} [${r.variant}] profile=${s.profile} caching=${s.caching}`) + '\n');
        for (const [k, v] of Object.entries(s.meta)) io.stdout(`   meta ${k}: ${v}\n`);
        io.stdout(`   STE stream: ${s.ste.store} store, ${s.ste.cfgi} cfgi, ${s.ste.fetch} fetch; fault stream: ${s.rows.faults} rows; DMA: ${fmtCounts(s.dma) || 'none'}\n`);
        if (Object.keys(s.faults).length) io.stdout(`   faults: ${fmtCounts(s.faults)}\n`);
        const cl = checksLine(s);
        if (cl) io.stdout(`   ${cl}\n`);
        if (!o.out) {
          for (const st of STREAMS) {
            io.stdout(`-- ${st}\n`);
            printFile(r.streams.path(st), io);
          }
        }
      }
    }
    if (o.out) io.stdout(`wrote streams under ${o.out}\n`);
  }
  return mismatched > 0 ? EXIT_DIFF : EXIT_SAME;
}

/** Copy a spooled stream to stdout in blocks (a multi-byte character may straddle two blocks). */
function printFile(path: string, io: Io): void {
  const dec = new StringDecoder('utf8');
  forEachBlock(path, (b) => io.stdout(dec.write(b)));
  const rest = dec.end();
  if (rest) io.stdout(rest);
}

function fmtCounts(m: Record<string, number>): string {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join(' ');
}

export interface CheckCommandOptions extends Omit<ReplayRunOptions, 'traces'> {
  readonly traces: readonly string[];
  readonly tracesDir: string;
  readonly goldenDir: string;
  readonly update: boolean;
  readonly format?: OutputFormat;
  /** Check only this shard of the traces (CI spread over machines). */
  readonly shard?: Shard;
}

/** Traces under a directory: *.csv and *.csv.gz at its top level, sorted by name. */
export function bundledTraces(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /\.csv(\.gz)?$/i.test(n)).sort().map((n) => join(dir, n));
}

/** One stream of one trace x variant that does not match its golden file. */
interface StreamMismatch {
  readonly stream: StreamName;
  /** The golden file, relative to the working directory. */
  readonly golden: string;
  /** undefined: the golden file is missing. */
  readonly diff: StreamDiff | undefined;
}

/** The options a reproduce command repeats: profile, caching and user variant files, where not the defaults. */
export function reproduceOptions(o: { profile: Profile | undefined; caching: CachingPolicy; variantFiles?: readonly string[] | undefined }): string {
  return `${o.profile ? ` --profile ${o.profile.name}` : ''}${o.caching !== 'max' ? ` --caching ${o.caching}` : ''}`
    + (o.variantFiles ?? []).map((f) => ` --variant-file ${f}`).join('');
}

function reproduceCommand(trace: string, variant: string, o: { profile: Profile | undefined; caching: CachingPolicy; variantFiles?: readonly string[] | undefined }): string {
  return `smmu-replay replay ${trace} --variant ${variant}${reproduceOptions(o)}`;
}

/** A stream diff as a finding of the format layer. */
export function diffFinding(subject: string, message: string, d: StreamDiff): Finding {
  const rows = d.hunks.flatMap((h) => h.lines.filter((l) => l.startsWith('-') || l.startsWith('+'))
    .map((l) => ({ side: l.startsWith('-') ? 'a' as const : 'b' as const, text: l.slice(1) })));
  return { subject, message, traceLine: d.firstLine, a: d.a, b: d.b, rows, fields: d.hunks.flatMap((h) => h.fields), detail: renderDiff(d, false) };
}

function checkResult(outputs: readonly TraceOutput[], mismatches: ReadonlyMap<string, StreamMismatch[]>, o: CheckCommandOptions): RunResult {
  return {
    command: 'check',
    traces: outputs.map((t) => ({
      trace: t.trace,
      title: 'variants',
      cases: t.results.map((r): CaseResult => {
        const m = mismatches.get(`${t.trace}\0${r.variant}`) ?? [];
        const findings = m.map((x): Finding => x.diff
          ? diffFinding(x.stream, `${x.stream} differs from ${x.golden} (${rowDelta(x.diff, 'golden', 'actual')})`, x.diff)
          : { subject: x.stream, message: `${x.stream}: no golden file ${x.golden}`, a: 'golden', b: 'actual', rows: [], fields: [] });
        return { name: r.variant, status: m.length ? 'fail' : 'pass', findings, reproduce: m.length ? reproduceCommand(t.trace, r.variant, o) : undefined };
      }),
    })),
  };
}

/** A shard of a trace list: the traces at positions i-1, i-1+n, i-1+2n ... (1 <= i <= n). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parse `i/n` (as Jest's --shard writes it). */
export function parseShard(text: string): Shard | string {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return `--shard takes i/n (for example 2/3), not '${text}'`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return `--shard ${text}: i must be between 1 and n`;
  return { index, count };
}

/** The traces of a shard: every n-th of the (sorted) list, so shards are disjoint and together cover it. */
export function shardOf<T>(items: readonly T[], s: Shard | undefined): T[] {
  return s ? items.filter((_t, i) => i % s.count === s.index - 1) : [...items];
}

export async function checkCommand(o: CheckCommandOptions, io: Io): Promise<number> {
  const format = o.format ?? 'text';
  if (o.update && format !== 'text') {
    io.stderr(`smmu-replay: --update writes golden files; --format ${format} applies to comparisons\n`);
    return EXIT_ERROR;
  }
  const all = o.traces.length ? o.traces : bundledTraces(resolve(io.cwd, o.tracesDir));
  if (all.length === 0) {
    io.stderr(`smmu-replay: no traces to check (none given and none under ${o.tracesDir}/)\n`);
    return EXIT_ERROR;
  }
  const traces = shardOf(all, o.shard);
  return withSpool((spool) => checkIn({ ...o, traces }, all.length, io, spool, format));
}

async function checkIn(o: CheckCommandOptions, total: number, io: Io, spool: SpoolDir, format: OutputFormat): Promise<number> {
  let outputs: TraceOutput<SpoolFiles>[];
  try {
    outputs = await replaySpooled(o, io, spool, format === 'text');
  } catch (e) {
    return reportError(e, io);
  }
  const goldenDir = resolve(io.cwd, o.goldenDir);
  const colour = format === 'text' && useColour(io);
  const shardNote = o.shard ? ` (shard ${o.shard.index}/${o.shard.count} of ${total})` : '';
  if (o.update) {
    const files: PlannedWrite[] = [];
    for (const t of outputs) for (const r of t.results) for (const s of STREAMS) {
      files.push({ path: goldenPath(goldenDir, t.stem, r.variant, s), from: r.streams.path(s) });
    }
    let changed: string[];
    try {
      changed = writeAtomically(files, (p) => io.stdout(`updated ${relative(io.cwd, p)}\n`));
    } catch (e) {
      if (e instanceof PartialWriteError) {
        io.stdout(`stopped by an error after writing ${e.written.length} of ${e.planned} changed golden files (listed above); the others are unchanged\n`);
        return reportError(e.cause, io);
      }
      return reportError(e, io);
    }
    io.stdout(`${changed.length} golden file${changed.length === 1 ? '' : 's'} changed, ${files.length - changed.length} unchanged${shardNote}\n`);
    return EXIT_SAME;
  }
  let differences = 0;
  let compared = 0;
  const mismatches = new Map<string, StreamMismatch[]>();
  let text = '';
  for (const t of outputs) {
    for (const r of t.results) {
      const found: StreamMismatch[] = [];
      for (const s of STREAMS) {
        compared++;
        const path = goldenPath(goldenDir, t.stem, r.variant, s);
        const rel = relative(io.cwd, path);
        if (!existsSync(path)) {
          found.push({ stream: s, golden: rel, diff: undefined });
          text += paint(colour, 'red', `MISSING ${t.trace} [${r.variant}] ${s}: no golden file ${rel} (run with --update after reviewing the output)`) + '\n';
          continue;
        }
        const d = diffFiles(rel, path, r.streams.path(s));
        if (!d) continue;
        found.push({ stream: s, golden: rel, diff: d });
        text += paint(colour, 'red', `DIFF ${t.trace} [${r.variant}] ${s} (golden ${rel})`) + '\n';
        text += renderDiff(d, colour);
        text += `   reproduce: ${reproduceCommand(t.trace, r.variant, o)}\n`;
      }
      differences += found.length;
      if (found.length) mismatches.set(`${t.trace}\0${r.variant}`, found);
    }
  }
  if (format === 'text') {
    io.stdout(text);
    io.stdout(`${outputs.length} trace${outputs.length === 1 ? '' : 's'}, ${compared} stream${compared === 1 ? '' : 's'} compared, ${differences} difference${differences === 1 ? '' : 's'}${shardNote}\n`);
  } else {
    io.stdout(formatResult(checkResult(outputs, mismatches, o), format));
  }
  return differences > 0 ? EXIT_DIFF : EXIT_SAME;
}

export type { StreamName };
