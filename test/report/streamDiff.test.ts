/**
 * diffStream's bound on the cost of a diff: exact where the differing region
 * is small, a window from the first difference (with a note) where an exact
 * diff would take hours.  The bounds are counts, so the output is fixed.
 */
import { describe, expect, it } from '@jest/globals';
import { diffStream } from '../../src/report/streamDiff.js';

/** A DMA-stream-like text: header, then rows 1..n whose outcome is `outcome(i)`. */
function stream(n: number, outcome: (i: number) => string): string {
  const rows = ['line,sid,ssid,addr,access,outcome,pa,detail'];
  for (let i = 1; i <= n; i++) rows.push(`${i},0x10,,0x${i.toString(16).padStart(16, '0')},r,${outcome(i)},,`);
  return `${rows.join('\n')}\n`;
}

describe('diffStream bounds', () => {
  it('a few differing rows in a long stream: exact, however long the common parts', () => {
    // 100,000 rows; rows 50,000 and 50,001 differ.  The common head and tail are set aside, the
    // region left is 4 lines: one hunk, text lines 49,998..50,005 (row i is text line i + 1).
    const a = stream(100_000, () => 'translated');
    const b = stream(100_000, (i) => (i === 50_000 || i === 50_001 ? 'fault' : 'translated'));
    const d = diffStream({ label: 'A', file: 'a', text: a }, { label: 'B', file: 'b', text: b })!;
    expect(d.note).toBeUndefined();
    expect(d.hunks.map((h) => h.header)).toEqual(['@@ -49998,8 +49998,8 @@']);
    expect(d.onlyA).toHaveLength(2);
    expect(d.firstLine).toBe(50_000);
  });

  it('1,000 rows that all differ: within 2,000 edits, so exact (one hunk over every row)', () => {
    const d = diffStream({ label: 'A', file: 'a', text: stream(1000, () => 'translated') }, { label: 'B', file: 'b', text: stream(1000, () => 'fault') })!;
    expect(d.note).toBeUndefined();
    // Text lines 2..1001 differ; with the header as context: -1,1001 +1,1001.
    expect(d.hunks.map((h) => h.header)).toEqual(['@@ -1,1001 +1,1001 @@']);
  });

  it('30,000 rows that all differ: the first 200 of each side from the first difference, and a note', () => {
    // An exact diff would need 60,000 edits.  The first difference is text line 2 (row 1); the
    // window is text lines 1..201 (three lines of context before line 2, of which only the header
    // exists), so one hunk -1,201 +1,201 with 200 removed and 200 added rows.
    const d = diffStream({ label: 'A', file: 'a', text: stream(30_000, () => 'translated') }, { label: 'B', file: 'b', text: stream(30_000, () => 'fault') })!;
    expect(d.note).toBe('(30000 and 30000 lines differ from line 2 on: too many to diff exactly; this is the diff of their first 200, the rest is not shown)');
    expect(d.hunks.map((h) => h.header)).toEqual(['@@ -1,201 +1,201 @@']);
    expect(d.hunks[0]!.lines.filter((l) => l.startsWith('-'))).toHaveLength(200);
    // The counts still cover the whole streams.
    expect(d.onlyA).toHaveLength(30_000);
    expect(d.onlyB).toHaveLength(30_000);
    expect(d.firstLine).toBe(1);
  });

  it('a window deep in the stream is numbered as lines of the whole text', () => {
    // Rows 1..9,999 equal; from row 10,000 on (text line 10,001) all 20,001 rows differ: 40,002
    // lines left, over the 20,000-line region bound.  The window starts 3 lines before line 10,001.
    const a = stream(30_000, () => 'translated');
    const b = stream(30_000, (i) => (i >= 10_000 ? 'fault' : 'translated'));
    const d = diffStream({ label: 'A', file: 'a', text: a }, { label: 'B', file: 'b', text: b })!;
    expect(d.note).toBe('(20001 and 20001 lines differ from line 10001 on: too many to diff exactly; this is the diff of their first 200, the rest is not shown)');
    expect(d.hunks[0]!.header).toBe('@@ -9998,203 +9998,203 @@');
    expect(d.hunks[0]!.lines[3]).toBe(`-10000,0x10,,0x${(10_000).toString(16).padStart(16, '0')},r,translated,,`);
    expect(d.firstLine).toBe(10_000);
  });
});
