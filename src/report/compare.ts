/**
 * `smmu-replay compare <trace> <variantA> <variantB> [--semantic]`: replay one
 * trace under two variants (one parse feeds both), show their summaries side
 * by side, a unified diff per stream, and one verdict line per stream.
 *
 * With --semantic the STE stream is compared on what the SMMU can use: the
 * entries at each invalidation and fetch, as their used fields (the
 * `summary` column), so two variants that store different values only in
 * bits the entry ignores show no effective difference; the raw comparison
 * is printed too.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import { chooseVariants } from '../policy/registry.js';
import type { ReplaySummary } from '../replay/engine.js';
import { scanTrace } from '../replay/run.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { diffFinding, reportError, reproduceOptions } from './commands.js';
import { diffFileSides } from './golden.js';
import { replaySpooledFile, type TraceResult } from './jobs.js';
import { withSpool, type SpoolDir, type SpoolFiles } from './spool.js';
import { formatResult, type CaseResult, type OutputFormat, type RunResult } from './format.js';
import { EXIT_DIFF, EXIT_SAME, paint, useColour, type Io } from './io.js';
import { diffStream, renderDiff, rowDelta, semanticSteSide, type StreamDiff } from './streamDiff.js';

export interface CompareOptions {
  readonly trace: string;
  readonly a: string;
  readonly b: string;
  readonly semantic: boolean;
  /** undefined: the trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
  readonly format?: OutputFormat;
  /** --variant-file arguments, repeated in the reproduce command. */
  readonly variantFiles?: readonly string[];
}

function counts(s: ReplaySummary): [string, string][] {
  const syncs = s.commands.CMD_SYNC ?? 0;
  const cfgi = Object.entries(s.commands).filter(([k]) => k.startsWith('CFGI')).reduce((n, [, v]) => n + v, 0);
  const tlbi = Object.entries(s.commands).filter(([k]) => k.startsWith('TLBI')).reduce((n, [, v]) => n + v, 0);
  const evtq = Object.entries(s.faults).filter(([k]) => !k.includes(':')).reduce((n, [, v]) => n + v, 0);
  const driver = Object.entries(s.faults).filter(([k]) => k.startsWith('driver:')).reduce((n, [, v]) => n + v, 0);
  const fmt = (m: Record<string, number>) => Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(' ') || '-';
  return [
    ['STE stores', String(s.ste.store)], ['STE cfgi / fetch', `${s.ste.cfgi} / ${s.ste.fetch}`],
    ['CMD_SYNC', String(syncs)], ['CFGI_* / TLBI_*', `${cfgi} / ${tlbi}`],
    ['events recorded', String(evtq)], ['hazards', String(s.hazards)], ['driver rows', String(driver)],
    ['DMA outcomes', fmt(s.dma)],
  ];
}

export async function compareCommand(o: CompareOptions, io: Io): Promise<number> {
  return withSpool((spool) => compareIn(o, io, spool));
}

async function compareIn(o: CompareOptions, io: Io, spool: SpoolDir): Promise<number> {
  const abs = resolve(io.cwd, o.trace);
  const display = relative(io.cwd, abs) || o.trace;
  const format = o.format ?? 'text';
  let results: TraceResult<SpoolFiles>[];
  try {
    const decl = await scanTrace(abs);
    const specs = chooseVariants([o.a, o.b], decl.hasOps);
    if (typeof specs === 'string') throw new Error(`${display}: ${specs}`);
    if (o.a === o.b) throw new Error('compare needs two different variants');
    // The streams go to files (flat memory however long the trace); the diff reads them in bounded memory.
    results = await replaySpooledFile({ abs, display }, { ...o, variants: [o.a, o.b], profile: o.profile }, spool, '', { specs, decl });
  } catch (e) {
    return reportError(e, io);
  }
  const streams = new Map(results.map((r) => [r.variant, r.streams]));
  const summaries = results.map((r) => r.summary);
  const [sa, sb] = summaries as [ReplaySummary, ReplaySummary];
  const verdicts = STREAMS.map((st) => streamVerdict(o, st, streams.get(o.a)!.path(st), streams.get(o.b)!.path(st)));
  const differs = verdicts.some((v) => v.differs);
  if (format !== 'text') {
    io.stdout(formatResult(compareResult(display, o, verdicts), format));
    return differs ? EXIT_DIFF : EXIT_SAME;
  }
  const colour = useColour(io);
  io.stdout(paint(colour, 'bold', `== ${display}: ${o.a} vs ${o.b}${o.semantic ? ' (semantic)' : ''}`) + '\n');
  const ca = counts(sa);
  const cb = counts(sb);
  const w0 = Math.max(...ca.map(([k]) => k.length));
  const w1 = Math.max(o.a.length, ...ca.map(([, v]) => v.length));
  io.stdout(`   ${''.padEnd(w0)}  ${o.a.padEnd(w1)}  ${o.b}\n`);
  ca.forEach(([k, va], i) => io.stdout(`   ${k.padEnd(w0)}  ${va.padEnd(w1)}  ${cb[i]![1]}\n`));
  for (const v of verdicts) {
    if (v.semantic) io.stdout(renderDiff(v.semantic, colour));
    if (v.raw && v.stream === 'ste' && o.semantic) io.stdout(paint(colour, 'dim', '-- raw STE stream diff') + '\n');
    if (v.raw) io.stdout(renderDiff(v.raw, colour));
  }
  for (const v of verdicts) io.stdout(`${v.verdict}\n`);
  return differs ? EXIT_DIFF : EXIT_SAME;
}

/** What compare found on one stream: the diffs and the verdict line. */
interface StreamVerdict {
  readonly stream: StreamName;
  /** The raw diff (undefined: identical). */
  readonly raw: StreamDiff | undefined;
  /** With --semantic, the STE stream's diff on used fields (undefined: no effective difference, or not asked). */
  readonly semantic: StreamDiff | undefined;
  readonly differs: boolean;
  readonly verdict: string;
}

function streamVerdict(o: CompareOptions, st: StreamName, pa: string, pb: string): StreamVerdict {
  const raw = diffFileSides({ label: o.a, file: `${o.a}.${st}.csv`, path: pa }, { label: o.b, file: `${o.b}.${st}.csv`, path: pb }, o.semantic);
  if (st === 'ste' && o.semantic) {
    // The semantic view needs each STE stream whole (it is as long as the trace has STE rows, not DMA rows).
    const ta = readFileSync(pa, 'utf8');
    const tb = readFileSync(pb, 'utf8');
    const sem = diffStream(semanticSteSide(o.a, `${o.a}.ste (used fields)`, ta), semanticSteSide(o.b, `${o.b}.ste (used fields)`, tb), true);
    if (sem) return { stream: st, raw, semantic: sem, differs: true, verdict: `ste: effective difference (${rowDelta(sem)})` };
    return { stream: st, raw, semantic: undefined, differs: false, verdict: raw ? `ste: no effective difference (raw streams differ: ${rowDelta(raw)})` : 'ste: identical' };
  }
  return { stream: st, raw, semantic: undefined, differs: raw !== undefined, verdict: raw ? `${st}: differ (${rowDelta(raw)})` : `${st}: identical` };
}

function compareResult(display: string, o: CompareOptions, verdicts: readonly StreamVerdict[]): RunResult {
  const reproduce = `smmu-replay compare ${display} ${o.a} ${o.b}${o.semantic ? ' --semantic' : ''}${reproduceOptions(o)}`;
  return {
    command: 'compare',
    traces: [{
      trace: display,
      title: `${o.a} vs ${o.b}${o.semantic ? ' (semantic)' : ''}`,
      cases: verdicts.map((v): CaseResult => {
        const findings = [
          ...(v.semantic ? [diffFinding(v.stream, v.verdict, v.semantic)] : []),
          ...(v.raw && v.differs && !v.semantic ? [diffFinding(v.stream, v.verdict, v.raw)] : []),
        ];
        return { name: v.stream, status: v.differs ? 'fail' : 'pass', note: v.verdict, findings, reproduce: v.differs ? reproduce : undefined };
      }),
    }],
  };
}

export type { StreamName };
