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
import { profileFor, runTrace, scanTrace } from '../replay/run.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { TraceError } from '../trace/format.js';
import { TextStreams } from './csv.js';
import { goldenPath, readGolden, traceStem, unifiedDiff, writeAtomically, type PlannedWrite } from './golden.js';
import { EXIT_DIFF, EXIT_ERROR, EXIT_SAME, paint, paintDiff, progress, useColour, type Io } from './io.js';

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

/** Replay every trace (in the given order), collecting the streams as text. Throws TraceError on bad input. */
export async function replayAll(o: ReplayRunOptions, io: Io): Promise<TraceOutput[]> {
  const out: TraceOutput[] = [];
  const prog = progress(io);
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
    const sinks = new Map<string, TextStreams>();
    const results = await runTrace(abs, {
      profile: profileFor(decl, display, o.profile), caching: o.caching, variants, displayName: display, explain: explainCheck,
      ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
      ...(prog ? { onProgress: (n: number) => prog(`${display}: ${n} rows`) } : {}),
    }, (v) => {
      const s = new TextStreams();
      sinks.set(v, s);
      return s;
    });
    if (prog) prog('');
    out.push({ trace: display, stem: traceStem(t), results: results.map((r) => ({ ...r, streams: sinks.get(r.variant)! })) });
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

export async function checkCommand(o: CheckCommandOptions, io: Io): Promise<number> {
  const traces = o.traces.length ? o.traces : bundledTraces(resolve(io.cwd, o.tracesDir));
  if (traces.length === 0) {
    io.stderr(`smmu-replay: no traces to check (none given and none under ${o.tracesDir}/)\n`);
    return EXIT_ERROR;
  }
  let outputs: TraceOutput[];
  try {
    outputs = await replayAll({ ...o, traces }, io);
  } catch (e) {
    return reportError(e, io);
  }
  const goldenDir = resolve(io.cwd, o.goldenDir);
  const colour = useColour(io);
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
  for (const t of outputs) {
    for (const r of t.results) {
      for (const s of STREAMS) {
        compared++;
        const path = goldenPath(goldenDir, t.stem, r.variant, s);
        const rel = relative(io.cwd, path);
        const golden = readGolden(path);
        const actual = r.streams.get(s);
        if (golden === undefined) {
          differences++;
          io.stdout(paint(colour, 'red', `MISSING ${t.trace} [${r.variant}] ${s}: no golden file ${rel} (run with --update after reviewing the output)`) + '\n');
          continue;
        }
        const d = unifiedDiff(rel, golden, actual);
        if (!d) continue;
        differences++;
        io.stdout(paint(colour, 'red', `DIFF ${t.trace} [${r.variant}] ${s} (golden ${rel})`) + '\n');
        io.stdout(paintDiff(colour, d));
        const opts = `${o.profile && o.profile.name !== 'default' ? ` --profile ${o.profile.name}` : ''}${o.caching !== 'max' ? ` --caching ${o.caching}` : ''}`;
        io.stdout(`   reproduce: smmu-replay replay ${t.trace} --variant ${r.variant}${opts}\n`);
      }
    }
  }
  io.stdout(`${outputs.length} trace${outputs.length === 1 ? '' : 's'}, ${compared} stream${compared === 1 ? '' : 's'} compared, ${differences} difference${differences === 1 ? '' : 's'}\n`);
  return differences > 0 ? EXIT_DIFF : EXIT_SAME;
}

export type { StreamName };
