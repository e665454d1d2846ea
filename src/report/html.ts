/**
 * `smmu-replay report <trace> --variants a,b,... -o report.html`: one
 * self-contained HTML file (inline CSS, no script, no external resource, so
 * it opens without network access) showing a trace replayed under several
 * variants:
 *
 * - a summary table, one column per variant: CMD_SYNCs, STE stores, hazards,
 *   faults by type, DMA outcomes, failed expectations;
 * - per stream, a side-by-side view aligned on trace lines: one column per
 *   variant, the rows each variant produced at that line; a cell that
 *   differs from the first variant's is highlighted, and so is every row
 *   only one side has; runs of identical lines are folded;
 * - under each STE cell that differs, the STE fields that changed against
 *   the first variant (steFields.ts, the same pairing as the text diffs);
 * - hazard rows (fault stream `hazard` rows, STE rows in an `unsafe` or
 *   `invalid` state) highlighted wherever they appear.
 *
 * Elements carry data-* attributes (data-metric, data-variant, data-line,
 * data-stream) so tests and scripts can read the numbers back.
 */
import { relative, resolve } from 'node:path';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import { chooseVariants } from '../policy/registry.js';
import type { ReplaySummary } from '../replay/engine.js';
import { profileFor, scanTrace } from '../replay/run.js';
import { STREAMS, type StreamName } from '../replay/streams.js';
import { replayToText, reportError } from './commands.js';
import { splitCsvLine, type TextStreams } from './csv.js';
import { writeAtomically } from './golden.js';
import { EXIT_DIFF, EXIT_SAME, type Io } from './io.js';
import { hunkFieldChanges, parseSteStream, type FieldChangeGroup, type SteStreamRow } from './steFields.js';

export interface ReportOptions {
  readonly trace: string;
  readonly variants: readonly string[] | undefined;
  readonly out: string;
  /** undefined: the trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
}

/** Identical trace lines kept on each side of a difference before the rest of a run is folded. */
const CONTEXT = 2;
/** Trace lines shown of a report with one variant (nothing to compare), before the rest is folded. */
const SINGLE_LINES = 500;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A summary table row: its key, its label, and one value per variant. */
interface Metric {
  readonly key: string;
  readonly label: string;
  readonly values: readonly number[];
}

export function summaryMetrics(summaries: readonly ReplaySummary[]): Metric[] {
  const keys = (pick: (s: ReplaySummary) => Record<string, number>): string[] =>
    [...new Set(summaries.flatMap((s) => Object.keys(pick(s))))].sort();
  const out: Metric[] = [
    { key: 'syncs', label: 'CMD_SYNC', values: summaries.map((s) => s.commands.CMD_SYNC ?? 0) },
    { key: 'stores', label: 'STE stores', values: summaries.map((s) => s.ste.store) },
    { key: 'hazards', label: 'hazards', values: summaries.map((s) => s.hazards) },
  ];
  for (const k of keys((s) => s.faults)) out.push({ key: `fault:${k}`, label: `faults: ${k}`, values: summaries.map((s) => s.faults[k] ?? 0) });
  for (const k of keys((s) => s.dma)) out.push({ key: `dma:${k}`, label: `DMA ${k}`, values: summaries.map((s) => s.dma[k] ?? 0) });
  out.push({ key: 'expect-mismatched', label: 'failed expectations', values: summaries.map((s) => s.checks.mismatched) });
  return out;
}

/** The rows of a stream, grouped by trace line (the row text without its line cell). */
function byLine(text: string): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const l of text.split('\n').slice(1)) {
    if (!l) continue;
    const i = l.indexOf(',');
    const n = Number(l.slice(0, i));
    const list = m.get(n) ?? [];
    list.push(l.slice(i + 1));
    m.set(n, list);
  }
  return m;
}

function isHazard(stream: StreamName, row: string): boolean {
  const c = splitCsvLine(row);
  if (stream === 'faults') return c[0] === 'hazard';
  // a store's state (docs/streams.md): `unsafe` mix, or `invalid` (V=0 between two valid entries);
  // a cfgi or fetch row's state is only the entry's verdict
  if (stream === 'ste') return c[1] === 'store' && (c[4] === 'unsafe' || c[4] === 'invalid');
  return false;
}

/** STE rows by trace line, with their entries. */
function steRowsByLine(text: string): Map<number, SteStreamRow[]> {
  const m = new Map<number, SteStreamRow[]>();
  for (const r of parseSteStream(text).values()) {
    const list = m.get(r.line) ?? [];
    list.push(r);
    m.set(r.line, list);
  }
  return m;
}

function fieldList(groups: readonly FieldChangeGroup[], base: string): string {
  if (!groups.length) return '';
  const items = groups.map((g) => {
    const fields = g.changes.map((c) =>
      `<li data-field="${esc(c.field)}"><code class="field">${esc(c.field)}</code>: ${esc(c.oldText)} &rarr; ${esc(c.newText)} <span class="pos">${esc(c.position)}</span></li>`);
    return `<li><span class="at">StreamID 0x${g.sid.toString(16)}, ${esc(g.places.join(', '))}</span><ul>${fields.join('')}</ul></li>`;
  });
  return `<ul class="fields" title="STE fields that differ from ${esc(base)}">${items.join('')}</ul>`;
}

interface StreamView {
  readonly html: string;
  readonly differingLines: number[];
}

function streamView(stream: StreamName, variants: readonly string[], texts: readonly string[]): StreamView {
  const lines = texts.map(byLine);
  const ste = stream === 'ste' ? texts.map(steRowsByLine) : undefined;
  const all = [...new Set(lines.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  const differs = (n: number): boolean => {
    const base = JSON.stringify(lines[0]!.get(n) ?? []);
    return lines.some((m) => JSON.stringify(m.get(n) ?? []) !== base);
  };
  const differing = all.filter(differs);
  const differingSet = new Set(differing);
  const show = new Set<number>();
  all.forEach((n, i) => {
    if (!differingSet.has(n)) return;
    for (let k = Math.max(0, i - CONTEXT); k <= Math.min(all.length - 1, i + CONTEXT); k++) show.add(all[k]!);
  });
  // A short stream is shown whole; so is a single variant's, up to SINGLE_LINES trace lines.
  if (all.length <= 2 * CONTEXT + 8) for (const n of all) show.add(n);
  if (variants.length === 1) for (const n of all.slice(0, SINGLE_LINES)) show.add(n);
  const body: string[] = [];
  let folded: number[] = [];
  const flush = (): void => {
    if (!folded.length) return;
    body.push(`<tr class="folded"><td colspan="${variants.length + 1}">&hellip; ${folded.length} trace line${folded.length === 1 ? '' : 's'} ${variants.length > 1 ? 'identical in every variant' : 'not shown'} (${folded[0]}&ndash;${folded[folded.length - 1]})</td></tr>`);
    folded = [];
  };
  for (const n of all) {
    if (!show.has(n)) {
      folded.push(n);
      continue;
    }
    flush();
    const baseRows = lines[0]!.get(n) ?? [];
    const cells = variants.map((v, i) => {
      const rows = lines[i]!.get(n) ?? [];
      const changed = i > 0 && JSON.stringify(rows) !== JSON.stringify(baseRows);
      const others = i === 0 ? lines.slice(1).map((m) => m.get(n) ?? []) : [baseRows];
      const divs = rows.map((r) => {
        const only = others.some((o) => !o.includes(r));
        const cls = ['row', ...(isHazard(stream, r) ? ['hazard'] : []), ...(only ? ['only'] : [])];
        return `<div class="${cls.join(' ')}">${esc(r)}</div>`;
      });
      const fields = changed && ste ? fieldList(hunkFieldChanges(ste[0]!.get(n) ?? [], ste[i]!.get(n) ?? []), variants[0]!) : '';
      return `<td data-variant="${esc(v)}" class="${changed ? 'changed' : 'same'}">${divs.join('') || '<span class="none">&mdash;</span>'}${fields}</td>`;
    });
    body.push(`<tr data-line="${n}"${differingSet.has(n) ? ' class="differs"' : ''}><td class="ln">${n}</td>${cells.join('')}</tr>`);
  }
  flush();
  const head = `<tr><th>line</th>${variants.map((v) => `<th data-variant="${esc(v)}">${esc(v)}</th>`).join('')}</tr>`;
  const verdict = differing.length
    ? `differs at ${differing.length} trace line${differing.length === 1 ? '' : 's'}; first at line ${differing[0]}`
    : (variants.length > 1 ? 'identical in every variant' : `${all.length} trace lines`);
  const html = [
    `<section id="stream-${stream}" data-stream="${stream}">`,
    `<h2>${stream === 'ste' ? 'STE stream' : stream === 'faults' ? 'Fault stream' : 'DMA stream'}</h2>`,
    `<p class="verdict">${esc(verdict)}</p>`,
    `<p class="columns">${esc(texts[0]!.split('\n')[0]!.split(',').slice(1).join(', '))}</p>`,
    all.length ? `<table class="sbs"><thead>${head}</thead><tbody>${body.join('\n')}</tbody></table>` : '<p>(no rows)</p>',
    '</section>',
  ].join('\n');
  return { html, differingLines: differing };
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #c8c8c8; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #eef0f3; text-align: left; }
#summary td { text-align: right; font-variant-numeric: tabular-nums; }
#summary tr.differs th { background: #ffe7a8; }
#summary td.differs { background: #fff3cd; font-weight: bold; }
table.sbs { width: 100%; table-layout: fixed; font-family: ui-monospace, monospace; font-size: 0.8em; }
table.sbs td.ln { width: 3.5em; text-align: right; color: #666; }
table.sbs th:first-child { width: 3.5em; }
.row { white-space: pre-wrap; overflow-wrap: anywhere; padding: 1px 2px; }
tr.differs td.ln { background: #ffe7a8; font-weight: bold; color: #000; }
td.changed { background: #eaf4ff; }
.row.only { background: #cfe5ff; outline: 1px solid #4a90d9; }
.row.hazard { background: #ffd6d6; border-left: 4px solid #c0392b; }
.row.hazard.only { background: #ffb8b8; }
tr.folded td { color: #666; font-style: italic; background: #fafafa; }
ul.fields { list-style: none; margin: 0.3em 0 0 0; padding: 0.3em; background: #fffbe6; border: 1px solid #e0c060; font-family: system-ui, sans-serif; }
ul.fields .pos, ul.fields .at { color: #666; font-size: 0.9em; }
ul.fields ul { margin: 0; padding-left: 1.2em; }
code.field { font-weight: bold; }
.none { color: #aaa; }
p.columns { color: #666; font-family: ui-monospace, monospace; font-size: 0.8em; }
.legend span { display: inline-block; padding: 0 0.4em; margin-right: 0.6em; }
`;

export function renderReport(o: {
  trace: string; profile: string; caching: string; variants: readonly string[];
  summaries: readonly ReplaySummary[]; streams: readonly TextStreams[];
}): { html: string; differing: Record<StreamName, number[]> } {
  const metrics = summaryMetrics(o.summaries);
  const summaryRows = metrics.map((m) => {
    const d = m.values.some((v) => v !== m.values[0]);
    const cells = m.values.map((v, i) => `<td data-variant="${esc(o.variants[i]!)}"${d ? ' class="differs"' : ''}>${v}</td>`).join('');
    return `<tr data-metric="${esc(m.key)}"${d ? ' class="differs"' : ''}><th>${esc(m.label)}</th>${cells}</tr>`;
  });
  const views = STREAMS.map((s) => streamView(s, o.variants, o.streams.map((t) => t.get(s))));
  const meta = Object.entries(o.summaries[0]?.meta ?? {}).map(([k, v]) => `<li>meta ${esc(k)}: ${esc(v)}</li>`).join('');
  const html = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>smmu-replay report: ${esc(o.trace)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>smmu-replay report: <code>${esc(o.trace)}</code></h1>`,
    `<ul><li>variants: ${o.variants.map((v) => `<code>${esc(v)}</code>`).join(', ')} (cells are compared with the first)</li>`,
    `<li>profile <code>${esc(o.profile)}</code>, caching <code>${esc(o.caching)}</code></li>${meta}</ul>`,
    '<p class="legend"><span class="row only">row only one side has</span><span class="row hazard">hazard</span>'
      + '<span style="background:#eaf4ff">cell differs from the first variant</span><span style="background:#fffbe6">STE fields that differ</span></p>',
    '<h2>Summary</h2>',
    `<table id="summary"><thead><tr><th></th>${o.variants.map((v) => `<th data-variant="${esc(v)}">${esc(v)}</th>`).join('')}</tr></thead>`,
    `<tbody>${summaryRows.join('\n')}</tbody></table>`,
    ...views.map((v) => v.html),
    '<p class="columns">made by smmu-replay report; streams: docs/streams.md</p>',
    '</body></html>',
    '',
  ].join('\n');
  return { html, differing: { ste: views[0]!.differingLines, faults: views[1]!.differingLines, dma: views[2]!.differingLines } };
}

/** The most rows a stream of a reported trace may have (a bound on the report's memory). */
export const REPORT_MAX_ROWS = 200_000;

export async function reportCommand(o: ReportOptions, io: Io): Promise<number> {
  const abs = resolve(io.cwd, o.trace);
  const display = relative(io.cwd, abs) || o.trace;
  let results: Awaited<ReturnType<typeof replayToText>>;
  let profile: Profile;
  try {
    const decl = await scanTrace(abs);
    profile = profileFor(decl, display, o.profile);
    const specs = chooseVariants(o.variants, decl.hasOps);
    if (typeof specs === 'string') throw new Error(`${display}: ${specs}`);
    const names = specs.map((s) => s.name);
    if (new Set(names).size !== names.length) throw new Error('report: a variant is named twice');
    results = await replayToText(abs, display, { specs, decl }, { ...o, profile }, {
      rows: REPORT_MAX_ROWS,
      error: (stream) => new Error(`${display}: the ${stream} stream has more than ${REPORT_MAX_ROWS} rows: the HTML report is for traces of at most that many rows per stream (it holds every variant's streams in memory, and a browser shows no more usefully); shrink the trace with \`minimize\`, or diff the streams with \`compare\``),
    });
  } catch (e) {
    return reportError(e, io);
  }
  const names = results.map((r) => r.variant);
  const { html, differing } = renderReport({
    trace: display, profile: profile.name, caching: o.caching, variants: names,
    summaries: results.map((r) => r.summary), streams: results.map((r) => r.streams),
  });
  const out = resolve(io.cwd, o.out);
  try {
    writeAtomically([{ path: out, text: html }]);
  } catch (e) {
    return reportError(e, io);
  }
  const parts = STREAMS.map((s) => `${s}: ${differing[s].length ? `differs at ${differing[s].length} trace line${differing[s].length === 1 ? '' : 's'}` : 'same'}`);
  io.stdout(`wrote ${o.out} (${names.length} variant${names.length === 1 ? '' : 's'}; ${parts.join(', ')})\n`);
  return STREAMS.some((s) => differing[s].length) ? EXIT_DIFF : EXIT_SAME;
}
