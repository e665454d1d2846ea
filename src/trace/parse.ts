/**
 * Trace parsing: CSV cells of one record to a typed Row, with located errors,
 * and the streaming reader over a file (plain or gzip).
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse as csvParse } from 'csv-parse';
import { commandByName, commandFieldMax, commandKeys } from '../model/commands.js';
import { isEventName } from '../model/events.js';
import { FRAME_SIZE, registerByName, resolveOffset } from '../model/registers.js';
import {
  KINDS, TraceError, type DmaAccess, type Expect, type Kind, type Row,
} from './format.js';

const U64_MAX = (1n << 64n) - 1n;
const DEC = /^[0-9]+$/;
const HEX = /^0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*$/;

/** Parse a number cell: decimal, or 0x hex with underscores between digits; 0 .. 2^64-1. */
export function parseNumber(text: string): bigint | string {
  if (DEC.test(text)) {
    const v = BigInt(text);
    return v > U64_MAX ? `${text} is above 2^64-1` : v;
  }
  if (HEX.test(text)) {
    const v = BigInt('0x' + text.slice(2).replace(/_/g, ''));
    return v > U64_MAX ? `${text} is above 2^64-1` : v;
  }
  if (/^-/.test(text)) return `${text} is negative`;
  return `'${text}' is not a number (decimal or 0x hex)`;
}

interface Cell {
  readonly text: string;
  readonly column: number;
}

/** Positional fields and key=value options of one record. */
class Record_ {
  readonly pos: Cell[] = [];
  readonly keys = new Map<string, Cell>();
  constructor(readonly file: string, readonly line: number, readonly kind: string) {}

  err(problem: string, column?: number): TraceError {
    return new TraceError(this.file, this.line, problem, column);
  }

  num(c: Cell, what: string, max: bigint = U64_MAX): bigint {
    const v = parseNumber(c.text);
    if (typeof v === 'string') throw this.err(`${what}: ${v}`, c.column);
    if (v > max) throw this.err(`${what}: 0x${v.toString(16)} is above the maximum 0x${max.toString(16)}`, c.column);
    return v;
  }

  positional(n: number, names: string[]): Cell[] {
    if (this.pos.length !== n) {
      throw this.err(`${this.kind} takes ${n} positional field${n === 1 ? '' : 's'} (${names.join(', ')}), found ${this.pos.length}`);
    }
    return this.pos;
  }

  /** Refuse keys this kind does not know. */
  allowKeys(allowed: readonly string[]): void {
    for (const [k, c] of this.keys) {
      if (!allowed.includes(k)) {
        throw this.err(`unknown key '${k}' for ${this.kind}${allowed.length ? ` (known: ${allowed.join(', ')})` : ' (it takes no keys)'}`, c.column);
      }
    }
  }

  optNum(key: string, what = key, max?: bigint): bigint | undefined {
    const c = this.keys.get(key);
    return c ? this.num(c, what, max) : undefined;
  }
}

/** Split cells into positional fields and key=value options (key= cells must come after positional ones). */
function splitCells(file: string, line: number, cells: readonly string[]): Record_ {
  const kind = (cells[0] ?? '').trim();
  const rec = new Record_(file, line, kind);
  let seenKey = false;
  for (let i = 1; i < cells.length; i++) {
    const text = cells[i]!.trim();
    const column = i + 1;
    const eq = text.indexOf('=');
    if (eq > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text.slice(0, eq))) {
      const k = text.slice(0, eq).toLowerCase();
      if (rec.keys.has(k)) throw rec.err(`key '${k}' given twice`, column);
      rec.keys.set(k, { text: text.slice(eq + 1).trim(), column });
      seenKey = true;
      continue;
    }
    if (text === '' && i === cells.length - 1) continue; // a trailing comma
    if (seenKey) throw rec.err(`positional field '${text}' after key=value options`, column);
    rec.pos.push({ text, column });
  }
  return rec;
}

function parseRegister(rec: Record_, c: Cell): { offset: number; reg: ReturnType<typeof registerByName> } {
  const byName = registerByName(c.text);
  if (byName) return { offset: byName.offset, reg: byName };
  const v = parseNumber(c.text);
  if (typeof v === 'string') throw rec.err(`unknown register '${c.text}' (a spec name such as CR0 or STRTAB_BASE, or a byte offset)`, c.column);
  if (v >= BigInt(FRAME_SIZE)) throw rec.err(`register offset 0x${v.toString(16)} is outside the 128 KiB SMMU frame`, c.column);
  const off = Number(v);
  if (off % 4 !== 0) throw rec.err(`register offset 0x${off.toString(16)} is not 4-byte aligned`, c.column);
  const hit = resolveOffset(off);
  return { offset: off, reg: hit && !hit.upper ? hit.reg : undefined };
}

function accessSize(rec: Record_, reg: ReturnType<typeof registerByName>, offset: number): 4 | 8 {
  const s = rec.optNum('size');
  if (s === undefined) return reg && reg.offset === offset && reg.width === 64 ? 8 : 4;
  if (s !== 4n && s !== 8n) throw rec.err(`size must be 4 or 8, not ${s}`, rec.keys.get('size')!.column);
  if (s === 8n && reg && reg.width !== 64) throw rec.err(`${reg.name} is a 32-bit register; size=8 is not permitted (IHI0070 §6.2)`, rec.keys.get('size')!.column);
  if (s === 8n && offset % 8 !== 0) throw rec.err(`size=8 at offset 0x${offset.toString(16)} is not 8-byte aligned`, rec.keys.get('size')!.column);
  return Number(s) as 4 | 8;
}

/** The size= of a memory access: 1, 2, 4 or 8 bytes (default 8). */
function memSize(rec: Record_): 1 | 2 | 4 | 8 {
  const sz = rec.optNum('size') ?? 8n;
  if (![1n, 2n, 4n, 8n].includes(sz)) throw rec.err(`size must be 1, 2, 4 or 8, not ${sz}`, rec.keys.get('size')!.column);
  return Number(sz) as 1 | 2 | 4 | 8;
}

function parseExpect(rec: Record_): Expect | undefined {
  const c = rec.keys.get('expect');
  if (!c) return undefined;
  const t = c.text;
  if (t === 'bypass' || t === 'abort') return { kind: t };
  if (t.startsWith('pa:')) {
    const v = parseNumber(t.slice(3));
    if (typeof v === 'string') throw rec.err(`expect=pa: ${v}`, c.column);
    return { kind: 'pa', pa: v };
  }
  if (t.startsWith('fault:')) {
    const e = t.slice(6);
    if (!isEventName(e)) throw rec.err(`expect=fault: unknown event '${e}'`, c.column);
    return { kind: 'fault', event: e };
  }
  throw rec.err(`expect must be pa:<address>, bypass, abort or fault:<EVENT>, not '${t}'`, c.column);
}

/** Parse one CSV record (cells already split) into a Row. */
export function parseRow(file: string, line: number, cells: readonly string[]): Row {
  const rec = splitCells(file, line, cells);
  const kind = rec.kind.toLowerCase() as Kind;
  if (!KINDS.includes(kind)) {
    throw rec.err(`unknown row kind '${rec.kind}' (expected one of ${KINDS.join(', ')})`, 1);
  }
  switch (kind) {
    case 'mmio_write': {
      const [r, v] = rec.positional(2, ['register', 'value']);
      rec.allowKeys(['size']);
      const { offset, reg } = parseRegister(rec, r!);
      const size = accessSize(rec, reg, offset);
      const value = rec.num(v!, 'value', size === 8 ? U64_MAX : 0xffff_ffffn);
      return { kind, line, reg, offset, value, size };
    }
    case 'mmio_read': {
      const [r] = rec.positional(1, ['register']);
      rec.allowKeys(['expect', 'size']);
      const { offset, reg } = parseRegister(rec, r!);
      const size = accessSize(rec, reg, offset);
      const expect = rec.optNum('expect', 'expect', size === 8 ? U64_MAX : 0xffff_ffffn);
      return { kind, line, reg, offset, size, expect };
    }
    case 'mem_write': {
      const [a, v] = rec.positional(2, ['address', 'value']);
      rec.allowKeys(['size']);
      const size = memSize(rec);
      const addr = rec.num(a!, 'address', U64_MAX - BigInt(size) + 1n);
      const value = rec.num(v!, 'value', (1n << BigInt(8 * size)) - 1n);
      return { kind, line, addr, value, size };
    }
    case 'mem_read': {
      const [a] = rec.positional(1, ['address']);
      rec.allowKeys(['size', 'expect']);
      const size = memSize(rec);
      const addr = rec.num(a!, 'address', U64_MAX - BigInt(size) + 1n);
      const expect = rec.optNum('expect', 'expect', (1n << BigInt(8 * size)) - 1n);
      return { kind, line, addr, size, expect };
    }
    case 'mem_abort': {
      const [a, s] = rec.positional(2, ['address', 'size']);
      rec.allowKeys([]);
      const addr = rec.num(a!, 'address');
      const size = rec.num(s!, 'size');
      if (size === 0n) throw rec.err('size must be at least 1', s!.column);
      if (addr + size > U64_MAX + 1n) throw rec.err('the range runs past the end of the 64-bit address space', s!.column);
      return { kind, line, addr, size };
    }
    case 'cmd': {
      const [op] = rec.positional(1, ['opcode name']);
      if (op!.text.toUpperCase() === 'RAW') {
        rec.allowKeys(['dw0', 'dw1']);
        const dw0 = rec.optNum('dw0') ?? 0n;
        const dw1 = rec.optNum('dw1') ?? 0n;
        return { kind, line, def: undefined, fields: {}, raw: [dw0, dw1] };
      }
      const def = commandByName(op!.text);
      if (!def) throw rec.err(`unknown command '${op!.text}'`, op!.column);
      const keys = commandKeys(def);
      rec.allowKeys(keys);
      const fields: Record<string, bigint> = {};
      for (const k of keys) {
        const v = rec.optNum(k, k, commandFieldMax(def, k));
        if (v !== undefined) fields[k] = v;
      }
      return { kind, line, def, fields };
    }
    case 'dma': {
      const [s, a, acc] = rec.positional(3, ['sid', 'address', 'access']);
      rec.allowKeys(['ssid', 'size', 'priv', 'data', 'expect']);
      const sid = Number(rec.num(s!, 'sid', 0xffff_ffffn));
      const addr = rec.num(a!, 'address');
      const access = acc!.text.toLowerCase();
      if (!['r', 'w', 'x', '-'].includes(access)) throw rec.err(`access must be r, w, x or -, not '${acc!.text}'`, acc!.column);
      const ssidV = rec.optNum('ssid', 'ssid', 0xf_ffffn);
      const sizeV = rec.optNum('size', 'size', 1n << 32n) ?? 4n;
      if (sizeV === 0n) throw rec.err('size must be at least 1', rec.keys.get('size')!.column);
      if (addr + sizeV - 1n > U64_MAX) throw rec.err('the access runs past the end of the 64-bit address space', a!.column);
      const privV = rec.optNum('priv') ?? 1n;
      if (privV > 1n) throw rec.err('priv must be 0 or 1', rec.keys.get('priv')!.column);
      const data = rec.optNum('data', 'data', sizeV >= 8n ? U64_MAX : (1n << (8n * sizeV)) - 1n);
      if (data !== undefined && access !== 'w') throw rec.err('data= is only meaningful on a write (access w)', rec.keys.get('data')!.column);
      if (data !== undefined && sizeV > 8n) throw rec.err('data= needs size of at most 8', rec.keys.get('data')!.column);
      return {
        kind, line, sid, addr, access: access as DmaAccess, ssid: ssidV === undefined ? undefined : Number(ssidV),
        size: Number(sizeV), priv: privV === 1n, data, expect: parseExpect(rec),
      };
    }
    case 'op': {
      const [name] = rec.positional(1, ['operation name']);
      const args: Record<string, string> = {};
      const argColumns: Record<string, number> = {};
      for (const [k, c] of rec.keys) { args[k] = c.text; argColumns[k] = c.column; }
      return { kind, line, name: name!.text.toLowerCase(), args, argColumns };
    }
    case 'meta': {
      const [k, v] = rec.positional(2, ['key', 'value']);
      rec.allowKeys([]);
      return { kind, line, key: k!.text, value: v!.text };
    }
  }
}

/** Options for reading a trace. */
export interface ReadOptions {
  /** Name used in error messages (defaults to the path). */
  readonly displayName?: string;
}

/**
 * Stream the rows of a trace file (.csv or .csv.gz).  Errors are TraceErrors
 * located by file and line; a truncated gzip or a binary file is reported as
 * such.  Rows are yielded as they are parsed.
 */
export async function* readTrace(path: string, opts: ReadOptions = {}): AsyncGenerator<Row> {
  const name = opts.displayName ?? path;
  const source = createReadStream(path);
  const input = path.endsWith('.gz') ? source.pipe(createGunzip()) : source;
  const parser = csvParse({
    comment: '#',
    comment_no_infix: true,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    bom: true,
    info: true,
  });
  let lastLine = 0;
  const forwardError = (e: Error & { code?: string }): void => {
    parser.destroy(e);
  };
  source.on('error', forwardError);
  if (input !== source) input.on('error', (e: Error & { code?: string }) => {
    const code = e.code ?? '';
    const problem = code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message)
      ? 'the gzip stream is truncated' : `not a valid gzip stream (${e.message})`;
    parser.destroy(new TraceError(name, lastLine + 1, problem));
  });
  input.pipe(parser);
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      lastLine = item.info.lines;
      const cells = item.record;
      if (cells.length === 1 && cells[0] === '') continue;
      checkText(name, lastLine, cells);
      yield parseRow(name, lastLine, cells);
    }
  } catch (e) {
    throw toTraceError(e, name, lastLine);
  }
}

/** Refuse control characters that mean the file is not text. */
function checkText(file: string, line: number, cells: readonly string[]): void {
  for (let i = 0; i < cells.length; i++) {
    // eslint-disable-next-line no-control-regex
    const m = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.exec(cells[i]!);
    if (m) throw new TraceError(file, line, `binary or non-UTF-8 data (character 0x${m[0].charCodeAt(0).toString(16)}); a trace is CSV text`, i + 1);
  }
}

function toTraceError(e: unknown, file: string, lastLine: number): Error {
  if (e instanceof TraceError) return e;
  const err = e as Error & { code?: string; lines?: number; column?: number };
  if (err.code === 'ENOENT') return new Error(`${file}: no such file`);
  if (err.code === 'EISDIR') return new Error(`${file}: is a directory, not a trace`);
  if (typeof err.code === 'string' && err.code.startsWith('CSV_')) {
    return new TraceError(file, err.lines ?? lastLine + 1, `CSV syntax: ${err.message.replace(/^Invalid (Record|Opening Quote|Closing Quote)[^:]*: /, '')}`);
  }
  return err;
}

/** Parse a whole trace given as text (tests, small inputs). */
export async function parseTraceText(text: string, name = '<text>'): Promise<Row[]> {
  const { parse } = await import('csv-parse/sync');
  const records = parse(text, {
    comment: '#', comment_no_infix: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true, info: true,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  const rows: Row[] = [];
  for (const r of records) {
    if (r.record.length === 1 && r.record[0] === '') continue;
    checkText(name, r.info.lines, r.record);
    rows.push(parseRow(name, r.info.lines, r.record));
  }
  return rows;
}
