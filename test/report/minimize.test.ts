/**
 * The minimizer: delta debugging over trace rows keeps the pinned failure and
 * the rows it needs, removes dependents with what they depend on, is
 * deterministic, and the small trace fails when replayed from its file.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ddmin, dependencies } from '../../src/report/minimize.js';
import { parseTraceText } from '../../src/trace/parse.js';
import { ROOT, runCli } from '../helpers/cli.js';

// Each test replays whole traces (several variants, or many candidate traces): seconds under load.
jest.setTimeout(60_000);

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'smmu-minimize-'));
}
const dataRows = (text: string): string[] => text.split('\n').filter((l) => l && !l.startsWith('#'));
const originalLines = (text: string): number[] => /# original line of each row, in order: ([\d ]+)\n/.exec(text)![1]!.split(' ').map(Number);

describe('ddmin', () => {
  const remove = (kept: readonly number[], drop: ReadonlySet<number>) => kept.filter((i) => !drop.has(i));
  it('finds the two rows a failure needs among 16, and is 1-minimal', () => {
    const all = Array.from({ length: 16 }, (_, i) => i);
    const r = ddmin(all, (k) => k.includes(3) && k.includes(11), remove, 1000);
    expect(r.kept).toEqual([3, 11]);
    expect(r.exhausted).toBe(false);
  });
  it('stops at the test limit with what it has', () => {
    const r = ddmin(Array.from({ length: 64 }, (_, i) => i), (k) => k.includes(5), remove, 3);
    expect(r.exhausted).toBe(true);
    expect(r.tests).toBe(3);
    expect(r.kept).toContain(5);
  });
});

describe('dependencies between op rows', () => {
  it('ops naming a domain need its domain_alloc; detach and write_cd the attach of their StreamID', async () => {
    const rows = await parseTraceText([
      'op,probe', // 0
      'op,domain_alloc,id=a,type=s1', // 1
      'op,domain_alloc,id=b,type=s2', // 2
      'op,attach,sid=0x10|0x11,domain=a', // 3: needs 1
      'op,map,domain=a,iova=0,pa=0,size=0x1000', // 4: needs 1
      'op,detach,sid=17', // 5: needs 3 (the attach of 0x11, written in decimal here)
      'op,domain_alloc,id=a,type=s2', // 6: a second domain named a
      'op,map,domain=a,iova=0,pa=0,size=0x1000', // 7: needs 6, the latest a
      'op,domain_free,id=b', // 8: needs 2
      'dma,0x10,0x0,r', // 9
    ].join('\n'));
    expect(dependencies(rows)).toEqual([[], [], [], [1], [1], [3], [], [6], [2], []]);
  });
});

describe('minimize', () => {
  it('a failed expect (tlbi-asid under rfc-v3): 17 rows down to 12 that still fail', async () => {
    const d = tmp();
    const r = await runCli(['minimize', join(ROOT, 'traces/tlbi-asid.csv'), '--variant', 'rfc-v3', '-o', 'small.csv'], d);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('failed expectation under rfc-v3 at trace line 52: expected fault:F_TRANSLATION, got pa:0x0000000090000010\nrows: 17 -> 12 (');
    expect(r.out).toContain('reproduce: smmu-replay replay small.csv --variant rfc-v3\n');
    const small = readFileSync(join(d, 'small.csv'), 'utf8');
    // What stays (trace lines): the nested domain and its attach (35, 36); both stage-2 maps (37 guest RAM,
    // where the CD and the stage-1 tables are read through stage 2; 38 the data page the DMA reaches);
    // the CD (40, 41) and the four stage-1 table descriptors (43-46); set_pasid_table (47); the failing DMA (52).
    // What goes: op,probe (34: the driver probes before its first operation), and the first DMA (48), the
    // guest's invalidation of ASID 7 (49), the unmap (50) and the flush (51): without the unmap the page is
    // still mapped, so the DMA still gets pa:0x9000_0010 against its expect=fault:F_TRANSLATION (the same
    // check row).  The expectation is the failure kept; --against keeps a difference between variants instead.
    expect(originalLines(small)).toEqual([35, 36, 37, 38, 40, 41, 43, 44, 45, 46, 47, 52]);
    expect(dataRows(small)).toHaveLength(12);
    const again = await runCli(['replay', 'small.csv', '--variant', 'rfc-v3'], d);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/^16,check,dma,0x10,,0x0000000020000010,"expected fault:F_TRANSLATION, got pa:0x0000000090000010"$/m);
    // deterministic: the same file and the same report again
    const d2 = tmp();
    const r2 = await runCli(['minimize', join(ROOT, 'traces/tlbi-asid.csv'), '--variant', 'rfc-v3', '-o', 'small.csv'], d2);
    expect(readFileSync(join(d2, 'small.csv'), 'utf8')).toBe(small);
    expect(r2.out).toBe(r.out);
  });
  it('--against: KUnit case 21 of kunit-ste, linux-current vs hitless-nosafe, in 2 of 50 rows', async () => {
    const d = tmp();
    cpSync(join(ROOT, 'docs/examples/hitless-nosafe.json'), join(d, 'nosafe.json'));
    const r = await runCli(['minimize', join(ROOT, 'traces/kunit-ste.csv'), '--variant', 'linux-current', '--against', 'hitless-nosafe', '--variant-file', 'nosafe.json', '-o', 'case21.csv'], d);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rows: 50 -> 2 (');
    const small = readFileSync(join(d, 'case21.csv'), 'utf8');
    // the two write_ste rows of StreamID 0x215 (case 21: its initial entry, then the target the writer breaks)
    expect(dataRows(small).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['op,write_ste,sid=0x215', 'op,write_ste,sid=0x215']);
    expect(r.out).toContain('reproduce: smmu-replay compare case21.csv linux-current hitless-nosafe --variant-file nosafe.json\n');
    const c = await runCli(['compare', 'case21.csv', 'linux-current', 'hitless-nosafe', '--variant-file', 'nosafe.json'], d);
    expect(c.code).toBe(1);
    expect(c.out).toMatch(/^\+6,hazard,invalid,0x215,.*V=0, a transaction gets C_BAD_STE"$/m);
  });
  it('--golden: the union corruption against a golden that expects the split layout, in 3 rows', async () => {
    const d = tmp();
    cpSync(join(ROOT, 'golden/union-aliasing'), join(d, 'golden/union-aliasing'), { recursive: true });
    cpSync(join(ROOT, 'traces/union-aliasing.csv'), join(d, 'traces/union-aliasing.csv'));
    cpSync(join(d, 'golden/union-aliasing/rfc-v3.ste.csv'), join(d, 'golden/union-aliasing/rfc-v3-union.ste.csv'));
    const r = await runCli(['minimize', 'traces/union-aliasing.csv', '--variant', 'rfc-v3-union', '--golden', '-o', 'u.csv'], d);
    expect(r.code).toBe(0);
    expect(r.out).toContain('traces/union-aliasing.csv: rfc-v3-union differs from golden/union-aliasing/rfc-v3-union.ste.csv at trace line 50\nrows: 21 -> 3 (');
    // the domain, StreamID 0x22's attach and the set_pasid_table that writes the union
    expect(dataRows(readFileSync(join(d, 'u.csv'), 'utf8'))).toEqual([
      'op,domain_alloc,id=vm,type=nested,ias=40', 'op,attach,sid=0x22,domain=vm', 'op,set_pasid_table,domain=vm,config=translate,base=0x4000_0000',
    ]);
  });
  it('nothing to minimize, or a bad request: exit 2 and no file', async () => {
    const d = tmp();
    const t = join(ROOT, 'traces/tlbi-asid.csv');
    const cases: [string[], RegExp][] = [
      [['--variant', 'rfc-v3-review'], /has no failed expectation; give --against/],
      [['--variant', 'rfc-v3', '--against', 'rfc-v3-cleared'], /rfc-v3 and rfc-v3-cleared agree; nothing to minimize/],
      [['--variant', 'rfc-v3', '--against', 'torn', '--golden'], /give --against or --golden, not both/],
      [['--variant', 'rfc-v3,torn'], /exactly one --variant/],
      [['--variant', 'rfc-v3', '--golden', '--golden-dir', 'nowhere'], /no golden files for/],
    ];
    for (const [args, msg] of cases) {
      const r = await runCli(['minimize', t, ...args, '-o', 'x.csv'], d);
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(msg)]);
    }
    expect(() => readFileSync(join(d, 'x.csv'))).toThrow();
  });
});

describe('input bounds', () => {
  it('a trace of more than 1,000,000 rows is refused at the row past the bound, nothing written', async () => {
    // A comment on line 1, then 1,000,001 DMA rows on lines 2..1,000,002: the row past the bound
    // is the 1,000,001st, on line 1,000,002.
    const d = tmp();
    writeFileSync(join(d, 'big.csv'), `# too long to minimize\n${'dma,0,0x1000,r\n'.repeat(1_000_001)}`);
    const r = await runCli(['minimize', 'big.csv', '--variant', 'hw', '--golden', '-o', 'small.csv'], d);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toBe('smmu-replay: big.csv:1000002: more than 1000000 rows: minimize holds every row and replays them thousands of times; cut the trace around the failure first\n');
    expect(existsSync(join(d, 'small.csv'))).toBe(false);
  }, 60_000);
});
