/**
 * The hand-written record splitter against csv-parse reading the whole file
 * (what the reader did before): on random text over the characters that
 * matter to CSV (commas, quotes, blanks, '#', '=', non-ASCII), with LF or
 * CRLF line ends and an optional byte-order mark, both give the same records
 * with the same line numbers, or both refuse the text.
 */
import { describe, expect, it } from '@jest/globals';
import { parse as csvParse } from 'csv-parse/sync';
import fc from 'fast-check';
import { TraceError } from '../../src/trace/format.js';
import { MAX_RECORD_LINES, RecordSplitter } from '../../src/trace/records.js';

type Outcome = { records: [number, string[]][] } | { error: true };

/**
 * The reader before this splitter: csv-parse over the whole text, with the
 * same options.  CRLF text is given to it with LF line ends: csv-parse counts
 * a CRLF inside a quoted cell as two lines, the splitter (rightly) as one, and
 * the cells are compared with CRLF inside them read as LF.
 */
function byCsvParse(text: string): Outcome {
  try {
    const out = csvParse(text, {
      comment: '#', comment_no_infix: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    return { records: out.filter((r) => !(r.record.length === 1 && r.record[0] === '')).map((r) => [r.info.lines, r.record]) };
  } catch {
    return { error: true };
  }
}

function bySplitter(text: string, chunk: number): Outcome {
  const records: [number, string[]][] = [];
  const s = new RecordSplitter('t.csv', (line, cells) => records.push([line, cells]));
  try {
    for (let i = 0; i < text.length; i += chunk) s.push(text.slice(i, i + chunk));
    s.end();
    return { records };
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return { error: true };
  }
}

function split(text: string): [number, string[]][] {
  const o = bySplitter(text, 1 << 20);
  if ('error' in o) throw new Error('refused');
  return o.records;
}

function splitError(text: string): TraceError {
  const s = new RecordSplitter('t.csv', () => undefined);
  try {
    s.push(text);
    s.end();
  } catch (e) {
    return e as TraceError;
  }
  throw new Error('accepted');
}

// Cells: mostly plain text (blanks, '#', '=', non-ASCII among it), some well-formed quoted cells (with a
// comma, an escaped quote, a '#' or a line end inside), and rarely a stray quote.
const plainCell = fc.array(fc.constantFrom('a', 'b', '1', '0x1f', ' ', '\t', '#', '=', 'é', '\u00a0', 'dma'), { maxLength: 4 }).map((p) => p.join(''));
const cellArb = fc.oneof(
  { weight: 20, arbitrary: plainCell },
  { weight: 3, arbitrary: fc.constantFrom('"q,1"', '"a""b"', '"#x"', '"two\nlines"', ' "" ', '"open\nx,1\n"') },
  { weight: 1, arbitrary: fc.constantFrom('"', 'a"b', '"a"b', '"x') },
);
const lineArb = fc.array(cellArb, { maxLength: 6 }).map((c) => c.join(','));
const fileArb = fc.record({
  lines: fc.array(lineArb, { maxLength: 12 }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  finalEol: fc.boolean(),
  chunk: fc.integer({ min: 1, max: 40 }),
}).map(({ lines, crlf, bom, finalEol, chunk }) => {
  const eol = crlf ? '\r\n' : '\n';
  const body = lines.join('\n') + (finalEol && lines.length ? '\n' : '');
  return { text: (bom ? '\ufeff' : '') + body.replace(/\n/g, eol), chunk };
});

describe('RecordSplitter agrees with csv-parse (fast-check, fixed seed)', () => {
  it('same records and line numbers, or both refuse, whatever the chunking', () => {
    let records = 0;
    let quoted = 0;
    let refused = 0;
    fc.assert(fc.property(fileArb, ({ text, chunk }) => {
      const want = byCsvParse(text.replace(/\r\n/g, '\n'));
      const got = bySplitter(text, chunk);
      if ('records' in got) for (const r of got.records) r[1] = r[1].map((c) => c.replace(/\r\n/g, '\n'));
      expect(got).toEqual(want);
      if ('records' in want) {
        records += want.records.length;
        if (text.includes('"')) quoted++;
      } else {
        refused++;
      }
    }), { seed: 0x5ec0, numRuns: 1000 });
    // The property is not vacuous: records were compared, quoted ones among them, and refusals too.
    // (With this seed: 1538 records, 346 accepted files with quotes, 397 refused files.)
    expect(records).toBeGreaterThan(1000);
    expect(quoted).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(200);
  });
});

describe('what the splitter does differently, on purpose', () => {
  it('counts lines by LF, also where csv-parse would have counted a stray CR', () => {
    // Line 1 ends in LF, line 2 in CRLF (mixed line ends): still lines 1, 2 and 3.
    expect(split('a,1\nb,2\r\nc,3\n').map(([l]) => l)).toEqual([1, 2, 3]);
  });
  it('refuses a CR that ends no line, and a byte-order mark after the start, with their location', () => {
    const cr = splitError('a,1\nb,x\ry\n');
    expect(cr.message).toBe('t.csv:2:2: a carriage return that does not end the line (line ends are LF or CRLF)');
    const bom = splitError('a,1\nb,2\n\ufeffc,3\n');
    expect(bom.message).toBe('t.csv:3:1: a byte-order mark (U+FEFF) after the start of the file (only the file may begin with one; were files concatenated?)');
  });
  it('a CRLF cut after its CR ends the last line', () => {
    expect(split('a,1\r\nb,2\r')).toEqual([[1, ['a', '1']], [2, ['b', '2']]]);
  });
  it('a quoted cell spanning lines is one record, at the line where it ends (as csv-parse numbers it)', () => {
    expect(split('meta,note,"two\nlines"\nx,1\n')).toEqual([[2, ['meta', 'note', 'two\nlines']], [3, ['x', '1']]]);
  });
  it('an unclosed quote is located at the line that opened it, and does not hold a whole file', () => {
    expect(splitError('a,1\nmeta,"open\nb,2\n').message).toBe('t.csv:2: CSV syntax: a quoted cell is not closed before the end of the file');
    const long = 'meta,"open\n' + 'x,1\n'.repeat(MAX_RECORD_LINES + 10);
    expect(splitError(long).message).toBe(`t.csv:1: CSV syntax: a quoted cell is still open ${MAX_RECORD_LINES} lines later (a missing closing quote?)`);
  });
  it('a quote inside an unquoted cell is refused at once, with its cell', () => {
    expect(splitError('a,1\nmeta,ab"c,1\n').message).toBe('t.csv:2:2: CSV syntax: a quote inside an unquoted cell (quote the whole cell, and double a quote inside it)');
  });
  it('control characters are refused in plain and in quoted records, naming the cell', () => {
    expect(splitError('a,1\nb,x\u0001y\n').message).toBe('t.csv:2:2: binary or non-UTF-8 data (character 0x1); a trace is CSV text');
    expect(splitError('a,"x\u0007"\n').message).toBe('t.csv:1:2: binary or non-UTF-8 data (character 0x7); a trace is CSV text');
  });
});
