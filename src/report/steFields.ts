/**
 * Field-level differences between STE stream rows.
 *
 * An STE stream (docs/streams.md) is text, and golden files are all a `check`
 * has of the reviewed side, so the entry behind each row is rebuilt from the
 * stream itself, with the model's one bit-field table (STE_LAYOUT,
 * IHI0070 §5.2):
 *
 * - every `store` row carries the doubleword it stored, so the stream
 *   replayed in order gives, per StreamID, the exact contents of each
 *   doubleword once it has been stored (all 64 bits, used or not);
 * - every row's `summary` lists the fields the entry uses (the driver's
 *   used-bits rule, `steUsedMask`) that are not zero, so a doubleword that was
 *   never stored in the stream is still known on its used bits: a used field
 *   absent from the summary is zero.
 *
 * A stored doubleword that disagrees with the summary on a used bit (the
 * entry was written before the stream table was configured, say) is dropped
 * in favour of the summary.  Two rows are then compared field by field: a
 * field is shown when both values are known and differ, or when one side
 * uses it and the other's value is unknown.
 */
import { describePosition, enumName, fieldMask, getField, hex, MASK64, setField, type FieldDef } from '../model/fields.js';
import { STE_LAYOUT } from '../model/ste.js';
import { steUsedMask } from '../policy/usedBits.js';
import { HEADERS, splitCsvLine } from './csv.js';

const QWORDS = STE_LAYOUT.qwords;
const FIELD_BY_NAME = new Map<string, FieldDef>(STE_LAYOUT.fields.map((f) => [f.name, f]));

/** An STE as far as the stream tells it: values, and per doubleword the mask of bits known. */
export interface SteImage {
  readonly qwords: readonly bigint[];
  readonly known: readonly bigint[];
  /** The bits the entry uses (steUsedMask of its V/Config/S1DSS). */
  readonly used: readonly bigint[];
}

/** One row of an STE stream, with the entry it describes. */
export interface SteStreamRow {
  readonly line: number;
  readonly sid: number;
  readonly action: string;
  readonly qword: number | undefined;
  readonly value: bigint | undefined;
  readonly state: string;
  readonly summary: string;
  readonly entry: SteImage;
}

/** A summary value back to the field's value (the inverse of formatValue). */
function parseFieldValue(f: FieldDef, text: string): bigint | undefined {
  if (f.enum) {
    for (const [k, name] of Object.entries(f.enum)) if (name === text) return BigInt(k);
    const m = /^UNKNOWN\((0x[0-9a-f]+)\)$/.exec(text);
    return m ? BigInt(m[1]!) : undefined;
  }
  if (/^0x[0-9a-f]+$/i.test(text) || /^\d+$/.test(text)) return BigInt(text);
  return undefined;
}

/** The used fields of a summary cell placed into an entry (unused and zero fields are 0). */
export function summaryImage(summary: string): bigint[] {
  const q = new Array<bigint>(QWORDS).fill(0n);
  for (const token of summary.split(' ')) {
    const i = token.indexOf('=');
    if (i <= 0) continue;
    const f = FIELD_BY_NAME.get(token.slice(0, i));
    const v = f && parseFieldValue(f, token.slice(i + 1));
    if (f && v !== undefined) {
      try { setField(f, q, v); } catch { /* a value that does not fit: not a summary this table wrote */ }
    }
  }
  return q;
}

/**
 * Parse an STE stream's text into rows with their entries.  Lines that are
 * not STE rows (a hand-edited golden file) are skipped; the result is indexed
 * by the text's line number (1 = the header), so a diff hunk maps to rows.
 */
export function parseSteStream(text: string): Map<number, SteStreamRow> {
  const rows = new Map<number, SteStreamRow>();
  const stored = new Map<number, (bigint | undefined)[]>();
  text.split('\n').forEach((l, i) => {
    if (i === 0 || !l) return;
    const c = splitCsvLine(l);
    if (c.length < 7) return;
    const line = Number(c[0]);
    const sid = Number(c[1]);
    if (!Number.isInteger(line) || !/^0x[0-9a-f]+$/i.test(c[1]!)) return;
    const qword = c[3] === '' ? undefined : Number(c[3]);
    const value = /^0x[0-9a-f]{1,16}$/i.test(c[4]!) ? BigInt(c[4]!) : undefined;
    const summary = c.slice(6).join(',');
    let raw = stored.get(sid);
    if (!raw) stored.set(sid, (raw = new Array<bigint | undefined>(QWORDS).fill(undefined)));
    if (c[2] === 'store' && qword !== undefined && qword >= 0 && qword < QWORDS && value !== undefined) raw[qword] = value;
    const fromSummary = summaryImage(summary);
    const used = steUsedMask(fromSummary);
    const qwords: bigint[] = [];
    const known: bigint[] = [];
    for (let q = 0; q < QWORDS; q++) {
      const r = raw[q];
      if (r !== undefined && ((r ^ fromSummary[q]!) & used[q]!) !== 0n) raw[q] = undefined;
      const exact = raw[q];
      qwords.push(exact ?? fromSummary[q]!);
      known.push(exact !== undefined ? MASK64 : used[q]!);
    }
    rows.set(i + 1, { line, sid, action: c[2]!, qword, value, state: c[5]!, summary, entry: { qwords, known, used } });
  });
  return rows;
}

/** Whether a text is an STE stream (by its header). */
export function isSteStream(text: string): boolean {
  return text.startsWith(HEADERS.ste + '\n');
}

function fieldValue(e: SteImage, f: FieldDef): bigint | undefined {
  const m = fieldMask(f);
  return ((e.known[f.qword] ?? 0n) & m) === m ? getField(f, e.qwords) : undefined;
}

function fieldUsed(e: SteImage, f: FieldDef): boolean {
  return ((e.used[f.qword] ?? 0n) & fieldMask(f)) !== 0n;
}

/** Which side's entry uses a field (the used-bits rule of the semantic comparison). */
export type FieldUse = 'both' | 'a' | 'b' | 'neither';

/** One field that differs between two entries. */
export interface FieldChange {
  /** Spec name (IHI0070 §5.2). */
  readonly field: string;
  /** Where it lives: `DW1[45:44]`. */
  readonly position: string;
  readonly qword: number;
  /** Values, hex; undefined where the stream does not tell the value. */
  readonly old: bigint | undefined;
  readonly new: bigint | undefined;
  /** The values as read: enum mnemonic with its number, address, size. */
  readonly oldText: string;
  readonly newText: string;
  readonly used: FieldUse;
}

function valueText(f: FieldDef, v: bigint | undefined): string {
  if (v === undefined) return '?';
  if (f.enum) return `${v} (${enumName(f.enum, v)})`;
  if (f.addr || (f.width > 4 && !f.dec && v >= 10n)) return hex(v);
  return v.toString();
}

/** The fields whose values differ between two entries, in table order. */
export function steFieldChanges(a: SteImage, b: SteImage): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of STE_LAYOUT.fields) {
    const x = fieldValue(a, f);
    const y = fieldValue(b, f);
    const ua = fieldUsed(a, f);
    const ub = fieldUsed(b, f);
    if (x !== undefined && y !== undefined) {
      if (x === y) continue;
    } else if (!(ua || ub)) {
      continue; // unknown on a side that does not use it, and the other does not either
    }
    out.push({
      field: f.name, position: describePosition(f), qword: f.qword, old: x, new: y,
      oldText: valueText(f, x), newText: valueText(f, y),
      used: ua && ub ? 'both' : ua ? 'a' : ub ? 'b' : 'neither',
    });
  }
  return out;
}

/** Where a row sits: `line 50 cfgi`, `line 50 store DW0`. */
export function rowPlace(r: SteStreamRow): string {
  return `line ${r.line} ${r.action}${r.action === 'store' && r.qword !== undefined ? ` DW${r.qword}` : ''}`;
}

/** Rows of one StreamID that changed the same fields the same way, under one hunk. */
export interface FieldChangeGroup {
  readonly sid: number;
  /** The paired rows, A side (`line 50 store DW0`, ...). */
  readonly places: readonly string[];
  /** First trace line of the group. */
  readonly line: number;
  readonly changes: readonly FieldChange[];
}

/**
 * Pair the removed and added rows of one hunk and list the field changes of
 * each pair.  Rows pair by (trace line, StreamID, action, doubleword) in order;
 * rows left over pair by (StreamID, action, doubleword) in order, so a
 * difference that moved to another trace line is still shown field by field.
 * Consecutive pairs of a StreamID with identical changes form one group.
 */
export function hunkFieldChanges(removed: readonly SteStreamRow[], added: readonly SteStreamRow[]): FieldChangeGroup[] {
  const taken = new Set<number>();
  const pairs: [SteStreamRow, SteStreamRow][] = [];
  const partner = new Map<SteStreamRow, SteStreamRow>();
  const same = (x: SteStreamRow, y: SteStreamRow, withLine: boolean): boolean =>
    x.sid === y.sid && x.action === y.action && x.qword === y.qword && (!withLine || x.line === y.line);
  for (const withLine of [true, false]) {
    for (const r of removed) {
      if (partner.has(r)) continue;
      const j = added.findIndex((p, k) => !taken.has(k) && same(r, p, withLine));
      if (j < 0) continue;
      taken.add(j);
      partner.set(r, added[j]!);
    }
  }
  for (const r of removed) if (partner.has(r)) pairs.push([r, partner.get(r)!]);
  const groups: { sid: number; places: string[]; line: number; changes: FieldChange[]; key: string }[] = [];
  for (const [x, y] of pairs) {
    const changes = steFieldChanges(x.entry, y.entry);
    if (changes.length === 0) continue;
    const key = changes.map((c) => `${c.field}:${c.oldText}:${c.newText}:${c.used}`).join(' ');
    const last = groups[groups.length - 1];
    if (last && last.sid === x.sid && last.key === key) {
      last.places.push(rowPlace(x));
      continue;
    }
    groups.push({ sid: x.sid, places: [rowPlace(x)], line: x.line, changes, key });
  }
  return groups.map(({ key: _key, ...g }) => g);
}

const USE_TEXT = (a: string, b: string): Record<FieldUse, string> => ({
  both: 'used by both', a: `used by ${a} only`, b: `used by ${b} only`, neither: 'used by neither',
});

/**
 * A group as text lines: a header naming the StreamID, the two sides and the
 * rows, then one `Field: old -> new  DWn[hi:lo]` line per field; with
 * `semantic`, whether each side's entry uses the field.
 */
export function formatFieldGroup(g: FieldChangeGroup, a: string, b: string, semantic: boolean): string[] {
  const use = USE_TEXT(a, b);
  const change = (c: FieldChange): string => `${c.field}: ${c.oldText} -> ${c.newText}`;
  const w = Math.max(...g.changes.map((c) => change(c).length));
  const wp = Math.max(...g.changes.map((c) => c.position.length));
  return [
    `# STE fields of StreamID 0x${g.sid.toString(16)}, ${a} -> ${b}: ${g.places.join(', ')}`,
    ...g.changes.map((c) => `#   ${change(c).padEnd(w)}  ${semantic ? `${c.position.padEnd(wp)}  ${use[c.used]}` : c.position}`),
  ];
}
