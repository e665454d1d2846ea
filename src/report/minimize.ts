/**
 * `smmu-replay minimize <trace> --variant a [--against b | --golden] -o small.csv`:
 * shrink a trace to the rows a failure needs, by delta debugging over rows
 * (Zeller and Hildebrandt's ddmin, complement steps), deterministically.
 *
 * The failure is pinned to one trace line L of one stream and to the rows
 * the full trace produces there, so the search cannot drift to another
 * failure:
 * - default: the first failed `expect` under variant a (the `check` rows at
 *   its line in the fault stream);
 * - `--against b`: the first trace line where the streams of a and b differ
 *   (DMA stream first, then faults, then STE, or the one `--stream` names);
 *   both sides' rows there must stay as they were;
 * - `--golden`: the first trace line where a's streams differ from its golden
 *   files; a's rows there must stay as they were.
 * A candidate trace reproduces when replaying it gives exactly those rows at
 * that line.
 *
 * Rows are removed with what depends on them, so every candidate is a
 * consistent trace: an op naming a domain goes with the `domain_alloc` that
 * made it, a `detach` or `write_cd` with the `attach` of its StreamID;
 * `meta` rows and the row at line L (with what it depends on) stay.  Rows
 * keep their original line numbers during the search; the small trace is
 * written with a header comment naming them, then replayed from the file to
 * check that it still fails.
 */
import { readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { CachingPolicy } from '../model/caches.js';
import type { Profile } from '../model/profiles.js';
import { explainCheck } from '../oracle/deviations.js';
import { chooseVariants } from '../policy/registry.js';
import { Replay } from '../replay/engine.js';
import { profileFor, runTrace, scanTrace, type VariantRunSpec } from '../replay/run.js';
import type { StreamName } from '../replay/streams.js';
import { parseNumber, parseRow } from '../trace/parse.js';
import { RecordSplitter } from '../trace/records.js';
import { TraceError, type OpRow, type Row } from '../trace/format.js';
import { reportError, reproduceOptions } from './commands.js';
import { splitCsvLine, TextStreams } from './csv.js';
import { goldenPath, readGolden, traceStem, writeAtomically } from './golden.js';
import { EXIT_ERROR, EXIT_SAME, type Io } from './io.js';
import { diffStream } from './streamDiff.js';

export interface MinimizeOptions {
  readonly trace: string;
  readonly variant: string;
  readonly against: string | undefined;
  readonly golden: boolean;
  readonly goldenDir: string;
  readonly stream: StreamName | undefined;
  readonly out: string;
  /** undefined: the trace's own `meta,profile` row, else `default`. */
  readonly profile: Profile | undefined;
  readonly caching: CachingPolicy;
  readonly memoryCapPages?: number;
  /** --variant-file arguments, repeated in the reproduce command. */
  readonly variantFiles?: readonly string[];
  /** Upper bound on candidate replays (the search stops with what it has). */
  readonly maxTests?: number;
}

/** One data row of the trace: its parsed form and its text. */
interface TraceRow {
  readonly row: Row;
  readonly text: string;
}

/** The failure the search keeps: rows of one stream at one trace line, per side. */
interface Witness {
  readonly stream: StreamName;
  readonly line: number;
  /** Expected rows at `line` for each replayed variant (variant -> rows). */
  readonly rows: ReadonlyMap<string, readonly string[]>;
  /** Only `check` rows count (a failed expectation). */
  readonly checksOnly: boolean;
  readonly describe: string;
}

const STREAM_ORDER: readonly StreamName[] = ['dma', 'faults', 'ste'];

function cellText(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Bounds of the minimizer's input: it holds every row (with its text) and
 * replays subsets of them thousands of times, so a trace beyond these is
 * refused with a clear error rather than exhausting memory.
 */
export const MINIMIZE_MAX_ROWS = 1_000_000;
const MINIMIZE_MAX_TEXT = 256 << 20;

/** Read a trace's data rows with their cells (parse errors are the parser's own, located). */
async function readRows(path: string, display: string): Promise<TraceRow[]> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new Error(`${display}: no such file`);
    throw e;
  }
  const tooLarge = `${display}: more than ${MINIMIZE_MAX_TEXT >> 20} MiB of text: minimize holds the whole trace and replays it thousands of times; cut the trace around the failure first`;
  let text: string;
  try {
    text = path.endsWith('.gz') ? gunzipSync(buf, { maxOutputLength: MINIMIZE_MAX_TEXT }).toString('utf8') : buf.toString('utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(tooLarge);
    throw new Error(`${display}: not a valid gzip stream (${(e as Error).message})`);
  }
  if (text.length > MINIMIZE_MAX_TEXT) throw new Error(tooLarge);
  // The reader's own record splitter and row parser: the same rows, line numbers and errors as a replay.
  const rows: TraceRow[] = [];
  const splitter = new RecordSplitter(display, (line, cells) => {
    if (rows.length >= MINIMIZE_MAX_ROWS) {
      throw new TraceError(display, line, `more than ${MINIMIZE_MAX_ROWS} rows: minimize holds every row and replays them thousands of times; cut the trace around the failure first`);
    }
    rows.push({ row: parseRow(display, line, cells), text: cells.map(cellText).join(',') });
  });
  splitter.push(text);
  splitter.end();
  if (rows.length === 0) throw new TraceError(display, 1, 'the trace has no rows (only comments and blank lines)');
  return rows;
}

/** Indices of the earlier rows each row needs (driver-operation dependencies). */
export function dependencies(rows: readonly Row[]): number[][] {
  const domains = new Map<string, number>();
  const attached = new Map<string, number>();
  return rows.map((r, i) => {
    if (r.kind !== 'op') return [];
    const op = r as OpRow;
    const deps: number[] = [];
    const dom = op.name === 'domain_free' ? op.args.id : op.args.domain;
    if (dom !== undefined && domains.has(dom)) deps.push(domains.get(dom)!);
    // StreamIDs by value, however they are written (0x10, 16, 0x0010)
    const sids = (op.args.sid ?? '').split('|').map((s) => s.trim()).filter(Boolean).map((s) => {
      const v = parseNumber(s);
      return typeof v === 'bigint' ? v.toString() : s;
    });
    if (op.name === 'detach' || op.name === 'write_cd') for (const s of sids) if (attached.has(s)) deps.push(attached.get(s)!);
    if (op.name === 'domain_alloc' && op.args.id !== undefined) domains.set(op.args.id, i);
    if (op.name === 'attach') for (const s of sids) attached.set(s, i);
    return [...new Set(deps)].sort((a, b) => a - b);
  });
}

interface Replayed {
  readonly streams: Map<string, TextStreams>;
}

function replayRows(rows: readonly Row[], specs: readonly VariantRunSpec[], o: MinimizeOptions & { profile: Profile }, display: string): Replayed {
  const streams = new Map<string, TextStreams>();
  const replays = specs.map((v) => {
    const s = new TextStreams();
    streams.set(v.name, s);
    return new Replay({
      file: display, variant: v.name, profile: o.profile, caching: o.caching, driver: v.makeDriver?.(display), explain: explainCheck,
      ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}),
    }, s);
  });
  for (const row of rows) for (const r of replays) r.apply(row);
  for (const r of replays) r.finish();
  return { streams };
}

/** The rows of a stream's text at one trace line (with `lineOf` mapping the first cell to an original line). */
function rowsAt(text: string, line: number, checksOnly: boolean, lineOf: (n: number) => number = (n) => n): string[] {
  const out: string[] = [];
  for (const l of text.split('\n').slice(1)) {
    if (!l) continue;
    const i = l.indexOf(',');
    if (lineOf(Number(l.slice(0, i))) !== line) continue;
    if (checksOnly && splitCsvLine(l)[1] !== 'check') continue;
    out.push(l.slice(i + 1));
  }
  return out;
}

/** The first stream (DMA, faults, STE, or `only`) where `a` and `b` differ, and its first differing trace line. */
function firstDiffering(a: TextStreams, b: (s: StreamName) => string | undefined, only: StreamName | undefined): { stream: StreamName; line: number } | undefined {
  for (const s of only ? [only] : STREAM_ORDER) {
    const tb = b(s);
    if (tb === undefined) continue;
    const d = diffStream({ label: 'a', file: 'a', text: a.get(s) }, { label: 'b', file: 'b', text: tb });
    if (d?.firstLine !== undefined) return { stream: s, line: d.firstLine };
  }
  return undefined;
}

function reproduces(w: Witness, r: Replayed, lineOf?: (n: number) => number): boolean {
  for (const [v, want] of w.rows) {
    const got = rowsAt(r.streams.get(v)!.get(w.stream), w.line, w.checksOnly, lineOf);
    if (got.length !== want.length || got.some((x, i) => x !== want[i])) return false;
  }
  return true;
}

/** Remove `drop` from `kept` with every kept row that depends on a removed one (deps point backwards). */
function removeWithDependents(kept: readonly number[], drop: ReadonlySet<number>, deps: readonly number[][]): number[] {
  const removed = new Set<number>();
  const out: number[] = [];
  for (const i of kept) {
    if (drop.has(i) || deps[i]!.some((d) => removed.has(d))) removed.add(i);
    else out.push(i);
  }
  return out;
}

/**
 * ddmin over `candidates` (indices, in order), complements only: split the
 * kept rows into n chunks; the first chunk whose removal still reproduces is
 * removed and n goes down by one (at least 2); when none can be removed, n
 * doubles, until chunks are single rows.  The result is 1-minimal: no single
 * row (with its dependents) can be removed.
 */
export function ddmin(candidates: readonly number[], test: (kept: readonly number[]) => boolean, remove: (kept: readonly number[], drop: ReadonlySet<number>) => number[], maxTests: number): { kept: number[]; tests: number; exhausted: boolean } {
  let kept = [...candidates];
  let n = 2;
  let tests = 0;
  const seen = new Map<string, boolean>();
  const run = (k: readonly number[]): boolean => {
    const key = k.join(',');
    const hit = seen.get(key);
    if (hit !== undefined) return hit;
    tests++;
    const ok = test(k);
    seen.set(key, ok);
    return ok;
  };
  while (kept.length > 0) {
    if (tests >= maxTests) return { kept, tests, exhausted: true };
    const size = Math.ceil(kept.length / n);
    let reduced = false;
    for (let c = 0; c * size < kept.length; c++) {
      const drop = new Set(kept.slice(c * size, (c + 1) * size));
      const trial = remove(kept, drop);
      if (trial.length === kept.length) continue;
      if (tests >= maxTests) return { kept, tests, exhausted: true };
      if (run(trial)) {
        kept = trial;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (n >= kept.length) break;
    n = Math.min(n * 2, kept.length);
  }
  return { kept, tests, exhausted: false };
}

export async function minimizeCommand(asked: MinimizeOptions, io: Io): Promise<number> {
  const abs = resolve(io.cwd, asked.trace);
  let o: MinimizeOptions & { profile: Profile };
  try {
    o = { ...asked, profile: profileFor(await scanTrace(abs), relative(io.cwd, abs) || asked.trace, asked.profile) };
  } catch (e) {
    return reportError(e, io);
  }
  const display = relative(io.cwd, abs) || o.trace;
  if (o.against !== undefined && o.golden) {
    io.stderr('smmu-replay: minimize: give --against or --golden, not both\n');
    return EXIT_ERROR;
  }
  if (o.against === o.variant) {
    io.stderr('smmu-replay: minimize: --against needs a variant other than --variant\n');
    return EXIT_ERROR;
  }
  let traceRows: TraceRow[];
  let specs: VariantRunSpec[];
  let full: Replayed;
  try {
    traceRows = await readRows(abs, display);
    const hasOps = traceRows.some((r) => r.row.kind === 'op');
    const chosen = chooseVariants(o.against !== undefined ? [o.variant, o.against] : [o.variant], hasOps);
    if (typeof chosen === 'string') throw new Error(`${display}: ${chosen}`);
    specs = chosen;
    full = replayRows(traceRows.map((r) => r.row), specs, o, display);
  } catch (e) {
    return reportError(e, io);
  }

  // The failure to keep.
  const a = full.streams.get(o.variant)!;
  let witness: Witness;
  if (o.against !== undefined) {
    const at = firstDiffering(a, (s) => full.streams.get(o.against!)!.get(s), o.stream);
    if (!at) {
      io.stderr(`smmu-replay: minimize: ${display}: ${o.variant} and ${o.against} agree${o.stream ? ` on the ${o.stream} stream` : ''}; nothing to minimize\n`);
      return EXIT_ERROR;
    }
    witness = {
      ...at, checksOnly: false,
      rows: new Map(specs.map((s) => [s.name, rowsAt(full.streams.get(s.name)!.get(at.stream), at.line, false)])),
      describe: `${o.variant} and ${o.against} differ in the ${at.stream} stream at trace line ${at.line}`,
    };
  } else if (o.golden) {
    const stem = traceStem(o.trace);
    const goldenOf = (s: StreamName): string | undefined => readGolden(goldenPath(resolve(io.cwd, o.goldenDir), stem, o.variant, s));
    if ((o.stream ? [o.stream] : STREAM_ORDER).every((s) => goldenOf(s) === undefined)) {
      io.stderr(`smmu-replay: minimize: no golden files for ${display} [${o.variant}] under ${o.goldenDir}/${stem}/\n`);
      return EXIT_ERROR;
    }
    const at = firstDiffering(a, goldenOf, o.stream);
    if (!at) {
      io.stderr(`smmu-replay: minimize: ${display} [${o.variant}] matches its golden files; nothing to minimize\n`);
      return EXIT_ERROR;
    }
    witness = {
      ...at, checksOnly: false, rows: new Map([[o.variant, rowsAt(a.get(at.stream), at.line, false)]]),
      describe: `${o.variant} differs from ${join(o.goldenDir, stem, `${o.variant}.${at.stream}.csv`)} at trace line ${at.line}`,
    };
  } else {
    const failed = a.get('faults').split('\n').slice(1).find((l) => { const c = splitCsvLine(l); return c[1] === 'check' && c[2] !== 'explained'; });
    if (!failed) {
      io.stderr(`smmu-replay: minimize: ${display} [${o.variant}] has no failed expectation; give --against <variant> or --golden to minimize a difference\n`);
      return EXIT_ERROR;
    }
    const line = Number(failed.slice(0, failed.indexOf(',')));
    witness = {
      stream: 'faults', line, checksOnly: true, rows: new Map([[o.variant, rowsAt(a.get('faults'), line, true)]]),
      describe: `failed expectation under ${o.variant} at trace line ${line}: ${splitCsvLine(failed).slice(6).join(',')}`,
    };
  }

  // What must stay: meta rows, the witness line's rows, and what they depend on.
  const rows = traceRows.map((r) => r.row);
  const deps = dependencies(rows);
  const pinned = new Set<number>();
  const pin = (i: number): void => {
    if (pinned.has(i)) return;
    pinned.add(i);
    for (const d of deps[i]!) pin(d);
  };
  rows.forEach((r, i) => { if (r.kind === 'meta' || r.line === witness.line) pin(i); });
  const candidates = rows.map((_, i) => i).filter((i) => !pinned.has(i));
  const test = (kept: readonly number[]): boolean => {
    const keep = new Set([...kept, ...pinned]);
    try {
      return reproduces(witness, replayRows(rows.filter((_, i) => keep.has(i)), specs, o, display));
    } catch {
      return false; // a candidate the model cannot replay (memory cap, say) does not reproduce
    }
  };
  const result = ddmin(candidates, test, (k, drop) => removeWithDependents(k, drop, deps), o.maxTests ?? 20000);
  const keep = new Set([...result.kept, ...pinned]);
  const kept = traceRows.filter((_, i) => keep.has(i));

  // The small trace: a header, then the rows in order.
  const variantArgs = o.against !== undefined ? `${o.variant} ${o.against}` : `--variant ${o.variant}`;
  const outRel = o.out;
  const reproduce = o.against !== undefined
    ? `smmu-replay compare ${outRel} ${variantArgs}${reproduceOptions(asked)}`
    : `smmu-replay replay ${outRel} ${variantArgs}${reproduceOptions(asked)}`;
  const header = [
    `# ${basename(o.out)}: minimized by smmu-replay minimize from ${display} (${kept.length} of ${traceRows.length} rows)`,
    `# failure kept: ${witness.describe}`,
    `# reproduce: ${reproduce}`,
    `# original line of each row, in order: ${kept.map((r) => r.row.line).join(' ')}`,
  ];
  const text = [...header, ...kept.map((r) => r.text), ''].join('\n');
  const outAbs = resolve(io.cwd, o.out);
  try {
    writeAtomically([{ path: outAbs, text }]);
  } catch (e) {
    return reportError(e, io);
  }
  // Replay the written file as any command would and check the failure is there.
  const lineMap = new Map(kept.map((r, i) => [header.length + 1 + i, r.row.line]));
  const sinks = new Map<string, TextStreams>();
  try {
    await runTrace(outAbs, { profile: o.profile, caching: o.caching, variants: specs, displayName: o.out, explain: explainCheck, ...(o.memoryCapPages !== undefined ? { memoryCapPages: o.memoryCapPages } : {}) },
      (v) => { const s = new TextStreams(); sinks.set(v, s); return s; });
  } catch (e) {
    return reportError(e, io);
  }
  if (!reproduces(witness, { streams: sinks }, (n) => lineMap.get(n) ?? -1)) {
    io.stderr(`smmu-replay: minimize: internal error: ${o.out} does not reproduce the failure when replayed from the file\n`);
    return EXIT_ERROR;
  }
  const newLine = [...lineMap.entries()].find(([, orig]) => orig === witness.line)![0];
  const shown = [...witness.rows.entries()].flatMap(([v, r]) => [
    `${v} gives there:`, ...(r.length ? r.map((x) => `   ${newLine},${x}`) : ['   (no rows)']),
  ]);
  io.stdout([
    `${display}: ${witness.describe}`,
    `rows: ${traceRows.length} -> ${kept.length} (${result.tests} candidate replays${result.exhausted ? `; stopped at the limit of ${o.maxTests ?? 20000}, not minimal` : ''})`,
    `wrote ${o.out}; the failure is at its line ${newLine} (${witness.stream} stream)`,
    ...shown,
    `reproduce: ${reproduce}`,
    '',
  ].join('\n'));
  return EXIT_SAME;
}
