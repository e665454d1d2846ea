/**
 * The `replay` and `check` commands: replay traces under their variants and
 * either write/print the streams or compare them with golden files.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import { explainCheck } from '../oracle/deviations.js';
import { chooseVariants } from '../policy/registry.js';
import type { ReplaySummary } from '../replay/engine.js';
import { profileFor, runTrace, scanTrace, type VariantRunSpec } from '../replay/run.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { TraceError } from '../trace/format.js';
import { TextStreams } from './csv.js';
import { formatResult, type CaseResult, type Finding, type OutputFormat, type RunResult } from './format.js';
import { goldenPath, readGolden, traceStem, writeAtomically, type PlannedWrite } from './golden.js';
import { EXIT_DIFF, EXIT_ERROR, EXIT_SAME, paint, progress, useColour, type Io } from './io.js';
import { diffStream, renderDiff, rowDelta, type StreamDiff } from './streamDiff.js';

export interface ReplayRunOptions {
  readonly traces: readonly string[];
  readonly variants: readonly string[] | undefined;
  /** undefined: each trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
}

interface TraceOutput {
  readonly trace: string;
  readonly stem: string;
  readonly results: { variant: string; summary: ReplaySummary; streams: TextStreams }[];
}

/**
 * Replay one trace under variants (one parse feeds them all), collecting each
 * variant's streams as text.  Throws TraceError on bad input.
 */
export async function replayToText(abs: string, display: string, variants: readonly VariantRunSpec[],
  o: { profile: Profile; caching: CachingPolicy; memoryCapPages?: number; onProgress?: (rows: number) => void }): Promise<TraceOutput['results']> {
  const sinks = new Map<string, TextStreams>();
  const results = await runTrace(abs, {
    profile: o.profile, caching: o.caching, variants, displayName: display, explain: explainCheck,
    ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  }, (v) => {
    const s = new TextStreams();
    sinks.set(v, s);
    return s;
  });
  return results.map((r) => ({ ...r, streams: sinks.get(r.variant)! }));
}

/** Replay every trace (in the given order), collecting the streams as text. Throws TraceError on bad input. */
export async function replayAll(o: ReplayRunOptions, io: Io, showProgress = true): Promise<TraceOutput[]> {
  const out: TraceOutput[] = [];
  const prog = showProgress ? progress(io) : undefined;
  for (const t of o.traces) {
    const abs = resolve(io.cwd, t);
    const display = relative(io.cwd, abs) || t;
    try {
      if (statSync(abs).isDirectory()) throw new Error(`${display}: is a directory, not a trace`);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw new Error(`${display}: no such file`);
      throw e;
    }
    const decl = await scanTrace(abs);
    const variants = chooseVariants(o.variants, decl.hasOps);
    if (typeof variants === 'string') throw new Error(`${display}: ${variants}`);
    const results = await replayToText(abs, display, variants, {
      ...o, profile: profileFor(decl, display, o.profile), ...(prog ? { onProgress: (n: number) => prog(`${display}: ${n} rows`) } : {}),
    });
    if (prog) prog('');
    out.push({ trace: display, stem: traceStem(t), results });
  }
  return out;
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
  let outputs: TraceOutput[];
  try {
    outputs = await replayAll(o, io);
  } catch (e) {
    return reportError(e, io);
  }
  let mismatched = 0;
  for (const t of outputs) for (const r of t.results) mismatched += r.summary.checks.mismatched;
  if (o.out) {
    const files: PlannedWrite[] = [];
    for (const t of outputs) {
      for (const r of t.results) {
        for (const s of STREAMS) files.push({ path: join(resolve(io.cwd, o.out), t.stem, `${r.variant}.${s}.csv`), text: r.streams.get(s) });
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
            io.stdout(`-- ${st}\n${r.streams.get(st)}`);
          }
        }
      }
    }
    if (o.out) io.stdout(`wrote streams under ${o.out}\n`);
  }
  return mismatched > 0 ? EXIT_DIFF : EXIT_SAME;
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
  /** --variant-file arguments, repeated in reproduce commands. */
  readonly variantFiles?: readonly string[];
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

export async function checkCommand(o: CheckCommandOptions, io: Io): Promise<number> {
  const format = o.format ?? 'text';
  if (o.update && format !== 'text') {
    io.stderr(`smmu-replay: --update writes golden files; --format ${format} applies to comparisons\n`);
    return EXIT_ERROR;
  }
  const traces = o.traces.length ? o.traces : bundledTraces(resolve(io.cwd, o.tracesDir));
  if (traces.length === 0) {
    io.stderr(`smmu-replay: no traces to check (none given and none under ${o.tracesDir}/)\n`);
    return EXIT_ERROR;
  }
  let outputs: TraceOutput[];
  try {
    outputs = await replayAll({ ...o, traces }, io, format === 'text');
  } catch (e) {
    return reportError(e, io);
  }
  const goldenDir = resolve(io.cwd, o.goldenDir);
  const colour = format === 'text' && useColour(io);
  if (o.update) {
    const files: PlannedWrite[] = [];
    for (const t of outputs) for (const r of t.results) for (const s of STREAMS) {
      files.push({ path: goldenPath(goldenDir, t.stem, r.variant, s), text: r.streams.get(s) });
    }
    let changed: string[];
    try {
      changed = writeAtomically(files, (p) => io.stdout(`updated ${relative(io.cwd, p)}\n`));
    } catch (e) {
      return reportError(e, io);
    }
    io.stdout(`${changed.length} golden file${changed.length === 1 ? '' : 's'} changed, ${files.length - changed.length} unchanged\n`);
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
        const golden = readGolden(path);
        const actual = r.streams.get(s);
        if (golden === undefined) {
          found.push({ stream: s, golden: rel, diff: undefined });
          text += paint(colour, 'red', `MISSING ${t.trace} [${r.variant}] ${s}: no golden file ${rel} (run with --update after reviewing the output)`) + '\n';
          continue;
        }
        const d = diffStream({ label: 'golden', file: `a/${rel}`, text: golden }, { label: 'actual', file: `b/${rel}`, text: actual });
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
    io.stdout(`${outputs.length} trace${outputs.length === 1 ? '' : 's'}, ${compared} stream${compared === 1 ? '' : 's'} compared, ${differences} difference${differences === 1 ? '' : 's'}\n`);
  } else {
    io.stdout(formatResult(checkResult(outputs, mismatches, o), format));
  }
  return differences > 0 ? EXIT_DIFF : EXIT_SAME;
}

export type { StreamName };
