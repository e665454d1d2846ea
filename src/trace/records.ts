/**
 * CSV records of a trace file: text in, `(line, cells)` out.
 *
 * Almost every line of a trace is a plain record: no quotes, cells separated
 * by commas.  Those are split here by hand (splitting at commas and trimming
 * is what csv-parse does to such a line, at about forty times its speed on
 * trace rows: see docs/performance.md).  A record holding a double quote is
 * handed to csv-parse, which stays the authority on RFC 4180 quoting; a
 * quoted cell may run over several lines, so the lines are gathered until the
 * quotes balance.
 *
 * The file syntax (docs/trace-format.md): UTF-8, an optional byte-order mark
 * at the start, LF or CRLF line ends, `#` comment lines (the first non-blank
 * character), blank lines ignored, cells trimmed.  Line numbers count every
 * LF, so they are the lines an editor shows.  What csv-parse would have
 * accepted with a silently shifted line number (a carriage return that ends
 * no line, a byte-order mark in the middle of the file) is refused here with
 * its location.
 */
import { parse as csvParseSync } from 'csv-parse/sync';
import { TraceError } from './format.js';

/** Called for each record: its line (the last line, for a record spanning lines) and trimmed cells. */
export type RecordHandler = (line: number, cells: string[]) => void;

/**
 * Offered each plain line (no quote, no refused character, not blank, not a
 * comment, without its line end) before it is split; returns true when it
 * took the line whole, false to have it split into cells for the RecordHandler.
 */
export type PlainLineHandler = (line: number, text: string) => boolean;

/** csv-parse options for a quoted record; the same as the whole-file parser used before. */
const CSV_OPTIONS = {
  comment: '#', comment_no_infix: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, info: true,
} as const;

/**
 * A quoted cell may span lines, but a trace never needs that: a record that
 * has not closed its quotes within this many lines is refused (an unclosed
 * quote must not make the reader hold the rest of a large file).
 */
export const MAX_RECORD_LINES = 64;

/**
 * The longest line a trace may have, in characters.  A row is at most a few
 * hundred; a longer line (a file without line ends, a decompression bomb) is
 * refused at this length instead of being held in memory whole.
 */
export const MAX_LINE_CHARS = 1 << 20;

/**
 * Characters a trace line may not hold: C0 controls other than tab (a CR is
 * allowed only right before the LF), DEL, U+FEFF after the start of the file,
 * and U+FFFD (what invalid UTF-8 decodes to).
 */
// eslint-disable-next-line no-control-regex
const BAD_CHAR = /[\u0000-\u0008\u000b-\u001f\u007f\ufeff\ufffd]/;

/** The problem a refused character stands for. */
export function badCharProblem(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code === 0x0d) return 'a carriage return that does not end the line (line ends are LF or CRLF)';
  if (code === 0xfeff) return 'a byte-order mark (U+FEFF) after the start of the file (only the file may begin with one; were files concatenated?)';
  return `binary or non-UTF-8 data (character 0x${code.toString(16)}); a trace is CSV text`;
}

/** Whether a character is white space to csv-parse's trim and to String.prototype.trim (the same set). */
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || (code >= 0x0a && code <= 0x0d) || code === 0xa0 || code === 0x1680
    || (code >= 0x2000 && code <= 0x200a) || code === 0x2028 || code === 0x2029 || code === 0x202f || code === 0x205f
    || code === 0x3000 || code === 0xfeff;
}

/**
 * Splits decoded text into records.  Feed it with `push` (chunks may end
 * anywhere, also inside a line) and finish with `end`.
 */
export class RecordSplitter {
  /** Lines completed so far (the number of LFs seen). */
  private lines = 0;
  /** Text of the line not yet ended by an LF. */
  private carry = '';
  /** Lines of a quoted record not yet closed, with its first line's number. */
  private quoted: string[] | undefined;
  private quotedFirst = 0;
  private atStart = true;
  /** Set when the input ended without an LF after its last line (a cut-off file shows this way). */
  unterminated = false;

  constructor(private readonly file: string, private readonly onRecord: RecordHandler, private readonly onPlainLine?: PlainLineHandler) {}

  /** Line number of the line being read (for an error met between lines, such as a truncated gzip stream). */
  get currentLine(): number {
    return this.lines + 1;
  }

  push(text: string): void {
    let s = text;
    if (this.atStart && s.length > 0) {
      this.atStart = false;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    let from = 0;
    let nl = s.indexOf('\n');
    if (this.carry.length + (nl < 0 ? s.length : nl) > MAX_LINE_CHARS) this.tooLong();
    if (nl < 0) {
      this.carry += s;
      return;
    }
    if (this.carry !== '') {
      const first = this.carry + s.slice(0, nl);
      this.carry = '';
      this.line(first);
      from = nl + 1;
      nl = s.indexOf('\n', from);
    }
    // A chunk without quotes, refused characters or an open quoted record (nearly every chunk) is
    // split line by line without the per-line checks: one scan of the chunk stands for them.
    const quick = !this.quoted && s.indexOf('"', from) < 0 && !chunkNeedsCare(s, from);
    while (nl >= 0) {
      if (nl - from > MAX_LINE_CHARS) this.tooLong();
      if (quick) this.plainLine(s.slice(from, nl));
      else this.line(s.slice(from, nl));
      from = nl + 1;
      nl = s.indexOf('\n', from);
    }
    this.carry = s.slice(from);
    if (this.carry.length > MAX_LINE_CHARS) this.tooLong();
  }

  /** Refuse the line being read (the one after the last completed) for its length. */
  private tooLong(): never {
    throw new TraceError(this.file, this.lines + 1, `the line is longer than ${MAX_LINE_CHARS} characters (a trace row has at most a few hundred): not a trace, or a file without line ends?`);
  }

  /** End of input: the last line (which may lack its LF) and any quoted record still open. */
  end(): void {
    if (this.carry !== '') {
      const last = this.carry;
      this.carry = '';
      this.unterminated = true;
      this.line(last, true);
    }
    if (this.quoted) this.tryQuoted(true);
  }

  /** A line of a chunk known to hold no quote and no refused character. */
  private plainLine(raw: string): void {
    this.lines++;
    const n = raw.length;
    if (n === 0) return;
    const c0 = raw.charCodeAt(0);
    if (c0 === 0x23) return; // '#'
    if (isBlank(c0)) return this.line(raw, false, true);
    const text = raw.charCodeAt(n - 1) === 0x0d ? raw.slice(0, -1) : raw;
    if (this.onPlainLine?.(this.lines, text)) return;
    const cells = text.split(',');
    for (let k = 0; k < cells.length; k++) cells[k] = cells[k]!.trim();
    this.onRecord(this.lines, cells);
  }

  /** One line without its LF. */
  private line(raw: string, last = false, counted = false): void {
    if (!counted) this.lines++;
    // A CR right before the LF is part of the line end (or ends the file: a CRLF cut short).
    const text = raw.charCodeAt(raw.length - 1) === 0x0d ? raw.slice(0, -1) : raw;
    if (this.quoted) {
      this.quoted.push(raw);
      this.tryQuoted(last);
      return;
    }
    // Blank lines and comment lines (first non-blank character '#').
    let i = 0;
    const n = text.length;
    while (i < n && isBlank(text.charCodeAt(i))) i++;
    if (i === n || text.charCodeAt(i) === 0x23) return;
    if (text.indexOf('"') >= 0) {
      this.quoted = [raw];
      this.quotedFirst = this.lines;
      this.tryQuoted(last);
      return;
    }
    const bad = BAD_CHAR.exec(text);
    if (bad) throw new TraceError(this.file, this.lines, badCharProblem(bad[0]), columnAt(text, bad.index));
    const cells = text.split(',');
    for (let k = 0; k < cells.length; k++) cells[k] = cells[k]!.trim();
    this.onRecord(this.lines, cells);
  }

  /**
   * A record with quotes: csv-parse reads the lines gathered so far.  If a
   * quoted cell is still open at the end of them, the record goes on with the
   * next line (so the lines gathered always hold one record, which ends at the
   * last of them, or a syntax error).
   */
  private tryQuoted(atEnd: boolean): void {
    const lines = this.quoted!;
    const first = this.quotedFirst;
    let records: { record: string[]; info: { lines: number } }[];
    try {
      records = csvParseSync(lines.join('\n') + '\n', CSV_OPTIONS) as unknown as typeof records;
    } catch (e) {
      if ((e as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED' && !atEnd) {
        if (lines.length >= MAX_RECORD_LINES) {
          throw new TraceError(this.file, first, `CSV syntax: a quoted cell is still open ${MAX_RECORD_LINES} lines later (a missing closing quote?)`);
        }
        return;
      }
      this.quoted = undefined;
      throw csvError(e, this.file, first, this.lines);
    }
    this.quoted = undefined;
    // csv-parse's own line count is not used: it counts a CRLF inside a quoted cell as two lines.
    for (const r of records) {
      if (r.record.length === 1 && r.record[0] === '') continue;
      checkCells(this.file, this.lines, r.record);
      this.onRecord(this.lines, r.record);
    }
  }
}

/** Refused characters (a CR is looked at apart: one before an LF is a line end) in a chunk from `from` on. */
// eslint-disable-next-line no-control-regex
const CHUNK_REFUSED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff\ufffd]/g;
const LONE_CR = /\r(?!\n)/g;

function chunkNeedsCare(s: string, from: number): boolean {
  CHUNK_REFUSED.lastIndex = from;
  if (CHUNK_REFUSED.test(s)) return true;
  // (Two scans, the second only for text with CRs, cost half of one scan for either.)
  if (s.indexOf('\r', from) < 0) return false;
  LONE_CR.lastIndex = from;
  return LONE_CR.test(s);
}

/** 1-based cell number of a character position in an unquoted line. */
function columnAt(text: string, index: number): number {
  let col = 1;
  for (let i = text.indexOf(','); i >= 0 && i < index; i = text.indexOf(',', i + 1)) col++;
  return col;
}

/** Refuse control characters in the cells of a quoted record (a quoted cell may hold a CR or LF). */
function checkCells(file: string, line: number, cells: readonly string[]): void {
  for (let i = 0; i < cells.length; i++) {
    // eslint-disable-next-line no-control-regex
    const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff\ufffd]/.exec(cells[i]!);
    if (m) throw new TraceError(file, line, badCharProblem(m[0]), i + 1);
  }
}

/** A csv-parse error as a located TraceError (its own line numbers count from the record's first line). */
function csvError(e: unknown, file: string, first: number, last: number): Error {
  const err = e as Error & { code?: string; lines?: number; column?: number | string | null };
  if (typeof err.code !== 'string') return err;
  const line = Math.min(last, first - 1 + Math.max(1, err.lines ?? 1));
  const column = typeof err.column === 'number' ? err.column + 1 : undefined;
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new TraceError(file, first, 'CSV syntax: a quoted cell is not closed before the end of the file');
    case 'INVALID_OPENING_QUOTE':
      return new TraceError(file, line, 'CSV syntax: a quote inside an unquoted cell (quote the whole cell, and double a quote inside it)', column);
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return new TraceError(file, line, 'CSV syntax: a closing quote must end its cell (a comma or the end of the line must follow)', column);
    default:
      return new TraceError(file, line, `CSV syntax: ${err.message}`);
  }
}
