/**
 * compare on a trace whose streams are too large to hold and diff whole: the
 * streams are spooled to files and diffed around their first difference.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('smmu-compare-');

describe('compare on large streams', () => {
  it('120,000 DMAs that rfc-v3 translates and rfc-v3-review faults: a window diff, counts of the window', async () => {
    // traces/tlbi-asid.csv ends at line 52 with the DMA the two variants disagree on (rfc-v3
    // translates it from a stale TLB entry; rfc-v3-review faults).  The same DMA 120,000 times
    // more (lines 53..120,052) makes each DMA stream about 9 MB, over the 8 MiB whole-diff limit.
    const d = tmp();
    const trace = readFileSync(join(ROOT, 'traces/tlbi-asid.csv'), 'utf8') + 'dma,0x10,0x2000_0010,r\n'.repeat(120_000);
    writeFileSync(join(d, 'big.csv'), trace);
    const r = await runCli(['compare', 'big.csv', 'rfc-v3', 'rfc-v3-review'], d);
    expect(r.err).toBe('');
    expect(r.code).toBe(1);
    expect(r.out).toContain('(the files are too large to diff whole: this is the first difference, at byte ');
    // The first differing DMA row is trace line 52, and the first hunk removes rfc-v3's translation.
    expect(r.out).toContain('-52,0x10,,0x0000000020000010,r,translated,0x0000000090000010,stage 1+2 (TLB hit)\n');
    expect(r.out).toMatch(/\ndma: differ \(\d+ rows only in A, \d+ only in B; first at trace line 52 \(in the part compared\)\)\n$/);
  }, 60_000);
});
