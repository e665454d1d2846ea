/**
 * Unified diffs of output streams, with the field-level STE differences under
 * each hunk: the one implementation behind `check` (golden -> actual) and
 * `compare` (variant A -> variant B, raw and --semantic).
 *
 * The diff text is what createTwoFilesPatch makes (git-style headers, three
 * lines of context); after each hunk of an STE stream come `#` lines naming,
 * for each pair of rows the hunk replaces, the STE fields that differ
 * (steFields.ts).  The same result carries the hunks as data for the other
 * output formats and the HTML report.
 */
import { formatPatch, OMIT_HEADERS, FILE_HEADERS_ONLY, structuredPatch, type StructuredPatch } from 'diff';
import { formatFieldGroup, hunkFieldChanges, isSteStream, parseSteStream, type FieldChangeGroup, type SteStreamRow } from './steFields.js';
import { paint, paintDiff } from './io.js';

/** One side of a diff. */
export interface DiffSide {
  /** Name in the field lines (`golden`, a variant). */
  readonly label: string;
  /** Name in the `---`/`+++` header. */
  readonly file: string;
  readonly text: string;
  /** Structured STE rows by the text's line number (1 = header), when the text is an STE stream. */
  readonly rows?: ReadonlyMap<number, SteStreamRow>;
}

export interface DiffHunk {
  /** `@@ -a,b +c,d @@` */
  readonly header: string;
  /** Hunk body, each line with its ' ', '-' or '+' prefix. */
  readonly lines: readonly string[];
  readonly fields: readonly FieldChangeGroup[];
}

export interface StreamDiff {
  readonly a: string;
  readonly b: string;
  readonly semantic: boolean;
  readonly hunks: readonly DiffHunk[];
  /** Rows only in A / only in B (as sets of lines), and the first trace line among them. */
  readonly onlyA: readonly string[];
  readonly onlyB: readonly string[];
  readonly firstLine: number | undefined;
  /** The `---`/`+++` header lines. */
  readonly header: string;
  /** A line after the hunks saying what the diff leaves out (files too large to diff whole). */
  readonly note?: string;
  /** onlyA, onlyB and firstLine count the rows of a window of the files only (files too large to read whole). */
  readonly countsOfWindow?: boolean;
}

/** The STE rows of a side: given, or parsed when the text is an STE stream. */
function steRows(s: DiffSide): ReadonlyMap<number, SteStreamRow> | undefined {
  return s.rows ?? (isSteStream(s.text) ? parseSteStream(s.text) : undefined);
}

/**
 * An exact diff costs time in proportion to the lines times the edits
 * (Myers), which is hours for two streams that differ in every one of 100,000
 * rows.  So the lines the two sides have in common at the start and at the end
 * are set aside first (a linear scan); when what remains is at most
 * EXACT_REGION_LINES lines, or its exact diff needs at most EXACT_EDITS
 * edits, the diff is exact; otherwise it is the exact diff of the first
 * WINDOW_LINES lines of each side from the first difference, with a note.
 * Both bounds are counts, not time, so the output is the same on every run.
 */
const EXACT_REGION_LINES = 20_000;
const EXACT_EDITS = 2_000;
const WINDOW_LINES = 200;

/** The structured patch of two stream texts within the bounds above, and a note when it is partial. */
function boundedPatch(a: DiffSide, b: DiffSide): { patch: StructuredPatch; note: string | undefined } {
  const textLines = (t: string) => (t.endsWith('\n') ? t.slice(0, -1) : t).split('\n');
  const la = textLines(a.text);
  const lb = textLines(b.text);
  let head = 0;
  while (head < la.length && head < lb.length && la[head] === lb[head]) head++;
  let tail = 0;
  while (tail < la.length - head && tail < lb.length - head && la[la.length - 1 - tail] === lb[lb.length - 1 - tail]) tail++;
  const restA = la.length - head - tail;
  const restB = lb.length - head - tail;
  if (restA + restB <= EXACT_REGION_LINES) {
    const exact = structuredPatch(a.file, b.file, a.text, b.text, undefined, undefined, { context: 3, maxEditLength: EXACT_EDITS });
    if (exact) return { patch: exact, note: undefined };
  }
  // The first WINDOW_LINES lines of each side from the first difference, with three lines of
  // context before them, diffed exactly and numbered as lines of the whole texts.
  const from = Math.max(0, head - 3);
  const window = (l: readonly string[]) => l.slice(from, Math.min(l.length, head + WINDOW_LINES)).map((x) => `${x}\n`).join('');
  const part = structuredPatch(a.file, b.file, window(la), window(lb), undefined, undefined, { context: 3 });
  return {
    patch: { ...part, hunks: part.hunks.map((h) => ({ ...h, oldStart: h.oldStart + from, newStart: h.newStart + from })) },
    note: `(${restA} and ${restB} lines differ from line ${head + 1} on: too many to diff exactly; this is the diff of their first ${WINDOW_LINES}, the rest is not shown)`,
  };
}

/** Diff two sides of a stream; undefined when the texts are equal. */
export function diffStream(a: DiffSide, b: DiffSide, semantic = false): StreamDiff | undefined {
  if (a.text === b.text) return undefined;
  const { patch, note } = boundedPatch(a, b);
  const ra = steRows(a);
  const rb = steRows(b);
  const hunks: DiffHunk[] = patch.hunks.map((h) => {
    const removed: SteStreamRow[] = [];
    const added: SteStreamRow[] = [];
    let ia = h.oldStart;
    let ib = h.newStart;
    for (const l of h.lines) {
      if (l.startsWith('-')) {
        const r = ra?.get(ia);
        if (r) removed.push(r);
        ia++;
      } else if (l.startsWith('+')) {
        const r = rb?.get(ib);
        if (r) added.push(r);
        ib++;
      } else if (l.startsWith(' ')) {
        ia++;
        ib++;
      }
    }
    const header = formatPatch({ ...patch, hunks: [h] }, OMIT_HEADERS).split('\n')[0]!;
    return { header, lines: h.lines, fields: ra && rb ? hunkFieldChanges(removed, added) : [] };
  });
  const setA = new Set(a.text.split('\n'));
  const setB = new Set(b.text.split('\n'));
  const onlyA = [...setA].filter((l) => l && !setB.has(l));
  const onlyB = [...setB].filter((l) => l && !setA.has(l));
  // The first trace line among them (a loop, not Math.min(...): a spread of 200,000 values overflows the stack).
  let firstLine: number | undefined;
  for (const l of [onlyA, onlyB]) {
    for (const row of l) {
      const n = Number(row.slice(0, row.indexOf(',')));
      if (Number.isInteger(n) && n > 0 && (firstLine === undefined || n < firstLine)) firstLine = n;
    }
  }
  return {
    a: a.label, b: b.label, semantic, hunks, onlyA, onlyB, firstLine,
    header: formatPatch({ ...patch, hunks: [] }, FILE_HEADERS_ONLY),
    ...(note ? { note } : {}),
  };
}

/** The field lines under one hunk. */
export function hunkFieldLines(d: StreamDiff, h: DiffHunk): string[] {
  return h.fields.flatMap((g) => formatFieldGroup(g, d.a, d.b, d.semantic));
}

/** The diff as text: unified diff, field lines under each hunk (dim on a terminal). */
export function renderDiff(d: StreamDiff, colour: boolean): string {
  let out = paintDiff(colour, d.header);
  for (const h of d.hunks) {
    out += paintDiff(colour, [h.header, ...h.lines].join('\n') + '\n');
    for (const l of hunkFieldLines(d, h)) out += paint(colour, 'dim', l) + '\n';
  }
  if (d.note) out += d.note + '\n';
  return out;
}

/** `N rows only in A, M only in B; first at trace line L` (with the sides' names given). */
export function rowDelta(d: StreamDiff, a = 'A', b = 'B'): string {
  const first = d.firstLine !== undefined ? `; first at trace line ${d.firstLine}` : '';
  const where = d.countsOfWindow ? ' (in the part compared)' : '';
  return `${d.onlyA.length} row${d.onlyA.length === 1 ? '' : 's'} only in ${a}, ${d.onlyB.length} only in ${b}${first}${where}`;
}

/**
 * The semantic projection of an STE stream: what the SMMU could use at each
 * trace line.  Store rows go (a store is not visible until a CFGI_STE), the
 * raw doubleword columns go, and a cfgi row that repeats the previous row of
 * the same StreamID on the same line (another sync of an unchanged entry)
 * goes: sync counts are compared in the summary table instead.  Each row
 * keeps the entry of the raw row it came from.
 */
export function semanticSteSide(label: string, file: string, text: string): DiffSide {
  const raw = parseSteStream(text);
  const out = ['line,sid,action,state,summary'];
  const rows = new Map<number, SteStreamRow>();
  const last = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const r = raw.get(i + 1);
    if (!r || r.action === 'store') continue;
    const cells = lines[i]!.split(',');
    const row = [cells[0], cells[1], cells[2], cells[5], cells.slice(6).join(',')].join(',');
    const key = `${cells[0]},${cells[1]}`;
    if (r.action === 'cfgi' && last.get(key) === row) continue;
    last.set(key, row);
    out.push(row);
    rows.set(out.length, r);
  }
  return { label, file, text: out.join('\n') + '\n', rows };
}
