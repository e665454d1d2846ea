/**
 * Output formats for commands that judge traces (`check`, `compare`, and any
 * command that compares one thing with another, such as an oracle
 * cross-check): a command builds a `RunResult` (traces, each with cases that
 * pass, fail or are skipped, each failure with its findings) and
 * `formatResult` turns it into text for people or for a CI system:
 *
 * - `json`: one document, the RunResult as data (stable key order);
 * - `jsonl`: JSON Lines, one object per case, per differing row and per STE
 *   field change, then a summary object (stable key order);
 * - `ktap`: KTAP version 1 as the kernel documents it
 *   (Documentation/dev-tools/ktap.rst): one top-level test per trace, one
 *   subtest per case, nested lines indented two spaces, a failure's first
 *   differences as `#` diagnostic lines right before its `not ok`;
 * - `junit`: JUnit XML, a testsuite per trace and a testcase per case, the
 *   first difference as the failure message and the whole difference as its
 *   text;
 * - `text`: a plain listing, for commands without a text report of their own.
 *
 * None of them carries colour or progress output, and each is deterministic:
 * no times, no host names, the order the command gave.
 */
import { hex } from '../model/fields.js';
import { formatFieldGroup, type FieldChange, type FieldChangeGroup } from './steFields.js';

export type OutputFormat = 'text' | 'json' | 'jsonl' | 'ktap' | 'junit';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['text', 'json', 'jsonl', 'ktap', 'junit'];

/** A row that differs: in the reference (`a`) only, or in the compared side (`b`) only. */
export interface DiffRow {
  readonly side: 'a' | 'b';
  readonly text: string;
}

/** One thing a case found wrong: a stream that differs, a missing golden file, a mismatched outcome. */
export interface Finding {
  /** What was compared (`ste`, `faults`, `dma`, a transaction ...). */
  readonly subject: string;
  /** One line saying what differs and where. */
  readonly message: string;
  /** The first trace line involved, when there is one. */
  readonly traceLine?: number | undefined;
  /** Names of the two sides (`golden` / `actual`, two variants, `model` / `qemu`). */
  readonly a: string;
  readonly b: string;
  /** The differing rows in diff order. */
  readonly rows: readonly DiffRow[];
  /** Field-level STE differences, grouped by StreamID and rows. */
  readonly fields: readonly FieldChangeGroup[];
  /** The whole difference as people read it (a unified diff with field lines). */
  readonly detail?: string | undefined;
}

export interface CaseResult {
  /** A variant, a stream, ... (no `#`: KTAP descriptions cannot hold it; it is replaced). */
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'skip';
  /** Why it was skipped, or a one-line note on a pass or a failure. */
  readonly note?: string | undefined;
  readonly findings: readonly Finding[];
  /** The command that shows this failure again. */
  readonly reproduce?: string | undefined;
}

export interface TraceResult {
  readonly trace: string;
  /** What the cases are (`variants`, `rfc-v3 vs rfc-v3-cleared (semantic)`). */
  readonly title?: string | undefined;
  readonly cases: readonly CaseResult[];
}

export interface RunResult {
  /** The command that produced it (`check`, `compare`, `oracle`). */
  readonly command: string;
  readonly traces: readonly TraceResult[];
}

/** How many diagnostic rows KTAP and JUnit messages show per finding. */
const MAX_DIAG_ROWS = 8;

export function counts(r: RunResult): { traces: number; cases: number; passed: number; failed: number; skipped: number } {
  const all = r.traces.flatMap((t) => t.cases);
  return {
    traces: r.traces.length, cases: all.length,
    passed: all.filter((c) => c.status === 'pass').length,
    failed: all.filter((c) => c.status === 'fail').length,
    skipped: all.filter((c) => c.status === 'skip').length,
  };
}

function traceOk(t: TraceResult): boolean {
  return t.cases.every((c) => c.status !== 'fail');
}

function fieldData(c: FieldChange): Record<string, unknown> {
  return {
    field: c.field, position: c.position,
    old: c.old === undefined ? null : hex(c.old), new: c.new === undefined ? null : hex(c.new),
    oldText: c.oldText, newText: c.newText, used: c.used,
  };
}

function groupData(g: FieldChangeGroup): Record<string, unknown> {
  return { sid: hex(g.sid), line: g.line, places: g.places, changes: g.changes.map(fieldData) };
}

function findingData(f: Finding): Record<string, unknown> {
  return {
    subject: f.subject, message: f.message, traceLine: f.traceLine ?? null, a: f.a, b: f.b,
    rows: f.rows.map((r) => ({ side: r.side, text: r.text })), fields: f.fields.map(groupData), detail: f.detail ?? null,
  };
}

function caseData(c: CaseResult): Record<string, unknown> {
  return { name: c.name, status: c.status, note: c.note ?? null, reproduce: c.reproduce ?? null, findings: c.findings.map(findingData) };
}

export function formatJson(r: RunResult): string {
  const data = {
    command: r.command,
    summary: counts(r),
    traces: r.traces.map((t) => ({ trace: t.trace, title: t.title ?? null, ok: traceOk(t), cases: t.cases.map(caseData) })),
  };
  return JSON.stringify(data, null, 2) + '\n';
}

/** The trace line of a stream row (its first cell), when it has one. */
function rowLine(text: string): number | null {
  const n = Number(text.slice(0, text.indexOf(',')));
  return Number.isInteger(n) && n > 0 ? n : null;
}

export function formatJsonl(r: RunResult): string {
  const out: string[] = [];
  const emit = (o: Record<string, unknown>): void => { out.push(JSON.stringify(o)); };
  for (const t of r.traces) {
    for (const c of t.cases) {
      emit({ type: 'case', command: r.command, trace: t.trace, case: c.name, status: c.status, note: c.note ?? null, reproduce: c.reproduce ?? null, findings: c.findings.length });
      for (const f of c.findings) {
        emit({ type: 'finding', command: r.command, trace: t.trace, case: c.name, subject: f.subject, message: f.message, traceLine: f.traceLine ?? null, a: f.a, b: f.b });
        for (const row of f.rows) {
          emit({ type: 'row', command: r.command, trace: t.trace, case: c.name, subject: f.subject, side: row.side, source: row.side === 'a' ? f.a : f.b, line: rowLine(row.text), row: row.text });
        }
        for (const g of f.fields) {
          for (const ch of g.changes) {
            emit({ type: 'field', command: r.command, trace: t.trace, case: c.name, subject: f.subject, sid: hex(g.sid), line: g.line, places: g.places, ...fieldData(ch) });
          }
        }
      }
    }
  }
  emit({ type: 'summary', command: r.command, ...counts(r) });
  return out.join('\n') + '\n';
}

/** A KTAP description: any string of words without `#`. */
function ktapName(s: string): string {
  return s.replace(/#/g, '_').replace(/\s+/g, ' ').trim() || '-';
}

/** Diagnostic text on one line (`#` starts the line; nothing else is special). */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** How many STE field groups KTAP and text listings show per finding. */
const MAX_DIAG_GROUPS = 2;

/** The first differences of a finding as lines: message, first rows, field changes. */
export function findingLines(f: Finding): string[] {
  const out = [f.message];
  for (const r of f.rows.slice(0, MAX_DIAG_ROWS)) out.push(`${r.side === 'a' ? '-' : '+'}${r.text}`);
  if (f.rows.length > MAX_DIAG_ROWS) out.push(`... ${f.rows.length - MAX_DIAG_ROWS} more differing rows`);
  // Entries the SMMU used (at a cfgi or fetch) first, then the intermediate ones after stores.
  const used = (g: FieldChangeGroup): boolean => g.places.some((p) => / (cfgi|fetch)$/.test(p));
  const groups = [...f.fields.filter(used), ...f.fields.filter((g) => !used(g))];
  for (const g of groups.slice(0, MAX_DIAG_GROUPS)) out.push(...formatFieldGroup(g, f.a, f.b, false).map((l) => l.replace(/^# /, '')));
  if (f.fields.length > MAX_DIAG_GROUPS) out.push(`... ${f.fields.length - MAX_DIAG_GROUPS} more groups of STE field changes`);
  return out;
}

export function formatKtap(r: RunResult): string {
  const out = ['KTAP version 1', `1..${r.traces.length}`];
  r.traces.forEach((t, i) => {
    const ind = '  ';
    out.push(`${ind}KTAP version 1`, `${ind}1..${t.cases.length}`);
    t.cases.forEach((c, j) => {
      if (c.status === 'skip') {
        out.push(`${ind}ok ${j + 1} ${ktapName(c.name)} # SKIP ${oneLine(c.note ?? '')}`.trimEnd());
        return;
      }
      if (c.status === 'fail') {
        for (const f of c.findings) for (const l of findingLines(f)) out.push(`${ind}# ${oneLine(l)}`);
        if (c.reproduce) out.push(`${ind}# reproduce: ${oneLine(c.reproduce)}`);
      } else if (c.note) {
        out.push(`${ind}# ${oneLine(c.note)}`);
      }
      out.push(`${ind}${c.status === 'pass' ? 'ok' : 'not ok'} ${j + 1} ${ktapName(c.name)}`);
    });
    const failed = t.cases.filter((c) => c.status === 'fail').length;
    if (failed) out.push(`# ${oneLine(t.trace)}${t.title ? ` (${oneLine(t.title)})` : ''}: ${failed} of ${t.cases.length} failed`);
    out.push(`${traceOk(t) ? 'ok' : 'not ok'} ${i + 1} ${ktapName(t.trace)}`);
  });
  const n = counts(r);
  out.push(`# ${r.command}: ${n.cases} cases, ${n.passed} ok, ${n.failed} not ok, ${n.skipped} skipped`);
  return out.join('\n') + '\n';
}

/** XML 1.0 text: escaped; the control characters XML cannot hold are written as \xNN. */
function xml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function formatJunit(r: RunResult): string {
  const n = counts(r);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(`smmu-replay ${r.command}`)}" tests="${n.cases}" failures="${n.failed}" errors="0" skipped="${n.skipped}">`,
  ];
  for (const t of r.traces) {
    const f = t.cases.filter((c) => c.status === 'fail').length;
    const s = t.cases.filter((c) => c.status === 'skip').length;
    out.push(`  <testsuite name="${xml(t.trace)}" tests="${t.cases.length}" failures="${f}" errors="0" skipped="${s}">`);
    if (t.title) out.push(`    <properties><property name="cases" value="${xml(t.title)}"/></properties>`);
    for (const c of t.cases) {
      const open = `    <testcase classname="${xml(t.trace)}" name="${xml(c.name)}"`;
      if (c.status === 'pass') {
        out.push(`${open}/>`);
      } else if (c.status === 'skip') {
        out.push(`${open}>`, `      <skipped message="${xml(c.note ?? '')}"/>`, '    </testcase>');
      } else {
        const first = c.findings[0];
        const message = first ? first.message : (c.note ?? 'failed');
        const body = [
          ...c.findings.flatMap((x) => (x.detail ? [x.message, x.detail.replace(/\n$/, '')] : findingLines(x))),
          ...(c.reproduce ? [`reproduce: ${c.reproduce}`] : []),
        ].join('\n');
        out.push(`${open}>`, `      <failure type="difference" message="${xml(oneLine(message))}">${xml(body)}</failure>`, '    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

/** A plain listing: one line per case, the findings of failures under it, a count line. */
export function formatText(r: RunResult): string {
  const out: string[] = [];
  for (const t of r.traces) {
    out.push(`== ${t.trace}${t.title ? `: ${t.title}` : ''}`);
    for (const c of t.cases) {
      const tag = c.status === 'pass' ? 'ok  ' : c.status === 'skip' ? 'skip' : 'FAIL';
      out.push(`${tag} ${c.name}${c.note ? `: ${c.note}` : ''}`);
      if (c.status !== 'fail') continue;
      for (const f of c.findings) for (const l of findingLines(f)) out.push(`     ${l}`);
      if (c.reproduce) out.push(`     reproduce: ${c.reproduce}`);
    }
  }
  const n = counts(r);
  out.push(`${n.cases} cases: ${n.passed} ok, ${n.failed} failing, ${n.skipped} skipped`);
  return out.join('\n') + '\n';
}

export function formatResult(r: RunResult, f: OutputFormat): string {
  switch (f) {
    case 'json': return formatJson(r);
    case 'jsonl': return formatJsonl(r);
    case 'ktap': return formatKtap(r);
    case 'junit': return formatJunit(r);
    case 'text': return formatText(r);
  }
}
