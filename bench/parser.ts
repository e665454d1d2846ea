/**
 * The parser investigation behind src/trace/records.ts and the parser's fast
 * paths (docs/performance.md, "Where the time went"): how fast each way of
 * turning the bench's DMA trace into rows is, measured in one run.
 *
 *   npm run build && node dist/bench/parser.js [--runs N]
 *
 * csv-parse is run with the options the reader used before (comment lines,
 * relaxed column count, trim, BOM, per-record info); on the trace as it is
 * (rows of different lengths) it is so slow that it reads a 100,000-row
 * prefix.
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as csvParse, type Options } from 'csv-parse';
import { readTraceBatchesParallel } from '../src/trace/parallel.js';
import { parseDmaLineFast, parseRow, parseRowGeneral, readTraceBatches } from '../src/trace/parse.js';
import { RecordSplitter } from '../src/trace/records.js';
import { dmaTrace } from './traces.js';

const argv = process.argv.slice(2);
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Math.max(1, Number(argv[runsArg + 1])) : 3;

const OLD_OPTIONS: Options = { comment: '#', comment_no_infix: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, info: true };

async function median(f: () => Promise<number> | number): Promise<{ rows: number; ms: number }> {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    rows = await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { rows, ms: ms[ms.length >> 1]! };
}

async function csvParseRows(path: string, o: Options): Promise<number> {
  let n = 0;
  for await (const _r of createReadStream(path).pipe(csvParse(o))) n++;
  return n;
}

/** The splitter over the file's text in 256 KiB chunks, with a handler per record (and per plain line). */
function split(text: string, onRecord: (line: number, cells: string[]) => void, onPlain?: (line: number, t: string) => boolean): void {
  const s = new RecordSplitter('t.csv', onRecord, onPlain);
  for (let i = 0; i < text.length; i += 256 * 1024) s.push(text.slice(i, i + 256 * 1024));
  s.end();
}

const tmp = mkdtempSync(join(tmpdir(), 'smmu-parser-'));
try {
  const trace = join(tmp, 'dma.csv');
  dmaTrace(trace, 1_000_000);
  const text = readFileSync(trace, 'utf8');
  const lines = text.split('\n');
  const prefix = join(tmp, 'dma-100k.csv');
  writeFileSync(prefix, lines.slice(0, 100_005).join('\n') + '\n');
  const uniform = join(tmp, 'dma-only.csv');
  writeFileSync(uniform, lines.filter((l) => l.startsWith('dma,')).join('\n') + '\n');

  const rows: [string, { rows: number; ms: number }][] = [];
  const add = async (what: string, f: () => Promise<number> | number): Promise<void> => {
    const r = await median(f);
    rows.push([what, r]);
    process.stderr.write(`  ${what}: ${Math.round((r.rows * 1000) / r.ms / 1000)} k rows/s\n`);
  };
  await add('csv-parse, former options, the trace (100,000-row prefix)', () => csvParseRows(prefix, OLD_OPTIONS));
  await add('csv-parse, former options, info off, the trace (prefix)', () => csvParseRows(prefix, { ...OLD_OPTIONS, info: false }));
  await add('csv-parse, former options, DMA rows only (all one length)', () => csvParseRows(uniform, OLD_OPTIONS));
  await add('csv-parse, info off, DMA rows only', () => csvParseRows(uniform, { ...OLD_OPTIONS, info: false }));
  await add('csv-parse, info off, no trim, DMA rows only', () => csvParseRows(uniform, { ...OLD_OPTIONS, info: false, trim: false }));
  await add('splitter: records only (text in memory)', () => {
    let n = 0;
    split(text, () => { n++; });
    return n;
  });
  await add('splitter + general row parser', () => {
    let n = 0;
    split(text, (line, cells) => { parseRowGeneral('t.csv', line, cells); n++; });
    return n;
  });
  await add('splitter + row parser with the fast path', () => {
    let n = 0;
    split(text, (line, cells) => { parseRow('t.csv', line, cells); n++; });
    return n;
  });
  await add('splitter + whole-line dma parser + row parser', () => {
    let n = 0;
    split(text, (line, cells) => { parseRow('t.csv', line, cells); n++; }, (line, t) => {
      if (!parseDmaLineFast(line, t)) return false;
      n++;
      return true;
    });
    return n;
  });
  await add('reader (file, streaming: the above, read in chunks)', async () => {
    let n = 0;
    for await (const b of readTraceBatches(trace)) n += b.length;
    return n;
  });
  await add('reader on the parse thread (rows packed, sent, unpacked here)', async () => {
    let n = 0;
    for await (const b of readTraceBatchesParallel(trace)) n += b.length;
    return n;
  });
  process.stdout.write(`Parser stages on the bench's DMA trace (1,000,004 rows), median of ${RUNS} runs:\n\n| stage | rows/s |\n|---|---|\n`);
  for (const [what, r] of rows) process.stdout.write(`| ${what} | ${Math.round((r.rows * 1000) / r.ms / 1000)} k |\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
