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
import { relative, resolve } from 'node:path';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import { explainCheck } from '../oracle/deviations.js';
import { chooseVariants } from '../policy/registry.js';
import type { ReplaySummary } from '../replay/engine.js';
import { profileFor, runTrace, scanTrace } from '../replay/run.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { TextStreams } from './csv.js';
import { unifiedDiff } from './golden.js';
import { reportError } from './commands.js';
import { EXIT_DIFF, EXIT_ERROR, EXIT_SAME, paint, paintDiff, useColour, type Io } from './io.js';

export interface CompareOptions {
  readonly trace: string;
  readonly a: string;
  readonly b: string;
  readonly semantic: boolean;
  /** undefined: the trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
}

/**
 * The semantic projection of an STE stream: what the SMMU could use at each
 * trace line.  Store rows go (a store is not visible until a CFGI_STE), the
 * raw doubleword columns go, and a cfgi row that repeats the previous row of
 * the same StreamID on the same line (another sync of an unchanged entry)
 * goes: sync counts are compared in the summary table instead.
 */
export function semanticSte(text: string): string {
  const lines = text.split('\n');
  const out = ['line,sid,action,state,summary'];
  const last = new Map<string, string>();
  for (const l of lines.slice(1)) {
    if (!l) continue;
    const cells = l.split(',');
    if (cells[2] === 'store') continue;
    const row = [cells[0], cells[1], cells[2], cells[5], cells.slice(6).join(',')].join(',');
    const key = `${cells[0]},${cells[1]}`;
    if (cells[2] === 'cfgi' && last.get(key) === row) continue;
    last.set(key, row);
    out.push(row);
  }
  return out.join('\n') + '\n';
}

/** `Name=value` tokens of an STE summary cell (fields not listed are zero or unused). */
function summaryFields(summary: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of summary.replace(/^"|"$/g, '').split(' ')) {
    const i = t.indexOf('=');
    if (i > 0) m.set(t.slice(0, i), t.slice(i + 1));
  }
  return m;
}

const MAX_FIELD_LINES = 40;

/**
 * Field-level changes between two semantic STE streams: rows are paired by
 * (trace line, StreamID, action, occurrence), and each pair that differs is
 * one line naming the fields that changed, A -> B (`-` for a field the entry
 * does not use or that is zero).
 */
export function fieldChanges(a: string, b: string): string[] {
  type Row = { line: string; sid: string; action: string; state: string; summary: string };
  const parse = (t: string): Map<string, Row> => {
    const out = new Map<string, Row>();
    const seen = new Map<string, number>();
    for (const l of t.split('\n').slice(1)) {
      if (!l) continue;
      const [line, sid, action, state, ...rest] = l.split(',');
      const k = `${line},${sid},${action}`;
      const n = seen.get(k) ?? 0;
      seen.set(k, n + 1);
      out.set(`${k},${n}`, { line: line!, sid: sid!, action: action!, state: state!, summary: rest.join(',') });
    }
    return out;
  };
  const ra = parse(a);
  const rb = parse(b);
  const keys = [...new Set([...ra.keys(), ...rb.keys()])].sort((x, y) => {
    const [lx, sx] = x.split(',');
    const [ly, sy] = y.split(',');
    return Number(lx) - Number(ly) || Number(sx) - Number(sy) || (x < y ? -1 : x > y ? 1 : 0);
  });
  const lines: string[] = [];
  for (const k of keys) {
    const x = ra.get(k);
    const y = rb.get(k);
    if (x && y && x.state === y.state && x.summary === y.summary) continue;
    const r = (x ?? y)!;
    const at = `line ${r.line} StreamID ${r.sid} ${r.action}#${Number(k.split(',')[3]) + 1}`;
    if (!x || !y) {
      lines.push(`${at}: only in ${x ? 'A' : 'B'} (${r.state}${r.summary ? `, ${r.summary.replace(/^"|"$/g, '')}` : ''})`);
      continue;
    }
    const fa = summaryFields(x.summary);
    const fb = summaryFields(y.summary);
    // An entry with V=0 uses no other field: say so rather than list every field as gone.
    const invalid = fa.get('V') === '0' || fb.get('V') === '0';
    const names = invalid ? ['V'] : [...new Set([...fa.keys(), ...fb.keys()])].filter((n) => fa.get(n) !== fb.get(n));
    const parts = names.map((n) => `${n} ${fa.get(n) ?? '-'} -> ${fb.get(n) ?? '-'}`);
    if (x.state !== y.state) parts.unshift(`state ${x.state} -> ${y.state}`);
    lines.push(`${at}: ${parts.join(', ')}`);
  }
  if (lines.length > MAX_FIELD_LINES) return [...lines.slice(0, MAX_FIELD_LINES), `... ${lines.length - MAX_FIELD_LINES} more`];
  return lines;
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
  const abs = resolve(io.cwd, o.trace);
  const display = relative(io.cwd, abs) || o.trace;
  let streams: Map<string, TextStreams>;
  let summaries: ReplaySummary[];
  try {
    const decl = await scanTrace(abs);
    const specs = chooseVariants([o.a, o.b], decl.hasOps);
    if (typeof specs === 'string') throw new Error(`${display}: ${specs}`);
    if (o.a === o.b) throw new Error('compare needs two different variants');
    streams = new Map();
    const results = await runTrace(abs, {
      profile: profileFor(decl, display, o.profile), caching: o.caching, variants: specs, displayName: display, explain: explainCheck,
      ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
    }, (v) => {
      const s = new TextStreams();
      streams.set(v, s);
      return s;
    });
    summaries = results.map((r) => r.summary);
  } catch (e) {
    return reportError(e, io);
  }
  const colour = useColour(io);
  const [sa, sb] = summaries as [ReplaySummary, ReplaySummary];
  io.stdout(paint(colour, 'bold', `== ${display}: ${o.a} vs ${o.b}${o.semantic ? ' (semantic)' : ''}`) + '\n');
  const ca = counts(sa);
  const cb = counts(sb);
  const w0 = Math.max(...ca.map(([k]) => k.length));
  const w1 = Math.max(o.a.length, ...ca.map(([, v]) => v.length));
  io.stdout(`   ${''.padEnd(w0)}  ${o.a.padEnd(w1)}  ${o.b}\n`);
  ca.forEach(([k, va], i) => io.stdout(`   ${k.padEnd(w0)}  ${va.padEnd(w1)}  ${cb[i]![1]}\n`));
  const verdicts: string[] = [];
  let differs = false;
  for (const st of STREAMS) {
    const ta = streams.get(o.a)!.get(st);
    const tb = streams.get(o.b)!.get(st);
    const raw = unifiedDiff(`${st}`, ta, tb).replace(`--- a/${st}`, `--- ${o.a}.${st}.csv`).replace(`+++ b/${st}`, `+++ ${o.b}.${st}.csv`);
    if (st === 'ste' && o.semantic) {
      const sem = unifiedDiff('ste', semanticSte(ta), semanticSte(tb)).replace('--- a/ste', `--- ${o.a}.ste (used fields)`).replace('+++ b/ste', `+++ ${o.b}.ste (used fields)`);
      if (sem) {
        differs = true;
        verdicts.push(`ste: effective difference (${rowDelta(semanticSte(ta), semanticSte(tb))})`);
        io.stdout(paintDiff(colour, sem));
        io.stdout(paint(colour, 'dim', `-- STE field changes, ${o.a} -> ${o.b}`) + '\n');
        for (const l of fieldChanges(semanticSte(ta), semanticSte(tb))) io.stdout(`   ${l}\n`);
      } else {
        verdicts.push(raw ? `ste: no effective difference (raw streams differ: ${rowDelta(ta, tb)})` : 'ste: identical');
      }
      if (raw) io.stdout(paint(colour, 'dim', '-- raw STE stream diff') + '\n' + paintDiff(colour, raw));
      continue;
    }
    if (raw) {
      differs = true;
      verdicts.push(`${st}: differ (${rowDelta(ta, tb)})`);
      io.stdout(paintDiff(colour, raw));
    } else {
      verdicts.push(`${st}: identical`);
    }
  }
  for (const v of verdicts) io.stdout(`${v}\n`);
  return differs ? EXIT_DIFF : EXIT_SAME;
}

/** How two streams differ: rows only in each side, and the first trace line where they do. */
function rowDelta(a: string, b: string): string {
  const ra = new Set(a.split('\n'));
  const rb = new Set(b.split('\n'));
  const onlyA = [...ra].filter((l) => l && !rb.has(l));
  const onlyB = [...rb].filter((l) => l && !ra.has(l));
  const lines = [...onlyA, ...onlyB].map((l) => Number(l.slice(0, l.indexOf(',')))).filter((n) => Number.isInteger(n) && n > 0);
  const first = lines.length ? `; first at trace line ${Math.min(...lines)}` : '';
  return `${onlyA.length} row${onlyA.length === 1 ? '' : 's'} only in A, ${onlyB.length} only in B${first}`;
}

export type { StreamName };
export { EXIT_ERROR };
