/**
 * Bit-field tables: the one description of every architectural structure.
 *
 * Each structure (STE, CD, L1STD, L1CD, command, event record, register) is a
 * list of FieldDef rows written in the spec's own notation (doubleword n,
 * bits [hi:lo]).  The same rows drive decoding, encoding, pretty-printing,
 * reserved-bit detection and field-level diffs, so a position is written down
 * exactly once.
 */

/** Name table for an enumerated field: value -> spec mnemonic.  Holes print as UNKNOWN(0x..). */
export type EnumNames = Readonly<Record<number, string>>;

export interface FieldDef {
  /** Field name as the spec spells it (S1ContextPtr, S2VMID, ...). */
  readonly name: string;
  /** 64-bit doubleword index inside the structure (DW0 = bytes 0..7). */
  readonly qword: number;
  /** Low bit inside the doubleword. */
  readonly lo: number;
  /** Width in bits. */
  readonly width: number;
  /** Where the spec defines the field, e.g. "IHI0070 §5.2". */
  readonly spec: string;
  /** Enumeration names for the field's values. */
  readonly enum?: EnumNames;
  /**
   * The field holds address bits [hi:lo] in place: its decoded value is the
   * doubleword masked (not shifted), i.e. a byte address with the low bits zero.
   */
  readonly addr?: boolean;
  /** Print the value in decimal (sizes, counts, levels), not hex. */
  readonly dec?: boolean;
}

/** A structure layout: its name, its size in doublewords, its fields. */
export interface Layout<N extends string = string> {
  readonly name: string;
  readonly qwords: number;
  readonly fields: readonly (FieldDef & { readonly name: N })[];
}

/** Decoded field values, keyed by spec field name. */
export type Decoded<N extends string> = { [K in N]: bigint };

/** Spec notation helper: DWn[hi:lo]. */
export function dw<N extends string>(
  name: N,
  qword: number,
  hi: number,
  lo: number,
  spec: string,
  opts: { enum?: EnumNames; addr?: boolean; dec?: boolean } = {},
): FieldDef & { readonly name: N } {
  if (hi < lo || hi > 63 || lo < 0) throw new Error(`bad field ${name} [${hi}:${lo}]`);
  const def = { name, qword, lo, width: hi - lo + 1, spec };
  return { ...def, ...(opts.enum ? { enum: opts.enum } : {}), ...(opts.addr ? { addr: true } : {}), ...(opts.dec ? { dec: true } : {}) };
}

/** Masks by field definition, computed once each (four BigInt operations a field access need not repeat). */
const MASKS = new WeakMap<FieldDef, bigint>();
/** BigInt shift amounts 0..63, made once. */
const SHIFT: readonly bigint[] = Array.from({ length: 64 }, (_v, i) => BigInt(i));

export function fieldMask(f: FieldDef): bigint {
  let m = MASKS.get(f);
  if (m === undefined) {
    m = ((1n << BigInt(f.width)) - 1n) << BigInt(f.lo);
    MASKS.set(f, m);
  }
  return m;
}

/** Field value as stored in its doubleword (shifted down unless it is an in-place address). */
export function getField(f: FieldDef, qwords: readonly bigint[]): bigint {
  const q = qwords[f.qword] ?? 0n;
  const m = q & fieldMask(f);
  return f.addr ? m : m >> SHIFT[f.lo]!;
}

/** Place a value into a copy of the doublewords; throws RangeError if it does not fit. */
export function setField(f: FieldDef, qwords: bigint[], value: bigint): void {
  const mask = fieldMask(f);
  const placed = f.addr ? value : value << SHIFT[f.lo]!;
  if (value < 0n || (placed & ~mask) !== 0n) {
    throw new RangeError(`${f.name}: value 0x${value.toString(16)} does not fit ${describePosition(f)}`);
  }
  qwords[f.qword] = ((qwords[f.qword] ?? 0n) & ~mask) | placed;
}

export function describePosition(f: FieldDef): string {
  return `DW${f.qword}[${f.lo + f.width - 1}:${f.lo}]`;
}

export function decode<N extends string>(layout: Layout<N>, qwords: readonly bigint[]): Decoded<N> {
  const out = {} as Record<string, bigint>;
  for (const f of layout.fields) out[f.name] = getField(f, qwords);
  return out as Decoded<N>;
}

export function encode<N extends string>(layout: Layout<N>, values: Partial<Record<N, bigint | number>>): bigint[] {
  const q: bigint[] = new Array<bigint>(layout.qwords).fill(0n);
  for (const f of layout.fields) {
    const v = values[f.name];
    if (v === undefined) continue;
    setField(f, q, BigInt(v));
  }
  return q;
}

/** Per-doubleword mask of the bits no field of the layout defines (reserved, RES0). */
export function reservedMasks(layout: Layout): bigint[] {
  const used: bigint[] = new Array<bigint>(layout.qwords).fill(0n);
  for (const f of layout.fields) used[f.qword] = (used[f.qword] ?? 0n) | fieldMask(f);
  const all = (1n << 64n) - 1n;
  return used.map((u) => all & ~u);
}

export interface ReservedHit {
  readonly qword: number;
  readonly bits: bigint;
}

export function reservedBitsSet(layout: Layout, qwords: readonly bigint[]): ReservedHit[] {
  const masks = reservedMasks(layout);
  const hits: ReservedHit[] = [];
  masks.forEach((m, i) => {
    const bits = (qwords[i] ?? 0n) & m;
    if (bits !== 0n) hits.push({ qword: i, bits });
  });
  return hits;
}

export function hex(v: bigint | number, digits = 0): string {
  const s = BigInt(v).toString(16);
  return '0x' + (digits > 0 ? s.padStart(digits, '0') : s);
}

/** 64-bit fixed-width lower-case hex, the canonical form of every 64-bit value in outputs. */
export function hex64(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}

export function enumName(names: EnumNames, v: bigint): string {
  const n = names[Number(v)];
  return n ?? `UNKNOWN(${hex(v)})`;
}

/** One field as text: enum mnemonic, in-place address in hex, narrow values in decimal or hex. */
export function formatValue(f: FieldDef, v: bigint): string {
  if (f.enum) return enumName(f.enum, v);
  if (f.addr) return hex(v);
  if (f.width === 1 || f.dec) return v.toString();
  return v < 10n ? v.toString() : hex(v);
}

export function formatField(f: FieldDef, v: bigint): string {
  return `${f.name}=${formatValue(f, v)}`;
}

export interface FieldDelta {
  readonly field: FieldDef;
  readonly old: bigint;
  readonly new: bigint;
}

/** The fields whose values differ between two images of the same structure, in table order. */
export function diffFields(layout: Layout, a: readonly bigint[], b: readonly bigint[]): FieldDelta[] {
  const out: FieldDelta[] = [];
  for (const f of layout.fields) {
    const x = getField(f, a);
    const y = getField(f, b);
    if (x !== y) out.push({ field: f, old: x, new: y });
  }
  return out;
}

export function fieldByName(layout: Layout, name: string): FieldDef | undefined {
  return layout.fields.find((f) => f.name === name);
}

export const MASK64 = (1n << 64n) - 1n;

/** Bits [hi:lo] of a value, shifted down. */
export function bits(v: bigint, hi: number, lo: number): bigint {
  return (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
}

export function bit(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}
