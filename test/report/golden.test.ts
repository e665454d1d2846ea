import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffFiles } from '../../src/report/golden.js';
import { renderDiff } from '../../src/report/streamDiff.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('smmu-golden-');

/** Line i (1-based) of a fixed-width file: ten digits, a comma, 20 letters, an LF: 32 bytes. */
function row(i: number, letter = 'x'): string {
  return `${String(i).padStart(10, '0')},${letter.repeat(20)}\n`;
}

function lines(n: number, changed?: { at: number; letter: string }): string {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) out.push(row(i, changed && changed.at === i ? changed.letter : 'x'));
  return out.join('');
}

describe('diffFiles', () => {
  it('equal files: no diff', () => {
    const d = tmp();
    writeFileSync(join(d, 'g'), lines(10));
    writeFileSync(join(d, 'a'), lines(10));
    expect(diffFiles('x.csv', join(d, 'g'), join(d, 'a'))).toBeUndefined();
  });

  it('small files are diffed whole, with git-style headers', () => {
    const d = tmp();
    writeFileSync(join(d, 'g'), lines(10));
    writeFileSync(join(d, 'a'), lines(10, { at: 5, letter: 'y' }));
    const diff = diffFiles('golden/t/hw.dma.csv', join(d, 'g'), join(d, 'a'))!;
    // Line 5 changed: three lines of context each side, lines 2..8 on both sides.
    expect(diff.hunks.map((h) => h.header)).toEqual(['@@ -2,7 +2,7 @@']);
    expect(diff.note).toBeUndefined();
    const text = renderDiff(diff, false);
    expect(text).toContain('--- a/golden/t/hw.dma.csv\n+++ b/golden/t/hw.dma.csv\n');
    expect(text).toContain(`-${row(5)}+${row(5, 'y')}`);
  });

  it('files over 8 MiB: a window around the first difference, numbered as lines of the files', () => {
    // 300,000 lines of 32 bytes = 9,600,000 bytes, over the 8 MiB (8,388,608) whole-diff limit.
    // Line 200,000 differs: its first differing byte is at (200,000 - 1) * 32 + 11 = 6,399,979
    // (the 11 bytes before it: ten digits and the comma).  The hunk is lines 199,997..200,003.
    const d = tmp();
    writeFileSync(join(d, 'g'), lines(300_000));
    writeFileSync(join(d, 'a'), lines(300_000, { at: 200_000, letter: 'y' }));
    const diff = diffFiles('big.csv', join(d, 'g'), join(d, 'a'))!;
    expect(diff.hunks.map((h) => h.header)).toEqual(['@@ -199997,7 +199997,7 @@']);
    expect(diff.note).toBe('(the files are too large to diff whole: this is the first difference, at byte 6399979; the rest is not shown)');
    const text = renderDiff(diff, false);
    expect(text).toContain(` ${row(199_999)}-${row(200_000)}+${row(200_000, 'y')} ${row(200_001)}`);
    expect(text.endsWith(`${diff.note}\n`)).toBe(true);
  });
});
