/**
 * Trace parsing: CSV cells of one record to a typed Row, with located errors,
 * and the streaming reader over a file (plain or gzip).
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { commandByName, commandFieldMax, commandKeys } from '../model/commands.js';
import { isEventName } from '../model/events.js';
import { FRAME_SIZE, registerByName, resolveOffset } from '../model/registers.js';
import {
  KINDS, TraceError, type DmaAccess, type Expect, type Kind, type Row,
} from './format.js';
import { RecordSplitter } from './records.js';

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
  return fastRow(line, cells) ?? parseRowGeneral(file, line, cells);
}

// ---------------------------------------------------------------------------
// The fast path: the row kinds that make up nearly all of a large trace (dma,
// mem_write, mmio_write, mmio_read, cmd), written the plain way (lower-case
// kind, register and command names, no underscores in numbers, no unusual
// keys), parsed without the general path's intermediate objects.  It returns
// undefined for anything else, including every row that is an error: the
// general path then parses the row and words the error.  A property test
// (test/trace/fastpath.test.ts) checks that the two paths give equal rows.

const CH_0 = 0x30, CH_9 = 0x39, CH_X = 0x78, CH_XU = 0x58;

function isHexDigit(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** A plain number: 1-15 decimal digits, or 0x and 1-16 hex digits.  Anything else: undefined. */
function fastNum(t: string): bigint | undefined {
  const n = t.length;
  if (n === 0) return undefined;
  if (n > 2 && t.charCodeAt(0) === CH_0 && (t.charCodeAt(1) === CH_X || t.charCodeAt(1) === CH_XU)) {
    if (n > 18) return undefined;
    for (let i = 2; i < n; i++) if (!isHexDigit(t.charCodeAt(i))) return undefined;
    return BigInt(t);
  }
  if (n > 15) return undefined;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return undefined;
  }
  return BigInt(t);
}

/** The value of a `key=value` cell whose key is exactly `key` (lower case), else undefined. */
function keyValue(cell: string, key: string): string | undefined {
  if (cell.length <= key.length || cell.charCodeAt(key.length) !== 0x3d || !cell.startsWith(key)) return undefined;
  return cell.slice(key.length + 1).trim();
}

/** Splits `key=value` (key lower case letters and digits only) or returns undefined. */
function keyCell(cell: string): [string, string] | undefined {
  const eq = cell.indexOf('=');
  if (eq <= 0) return undefined;
  for (let i = 0; i < eq; i++) {
    const c = cell.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= CH_0 && c <= CH_9 && i > 0) || c === 0x5f)) return undefined;
  }
  return [cell.slice(0, eq), cell.slice(eq + 1).trim()];
}

/** Number of cells not counting one empty trailing cell (a trailing comma). */
function cellCount(cells: readonly string[]): number {
  const n = cells.length;
  return n > 1 && cells[n - 1] === '' ? n - 1 : n;
}

const U32_MAX = 0xffff_ffffn;
const SIZES_MEM = new Map<string, 1 | 2 | 4 | 8>([['1', 1], ['2', 2], ['4', 4], ['8', 8]]);
const VALUE_MAX = [0n, 0xffn, 0xffffn, 0n, 0xffff_ffffn, 0n, 0n, 0n, U64_MAX] as const;
const ACCESS = new Map<string, DmaAccess>([['r', 'r'], ['w', 'w'], ['x', 'x'], ['-', '-'], ['R', 'r'], ['W', 'w'], ['X', 'x']]);

/** Field keys of each command and their maxima, computed once per command. */
const commandKeyMax = new Map<string, Map<string, bigint>>();

/** The fast path alone (exported for its property test): a Row, or undefined when the general path must decide. */
export function parseRowFast(line: number, cells: readonly string[]): Row | undefined {
  return fastRow(line, cells);
}

function fastRow(line: number, cells: readonly string[]): Row | undefined {
  const n = cellCount(cells);
  switch (cells[0]) {
    case 'dma': {
      if (n < 4) return undefined;
      const sidV = fastNum(cells[1]!);
      const addr = fastNum(cells[2]!);
      const access = ACCESS.get(cells[3]!);
      if (sidV === undefined || sidV > U32_MAX || addr === undefined || access === undefined) return undefined;
      let ssid: number | undefined;
      let size = 4;
      let priv = true;
      let data: bigint | undefined;
      let expect: Expect | undefined;
      let seen = 0;
      for (let i = 4; i < n; i++) {
        const kv = keyCell(cells[i]!);
        if (!kv) return undefined;
        const [k, t] = kv;
        const bit = k === 'ssid' ? 1 : k === 'size' ? 2 : k === 'priv' ? 4 : k === 'data' ? 8 : k === 'expect' ? 16 : 0;
        if (bit === 0 || (seen & bit) !== 0) return undefined;
        seen |= bit;
        if (bit === 16) {
          expect = fastExpect(t);
          if (!expect) return undefined;
          continue;
        }
        const v = fastNum(t);
        if (v === undefined) return undefined;
        if (bit === 1) { if (v > 0xf_ffffn) return undefined; ssid = Number(v); }
        else if (bit === 2) { if (v === 0n || v > 4096n) return undefined; size = Number(v); }
        else if (bit === 4) { if (v > 1n) return undefined; priv = v === 1n; }
        else data = v;
      }
      if (addr + BigInt(size) - 1n > U64_MAX) return undefined;
      if (data !== undefined && (access !== 'w' || size > 8 || data >= 1n << BigInt(8 * size))) return undefined;
      return { kind: 'dma', line, sid: Number(sidV), addr, access, ssid, size, priv, data, expect };
    }
    case 'mem_write': {
      if (n !== 3 && n !== 4) return undefined;
      const addr = fastNum(cells[1]!);
      const value = fastNum(cells[2]!);
      let size: 1 | 2 | 4 | 8 = 8;
      if (n === 4) {
        const t = keyValue(cells[3]!, 'size');
        const s = t === undefined ? undefined : SIZES_MEM.get(t);
        if (s === undefined) return undefined;
        size = s;
      }
      if (addr === undefined || value === undefined || value > VALUE_MAX[size]! || addr > U64_MAX - BigInt(size) + 1n) return undefined;
      return { kind: 'mem_write', line, addr, value, size };
    }
    case 'mmio_write': {
      if (n !== 3) return undefined;
      const reg = registerByName(cells[1]!);
      const value = fastNum(cells[2]!);
      if (!reg || value === undefined) return undefined;
      const size = reg.width === 64 ? 8 : 4;
      if (size === 4 && value > U32_MAX) return undefined;
      return { kind: 'mmio_write', line, reg, offset: reg.offset, value, size };
    }
    case 'mmio_read': {
      if (n !== 2 && n !== 3) return undefined;
      const reg = registerByName(cells[1]!);
      if (!reg) return undefined;
      const size = reg.width === 64 ? 8 : 4;
      let expect: bigint | undefined;
      if (n === 3) {
        const t = keyValue(cells[2]!, 'expect');
        expect = t === undefined ? undefined : fastNum(t);
        if (expect === undefined || (size === 4 && expect > U32_MAX)) return undefined;
      }
      return { kind: 'mmio_read', line, reg, offset: reg.offset, size, expect };
    }
    case 'cmd': {
      if (n < 2) return undefined;
      const def = commandByName(cells[1]!);
      if (!def || cells[1]!.toUpperCase() === 'RAW') return undefined;
      let maxima = commandKeyMax.get(def.name);
      if (!maxima) {
        maxima = new Map(commandKeys(def).map((k) => [k, commandFieldMax(def, k)!]));
        commandKeyMax.set(def.name, maxima);
      }
      // Fields in the command's own key order, as the general path gives them.
      const given = new Map<string, bigint>();
      for (let i = 2; i < n; i++) {
        const kv = keyCell(cells[i]!);
        if (!kv) return undefined;
        const max = maxima.get(kv[0]);
        const v = fastNum(kv[1]);
        if (max === undefined || v === undefined || v > max || given.has(kv[0])) return undefined;
        given.set(kv[0], v);
      }
      const fields: Record<string, bigint> = {};
      if (given.size > 0) for (const k of maxima.keys()) { const v = given.get(k); if (v !== undefined) fields[k] = v; }
      return { kind: 'cmd', line, def, fields };
    }
    default:
      return undefined;
  }
}

function fastExpect(t: string): Expect | undefined {
  if (t === 'bypass' || t === 'abort') return { kind: t };
  if (t.startsWith('pa:')) {
    const pa = fastNum(t.slice(3));
    return pa === undefined ? undefined : { kind: 'pa', pa };
  }
  if (t.startsWith('fault:')) {
    const e = t.slice(6);
    return isEventName(e) ? { kind: 'fault', event: e } : undefined;
  }
  return undefined;
}

/** A plain number in text[from, to): as fastNum, without cutting the cell out first when it is refused. */
function fastNumAt(text: string, from: number, to: number): bigint | undefined {
  const n = to - from;
  if (n <= 0) return undefined;
  // The digits' value, as a double: exact below 2^53, where BigInt(number) is cheaper than parsing the text again.
  let v = 0;
  if (n > 2 && text.charCodeAt(from) === CH_0 && (text.charCodeAt(from + 1) === CH_X || text.charCodeAt(from + 1) === CH_XU)) {
    if (n > 18) return undefined;
    for (let i = from + 2; i < to; i++) {
      const c = text.charCodeAt(i);
      if (!isHexDigit(c)) return undefined;
      v = v * 16 + (c <= CH_9 ? c - CH_0 : (c | 0x20) - 0x61 + 10);
    }
  } else {
    if (n > 15) return undefined;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < CH_0 || c > CH_9) return undefined;
      v = v * 10 + (c - CH_0);
    }
  }
  return v < 9007199254740992 ? BigInt(v) : BigInt(text.slice(from, to));
}

const ACCESS_CODE: readonly (DmaAccess | undefined)[] = (() => {
  const a: (DmaAccess | undefined)[] = [];
  for (const [ch, v] of ACCESS) a[ch.charCodeAt(0)] = v;
  return a;
})();

/** What scanDmaLine read from a line. */
export interface DmaLineFields {
  sid: number;
  addr: bigint;
  access: DmaAccess;
}

/**
 * The commonest line of a capture, `dma,<sid>,<address>,<access>` with
 * nothing else and no blanks, read from the line itself (no cells cut out)
 * into `out`.  False for anything else: the line is then split and parsed as
 * usual.  The property test of the fast path checks it against the general
 * path (through parseDmaLineFast).
 */
export function scanDmaLine(text: string, out: DmaLineFields): boolean {
  // "dma," then three cells: sid, address, a one-letter access at the very end.
  const n = text.length;
  if (n < 9 || text.charCodeAt(0) !== 0x64 || text.charCodeAt(1) !== 0x6d || text.charCodeAt(2) !== 0x61 || text.charCodeAt(3) !== 0x2c) return false;
  if (text.charCodeAt(n - 2) !== 0x2c) return false;
  const access = ACCESS_CODE[text.charCodeAt(n - 1)];
  if (access === undefined) return false;
  const c1 = text.indexOf(',', 4);
  if (c1 < 0 || c1 >= n - 2 || text.indexOf(',', c1 + 1) !== n - 2) return false;
  const sid = smallNumAt(text, 4, c1);
  const addr = fastNumAt(text, c1 + 1, n - 2);
  if (sid < 0 || addr === undefined || addr > U64_MAX - 3n) return false;
  out.sid = sid;
  out.addr = addr;
  out.access = access;
  return true;
}

/** A plain number in text[from, to) up to 0xffff_ffff (as fastNumAt, without a BigInt), or -1. */
function smallNumAt(text: string, from: number, to: number): number {
  const n = to - from;
  if (n <= 0) return -1;
  let v = 0;
  if (n > 2 && text.charCodeAt(from) === CH_0 && (text.charCodeAt(from + 1) === CH_X || text.charCodeAt(from + 1) === CH_XU)) {
    if (n > 10) return -1;
    for (let i = from + 2; i < to; i++) {
      const c = text.charCodeAt(i);
      const d = c <= CH_9 ? c - CH_0 : (c | 0x20) - 0x61 + 10;
      if (!isHexDigit(c)) return -1;
      v = v * 16 + d;
    }
    return v;
  }
  if (n > 10) return -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < CH_0 || c > CH_9) return -1;
    v = v * 10 + (c - CH_0);
  }
  return v > 0xffff_ffff ? -1 : v;
}

const scratch: DmaLineFields = { sid: 0, addr: 0n, access: 'r' };

/** scanDmaLine giving the Row (the general path's row for the same line). */
export function parseDmaLineFast(line: number, text: string): Row | undefined {
  if (!scanDmaLine(text, scratch)) return undefined;
  return { kind: 'dma', line, sid: scratch.sid, addr: scratch.addr, access: scratch.access, ssid: undefined, size: 4, priv: true, data: undefined, expect: undefined };
}

/** The general path: every row kind, every spelling, and the wording of every error. */
export function parseRowGeneral(file: string, line: number, cells: readonly string[]): Row {
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

/** Bytes read from the file at a time. */
const CHUNK = 256 * 1024;

/**
 * Where the reader puts the rows of each chunk of the file: an array of Row
 * objects, or (on the parse thread) packed arrays (src/trace/rowCodec.ts).
 */
export interface RowCollector<B> {
  /** Rows collected since the last take. */
  readonly size: number;
  add(row: Row): void;
  /** Take a plain line if it is a `dma` row the collector reads whole (see scanDmaLine); false to have it parsed into a Row. */
  addDmaLine(line: number, text: string): boolean;
  /** The rows collected, as a batch; the collector starts a new one. */
  take(): B;
}

/** Rows as Row objects. */
class RowArray implements RowCollector<Row[]> {
  private rows: Row[] = [];
  get size(): number {
    return this.rows.length;
  }
  add(row: Row): void {
    this.rows.push(row);
  }
  addDmaLine(line: number, text: string): boolean {
    const row = parseDmaLineFast(line, text);
    if (row === undefined) return false;
    this.rows.push(row);
    return true;
  }
  take(): Row[] {
    const b = this.rows;
    this.rows = [];
    return b;
  }
}

/**
 * Stream the rows of a trace file (.csv or .csv.gz) in batches, in file
 * order: each batch holds the rows of one chunk of the file, so memory stays
 * flat however long the trace.  Errors are TraceErrors located by file, line
 * and (where it helps) column; a truncated gzip stream, a compressed file
 * without the .gz name, UTF-16 text or binary data are reported as such, and
 * so is a file without any row.  Rows before an error are yielded first.
 */
export function readTraceBatches(path: string, opts: ReadOptions = {}): AsyncGenerator<Row[]> {
  return readTraceInto(path, opts, new RowArray());
}

/** readTraceBatches with the rows of each chunk collected by `collector`. */
export async function* readTraceInto<B>(path: string, opts: ReadOptions, collector: RowCollector<B>): AsyncGenerator<B> {
  const name = opts.displayName ?? path;
  const source = createReadStream(path, { highWaterMark: CHUNK });
  const gunzip = path.endsWith('.gz') ? createGunzip({ chunkSize: CHUNK }) : undefined;
  let input: NodeJS.ReadableStream = source;
  if (gunzip) {
    source.on('error', (e) => gunzip.destroy(e));
    input = source.pipe(gunzip);
  }
  let count = 0;
  const splitter = new RecordSplitter(name, (line, cells) => {
    try {
      collector.add(parseRow(name, line, cells));
    } catch (e) {
      if (e instanceof TraceError && splitter.unterminated) {
        throw new TraceError(e.file, e.line, `${e.problem} (the last line has no line end: is the file cut short?)`, e.column);
      }
      throw e;
    }
  }, (line, text) => collector.addDmaLine(line, text));
  const decoder = new StringDecoder('utf8');
  let first = true;
  // The rows before a bad line are replayed before its error is raised, as if read one by one, so
  // that the first problem in file order (a parse error, or a replay error such as the memory cap)
  // is the one reported.
  let failure: unknown;
  const feed = (text: string, last: boolean): void => {
    try {
      splitter.push(text);
      if (last) splitter.end();
    } catch (e) {
      failure = e;
    }
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      if (first) {
        first = false;
        checkEncoding(name, chunk, gunzip !== undefined);
      }
      feed(decoder.write(chunk), false);
      if (collector.size > 0) {
        count += collector.size;
        yield collector.take();
      }
      if (failure !== undefined) throw failure;
    }
    feed(decoder.end(), true);
    if (collector.size > 0) {
      count += collector.size;
      yield collector.take();
    }
    if (failure !== undefined) throw failure;
  } catch (e) {
    throw toTraceError(e, name, splitter.currentLine, gunzip !== undefined);
  } finally {
    source.destroy();
    gunzip?.destroy();
  }
  if (count === 0) {
    throw new TraceError(name, 1, first ? 'the file is empty: a trace needs at least one row' : 'the trace has no rows (only comments and blank lines)');
  }
}

/**
 * Stream the rows of a trace file (.csv or .csv.gz) one by one; see
 * readTraceBatches, which the replay uses (one await per chunk, not per row).
 */
export async function* readTrace(path: string, opts: ReadOptions = {}): AsyncGenerator<Row> {
  for await (const batch of readTraceBatches(path, opts)) yield* batch;
}

/** Refuse, by their first bytes, files that are not UTF-8 text: UTF-16, and gzip data without the .gz name. */
function checkEncoding(file: string, head: Buffer, gunzipped: boolean): void {
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    throw new TraceError(file, 1, `the file is UTF-16 text (byte-order mark 0x${head[0]!.toString(16)} 0x${head[1]!.toString(16)}); a trace is UTF-8`);
  }
  if (!gunzipped && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    throw new TraceError(file, 1, 'the file is gzip-compressed; name it *.csv.gz to have it read through gunzip');
  }
}

function toTraceError(e: unknown, file: string, line: number, gz: boolean): Error {
  if (e instanceof TraceError) return e;
  const err = e as Error & { code?: string };
  if (err.code === 'ENOENT') return new Error(`${file}: no such file`);
  if (err.code === 'EISDIR') return new Error(`${file}: is a directory, not a trace`);
  if (err.code === 'EACCES') return new Error(`${file}: permission denied`);
  if (gz && typeof err.code === 'string' && err.code.startsWith('Z_')) {
    const truncated = err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message);
    return new TraceError(file, line, truncated ? 'the gzip stream is truncated' : `not a valid gzip stream (${err.message})`);
  }
  return err;
}

/** Parse a whole trace given as text (tests, small inputs); the same rules as the file reader, but no text is an empty trace. */
export function parseTraceTextSync(text: string, name = '<text>'): Row[] {
  const rows: Row[] = [];
  const splitter = new RecordSplitter(name, (line, cells) => rows.push(parseRow(name, line, cells)));
  splitter.push(text);
  splitter.end();
  return rows;
}

/** Parse a whole trace given as text (tests, small inputs). */
export async function parseTraceText(text: string, name = '<text>'): Promise<Row[]> {
  return parseTraceTextSync(text, name);
}
