/**
 * Field-level STE differences: entries rebuilt from STE stream text (stored
 * doublewords exact, summaries for the used fields), compared field by field
 * with the model's STE field table (IHI0070 §5.2 positions).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { encode, MASK64 } from '../../src/model/fields.js';
import { STE_LAYOUT, type SteField } from '../../src/model/ste.js';
import { equalOnMask, steUsedMask } from '../../src/policy/usedBits.js';
import { steSummary } from '../../src/replay/steTracker.js';
import { HEADERS, splitCsvLine } from '../../src/report/csv.js';
import { formatFieldGroup, hunkFieldChanges, parseSteStream, steFieldChanges, summaryImage, type SteStreamRow } from '../../src/report/steFields.js';

const ste = (f: Partial<Record<SteField, bigint | number>>): bigint[] => encode(STE_LAYOUT, f);
const h = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');

/** A stream row as the STE stream writes it (csv.ts steLine), summary from the tracker's own function. */
function storeRow(line: number, sid: number, q: number, entry: readonly bigint[], state = 'new'): string {
  return `${line},0x${sid.toString(16)},store,${q},${h(entry[q]!)},${state},${steSummary(entry)}`;
}
function cfgiRow(line: number, sid: number, entry: readonly bigint[], state = 'valid'): string {
  return `${line},0x${sid.toString(16)},cfgi,,,${state},${steSummary(entry)}`;
}
function stream(...rows: string[]): string {
  return [HEADERS.ste, ...rows, ''].join('\n');
}
function rowsOf(text: string): SteStreamRow[] {
  return [...parseSteStream(text).values()];
}

// A stage-2 entry as Linux builds it: V=1, Config=S2 (0b110): DW0 = 0b1101 = 0xd.
const S2 = { V: 1, Config: 6, S2VMID: 1, S2T0SZ: 24, S2SL0: 1, S2IR0: 1, S2OR0: 1, S2SH0: 3, S2PS: 5, S2AA64: 1, S2PTW: 1, S2R: 1, S2TTB: 0x1_0000_8000n };

describe('splitCsvLine', () => {
  it('splits canonical rows, quoted cells with commas and doubled quotes', () => {
    expect(splitCsvLine('50,hazard,invalid,0x10,,,"a, b ""c"""')).toEqual(['50', 'hazard', 'invalid', '0x10', '', '', 'a, b "c"']);
    expect(splitCsvLine('a')).toEqual(['a']);
    expect(splitCsvLine(',')).toEqual(['', '']);
  });
});

describe('summaryImage: the summary cell back to the used fields', () => {
  it('hand vector: SHCFG=incoming is 0b01 at DW1[45:44], S2TTB in place at DW3[51:4]', () => {
    const q = summaryImage('V=1 Config=S2 SHCFG=incoming S2VMID=1 S2TTB=0x100008000');
    expect(q[0]).toBe(0xdn); // V (bit 0) | Config 0b110 << 1
    expect(q[1]).toBe(1n << 44n); // 0x0000_1000_0000_0000
    expect(q[2]).toBe(1n);
    expect(q[3]).toBe(0x1_0000_8000n);
  });
  it('gives back every used bit of any entry (fast-check, fixed seed)', () => {
    const qwords = fc.array(fc.bigInt({ min: 0n, max: MASK64 }), { minLength: 8, maxLength: 8 });
    fc.assert(fc.property(qwords, fc.constantFrom(0, 4, 5, 6, 7), (q, config) => {
      // V=1 with a chosen Config (Config 1-3 are reserved and behave as abort)
      const e = [...q];
      e[0] = (e[0]! & ~0xfn) | BigInt(config << 1) | 1n;
      const back = summaryImage(steSummary(e));
      expect(equalOnMask(back, e, steUsedMask(e))).toBe(true);
    }), { seed: 0x5ef1, numRuns: 400 });
  });
});

describe('parseSteStream: entries from stored doublewords and summaries', () => {
  it('a doubleword stored in the stream is known whole; one never stored only on its used bits', () => {
    const e = ste({ ...S2, SHCFG: 1 });
    // qword 1 and 0 are stored; 2 and 3 were written before the stream table was configured
    const rows = rowsOf(stream(storeRow(40, 0x10, 1, e, 'safe'), storeRow(40, 0x10, 0, e), cfgiRow(40, 0x10, e)));
    const c = rows[2]!.entry;
    expect(c.known[0]).toBe(MASK64);
    expect(c.known[1]).toBe(MASK64);
    expect(c.known[2]).toBe(steUsedMask(e)[2]);
    expect(c.qwords[2]).toBe(e[2]);
    expect(c.qwords[3]).toBe(e[3]);
  });
  it('a stored doubleword the summary contradicts (an unseen write) gives way to the summary', () => {
    const before = ste({ ...S2, S2VMID: 1 });
    const after = ste({ ...S2, S2VMID: 2 });
    const rows = rowsOf(stream(storeRow(10, 1, 2, before), cfgiRow(20, 1, after)));
    expect(rows[1]!.entry.qwords[2]! & 0xffffn).toBe(2n);
    expect(rows[1]!.entry.known[2]).toBe(steUsedMask(after)[2]);
  });
  it('skips lines that are not STE rows', () => {
    expect(rowsOf(`${HEADERS.ste}\nnot a row\n\n`)).toEqual([]);
  });
});

describe('steFieldChanges', () => {
  it('SHCFG incoming -> NSH on a stage-2 entry: DW1[45:44], used by both', () => {
    const a = ste({ ...S2, SHCFG: 1 });
    const b = ste({ ...S2, SHCFG: 0 });
    const [ra, rb] = [rowsOf(stream(...[1, 2, 3, 0].map((q) => storeRow(5, 1, q, a)))), rowsOf(stream(...[1, 2, 3, 0].map((q) => storeRow(5, 1, q, b))))];
    const ch = steFieldChanges(ra[3]!.entry, rb[3]!.entry);
    expect(ch).toEqual([{ field: 'SHCFG', position: 'DW1[45:44]', qword: 1, old: 1n, new: 0n, oldText: '1 (incoming)', newText: '0 (NSH)', used: 'both' }]);
  });
  it('Config S2 -> nested and an address field: names, enum meanings, values', () => {
    const a = ste({ ...S2 });
    const b = ste({ ...S2, Config: 7, S1ContextPtr: 0x4000_0000n, S2TTB: 0x1_0001_2000n });
    const ra = rowsOf(stream(...[0, 1, 2, 3].map((q) => storeRow(5, 1, q, a))));
    const rb = rowsOf(stream(...[0, 1, 2, 3].map((q) => storeRow(5, 1, q, b))));
    const ch = steFieldChanges(ra[3]!.entry, rb[3]!.entry);
    expect(ch.map((c) => `${c.field}: ${c.oldText} -> ${c.newText} ${c.position} ${c.used}`)).toEqual([
      // DW0 = 0xd -> 0x4000_000f: Config 0b110 -> 0b111 (bits 3:1), S1ContextPtr 0x0 -> 0x4000_0000 (bits 55:6, in place)
      'Config: 6 (S2) -> 7 (nested) DW0[3:1] both',
      'S1ContextPtr: 0x0 -> 0x40000000 DW0[55:6] b', // addresses print in hex, zero too
      'S2TTB: 0x100008000 -> 0x100012000 DW3[51:4] both',
    ]);
  });
  it('a field one side uses and the other does not know is shown with ?', () => {
    // A: a cfgi of a stage-2 entry never stored (S2VMID known from the summary); B: abort, never stored
    const a = rowsOf(stream(cfgiRow(7, 3, ste({ ...S2, S2VMID: 2 }))))[0]!;
    const b = rowsOf(stream(cfgiRow(7, 3, ste({ V: 1, Config: 0 }))))[0]!;
    const ch = steFieldChanges(a.entry, b.entry);
    expect(ch.find((c) => c.field === 'S2VMID')).toMatchObject({ old: 2n, new: undefined, oldText: '2', newText: '?', used: 'a' });
    expect(ch[0]).toMatchObject({ field: 'Config', oldText: '6 (S2)', newText: '0 (abort)', used: 'both' });
  });
});

describe('hunkFieldChanges: pairing the rows a hunk replaces', () => {
  const a = ste({ ...S2, SHCFG: 1 });
  const b = ste({ ...S2, SHCFG: 0 });
  it('pairs by line, StreamID, action and doubleword; groups identical changes; skips pairs with no field change', () => {
    const ra = rowsOf(stream(storeRow(50, 0x10, 2, a, 'new'), storeRow(50, 0x10, 0, a), cfgiRow(50, 0x10, a), `51,0x10,fetch,,,valid,${steSummary(a)}`));
    const rb = rowsOf(stream(storeRow(50, 0x10, 2, a, 'old'), storeRow(50, 0x10, 0, b), cfgiRow(50, 0x10, b), `51,0x10,fetch,,,valid,${steSummary(b)}`));
    // the store of qword 2 stored the same value (only its state differs): no field line for it
    const groups = hunkFieldChanges(ra, rb);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.places).toEqual(['line 50 store DW0', 'line 50 cfgi', 'line 51 fetch']);
    expect(formatFieldGroup(groups[0]!, 'A', 'B', true)).toEqual([
      '# STE fields of StreamID 0x10, A -> B: line 50 store DW0, line 50 cfgi, line 51 fetch',
      '#   SHCFG: 1 (incoming) -> 0 (NSH)  DW1[45:44]  used by both',
    ]);
    expect(formatFieldGroup(groups[0]!, 'A', 'B', false)[1]).toBe('#   SHCFG: 1 (incoming) -> 0 (NSH)  DW1[45:44]');
  });
  it('rows that moved to another trace line still pair (by StreamID, action, doubleword)', () => {
    const ra = rowsOf(stream(cfgiRow(60, 0x10, a)));
    const rb = rowsOf(stream(cfgiRow(61, 0x10, b)));
    expect(hunkFieldChanges(ra, rb).map((g) => [g.places, g.changes.map((c) => c.field)])).toEqual([[['line 60 cfgi'], ['SHCFG']]]);
  });
  it('rows of different StreamIDs do not pair', () => {
    expect(hunkFieldChanges(rowsOf(stream(cfgiRow(60, 0x10, a))), rowsOf(stream(cfgiRow(60, 0x11, b))))).toEqual([]);
  });
});
