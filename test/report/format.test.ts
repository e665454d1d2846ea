/**
 * Output formats of check and compare: KTAP read back by a TAP parser, JUnit
 * XML by an XML parser, JSON Lines and JSON by JSON.parse; the field-level
 * STE lines under each hunk of the text diff.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DOMParser } from '@xmldom/xmldom';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { main } from '../../cli/main.js';
import { formatJunit, formatKtap, formatText, type RunResult } from '../../src/report/format.js';
import type { Io } from '../../src/report/io.js';
import { diffStream, renderDiff } from '../../src/report/streamDiff.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { ktapToTap14, parseTap, type TapNode } from '../helpers/tap.js';

// Each test replays whole traces (several variants, or many candidate traces): seconds under load.
jest.setTimeout(60_000);

/**
 * A copy of union-aliasing with two reviewed-golden problems: rfc-v3-union's
 * STE golden replaced by rfc-v3's (so the union's corruption of s2_cfg shows
 * as a difference at trace line 50), and torn's DMA golden missing.
 */
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smmu-format-'));
  cpSync(join(ROOT, 'traces/union-aliasing.csv'), join(dir, 'traces/union-aliasing.csv'));
  cpSync(join(ROOT, 'traces/s1-translate.csv'), join(dir, 'traces/s1-translate.csv'));
  cpSync(join(ROOT, 'golden/union-aliasing'), join(dir, 'golden/union-aliasing'), { recursive: true });
  cpSync(join(ROOT, 'golden/s1-translate'), join(dir, 'golden/s1-translate'), { recursive: true });
  cpSync(join(dir, 'golden/union-aliasing/rfc-v3.ste.csv'), join(dir, 'golden/union-aliasing/rfc-v3-union.ste.csv'));
  rmSync(join(dir, 'golden/union-aliasing/torn.dma.csv'));
});

const check = (format: string, env: Record<string, string> = {}) => runCli(['check', '--format', format], dir, env);
const UNION_VARIANTS = ['linux-5.0', 'rfc-v3', 'rfc-v3-union', 'rfc-v3-cleared', 'rfc-v3-review', 'auger-v7', 'auger-v8', 'linux-6.10', 'linux-current', 'torn', 'nosync'];

/** The result lines of a KTAP document with their nesting depth (two spaces a level). */
function ktapLines(text: string): { depth: number; line: string }[] {
  return text.split('\n').filter(Boolean).map((l) => {
    const n = /^ */.exec(l)![0].length;
    expect(n % 2).toBe(0);
    return { depth: n / 2, line: l.slice(n) };
  });
}

function subtests(t: TapNode): [string, boolean][] {
  return t.asserts.map((a) => [a.name, a.ok]);
}

describe('text: field-level STE lines under each hunk', () => {
  it('without STE fields the diff is exactly what createTwoFilesPatch makes', () => {
    const a = 'line,source,type,sid,ssid,addr,detail\n1,evtq,F_TRANSLATION,0x1,,0x0000000000001000,x\n';
    const b = 'line,source,type,sid,ssid,addr,detail\n1,evtq,F_PERMISSION,0x1,,0x0000000000001000,x\n';
    const d = diffStream({ label: 'A', file: 'a/f', text: a }, { label: 'B', file: 'b/f', text: b })!;
    expect(renderDiff(d, false)).toBe(createTwoFilesPatch('a/f', 'b/f', a, b, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY }));
    expect(diffStream({ label: 'A', file: 'a', text: a }, { label: 'B', file: 'b', text: a })).toBeUndefined();
  });
  it('check: the hunk of the union difference is followed by the fields the union overwrote', async () => {
    const r = await check('text');
    expect(r.code).toBe(1);
    const lines = r.out.split('\n');
    const at = lines.indexOf('DIFF traces/union-aliasing.csv [rfc-v3-union] ste (golden golden/union-aliasing/rfc-v3-union.ste.csv)');
    expect(at).toBeGreaterThanOrEqual(0);
    const hunk = lines.slice(at);
    const first = hunk.findIndex((l) => l.startsWith('# STE fields'));
    // every line between the @@ header and the first field line belongs to the hunk
    expect(hunk.slice(3, first).every((l) => /^[ +@-]/.test(l))).toBe(true);
    // the cfgi the SMMU used: the golden (rfc-v3) entry's stage-2 fields against the union's.  vmid and
    // vttbr of s2_cfg share bytes with s1_cfg's cdptr/cdptr_dma, vtcr[15:0] with the nested flags:
    // S2VMID 2 -> cdptr[15:0] = 0, S2TTB -> the guest CD at 0x4000_0000, S2T0SZ 24 -> 0.
    expect(r.out).toContain([
      '# STE fields of StreamID 0x22, golden -> actual: line 50 store DW0, line 50 cfgi, line 51 fetch',
      '#   S2VMID: 2 -> 0                    DW2[15:0]',
      '#   S2T0SZ: 24 -> 0                   DW2[37:32]',
    ].join('\n'));
    expect(r.out).toContain('#   S2TTB: 0x100012000 -> 0x40000000  DW3[51:4]\n   reproduce: smmu-replay replay traces/union-aliasing.csv --variant rfc-v3-union\n');
    expect(r.out).toContain('MISSING traces/union-aliasing.csv [torn] dma');
    expect(r.out).toMatch(/2 traces, 36 streams compared, 2 differences\n$/);
  });
});

describe('ktap', () => {
  it('check: KTAP version 1, one test per trace, one subtest per variant, diagnostics before not ok', async () => {
    const r = await check('ktap');
    expect(r.code).toBe(1);
    const lines = ktapLines(r.out);
    expect(lines.slice(0, 4)).toEqual([
      { depth: 0, line: 'KTAP version 1' }, { depth: 0, line: '1..2' },
      { depth: 1, line: 'KTAP version 1' }, { depth: 1, line: `1..1` }, // s1-translate.csv sorts first: one variant, hw
    ]);
    // every nested block opens with a version line and a plan (the kernel's rule, not TAP 14's "Subtest" line)
    lines.forEach((l, i) => { if (l.line === 'KTAP version 1') expect(lines[i + 1]!.line).toMatch(/^1\.\.\d+$/); });
    // the diagnostic lines of a failure come right before its `not ok`, at its level
    lines.forEach((l, i) => { if (l.line.startsWith('not ok') && l.depth === 1) expect(lines[i - 1]).toMatchObject({ depth: 1, line: expect.stringMatching(/^# /) }); });
    // a real TAP parser: the top level as written, the subtests with TAP 14's indentation
    const top = parseTap(r.out);
    expect(subtests(top)).toEqual([['traces/s1-translate.csv', true], ['traces/union-aliasing.csv', false]]);
    expect(top.plan).toEqual({ start: 1, end: 2 });
    const nested = parseTap(ktapToTap14(r.out));
    expect(nested.asserts.map((a) => a.child?.plan)).toEqual([{ start: 1, end: 1 }, { start: 1, end: 11 }]);
    const union = nested.asserts[1]!.child!;
    expect(subtests(union)).toEqual(UNION_VARIANTS.map((v) => [v, v !== 'rfc-v3-union' && v !== 'torn']));
    expect(subtests(nested.asserts[0]!.child!)).toEqual([['hw', true]]);
    const diag = union.comments.filter((c) => c !== 'Subtest');
    expect(diag[0]).toBe('ste differs from golden/union-aliasing/rfc-v3-union.ste.csv (6 rows only in golden, 6 only in actual; first at trace line 50)');
    expect(diag[1]).toBe('-50,0x22,store,1,0x00000000000000d4,new,V=0');
    expect(diag.filter((l) => /^ {2}S2VMID: 2 -> 0 +DW2\[15:0\]$/.test(l)).length).toBeGreaterThan(0);
    expect(diag).toContain('reproduce: smmu-replay replay traces/union-aliasing.csv --variant rfc-v3-union');
    expect(diag).toContain('dma: no golden file golden/union-aliasing/torn.dma.csv');
  });
  it('compare: one test for the trace, one subtest per stream', async () => {
    const r = await runCli(['compare', 'traces/nested-bypass.csv', 'rfc-v3', 'rfc-v3-cleared', '--semantic', '--format', 'ktap'], ROOT);
    expect(r.code).toBe(1);
    const nested = parseTap(ktapToTap14(r.out));
    expect(subtests(nested)).toEqual([['traces/nested-bypass.csv', false]]);
    expect(subtests(nested.asserts[0]!.child!)).toEqual([['ste', false], ['faults', false], ['dma', true]]);
    const diag = nested.asserts[0]!.child!.comments;
    expect(diag).toContain('ste: effective difference (2 rows only in A, 2 only in B; first at trace line 50)');
    expect(diag).toContain('  SHCFG: 0 (NSH) -> 1 (incoming)  DW1[45:44]'); // one field: no padding
    expect(diag).toContain('dma: identical');
  });
  it('a skipped case is `ok ... # SKIP reason`; names lose their #', () => {
    const res: RunResult = { command: 'oracle', traces: [{ trace: 'a#b.csv', cases: [{ name: 'qemu', status: 'skip', note: 'no qemu here', findings: [] }] }] };
    const t = parseTap(ktapToTap14(formatKtap(res)));
    expect(t.asserts[0]).toMatchObject({ ok: true, name: 'a_b.csv' });
    expect(t.asserts[0]!.child!.asserts[0]).toMatchObject({ ok: true, name: 'qemu', skip: 'no qemu here' });
  });
});

/** Parse XML strictly: any warning or error fails the test. */
function parseXml(text: string): Document {
  const problems: string[] = [];
  const doc = new DOMParser({ onError: (level: string, msg: string) => { problems.push(`${level}: ${msg}`); } }).parseFromString(text, 'text/xml');
  expect(problems).toEqual([]);
  return doc as unknown as Document;
}

describe('junit', () => {
  it('check: valid XML, a testsuite per trace, a testcase per variant, the right counts and failure messages', async () => {
    const r = await check('junit');
    expect(r.code).toBe(1);
    const doc = parseXml(r.out);
    const root = doc.documentElement;
    expect(root.tagName).toBe('testsuites');
    expect([root.getAttribute('tests'), root.getAttribute('failures'), root.getAttribute('errors'), root.getAttribute('skipped')]).toEqual(['12', '2', '0', '0']);
    const suites = Array.from(root.getElementsByTagName('testsuite'));
    expect(suites.map((s) => [s.getAttribute('name'), s.getAttribute('tests'), s.getAttribute('failures')]))
      .toEqual([['traces/s1-translate.csv', '1', '0'], ['traces/union-aliasing.csv', '11', '2']]);
    const cases = Array.from(suites[1]!.getElementsByTagName('testcase'));
    expect(cases.map((c) => c.getAttribute('name'))).toEqual(UNION_VARIANTS);
    const failures = Array.from(root.getElementsByTagName('failure'));
    expect(failures.map((f) => [(f.parentNode as Element).getAttribute('name'), f.getAttribute('message')])).toEqual([
      ['rfc-v3-union', 'ste differs from golden/union-aliasing/rfc-v3-union.ste.csv (6 rows only in golden, 6 only in actual; first at trace line 50)'],
      ['torn', 'dma: no golden file golden/union-aliasing/torn.dma.csv'],
    ]);
    // the failure text is the whole difference: the unified diff with its field lines
    expect(failures[0]!.textContent).toContain('+50,0x22,cfgi,,,illegal,V=1 Config=nested');
    expect(failures[0]!.textContent).toContain('#   S2TTB: 0x100012000 -> 0x40000000  DW3[51:4]');
  });
  it('escapes markup and drops characters XML 1.0 cannot hold', () => {
    const res: RunResult = {
      command: 'check',
      traces: [{ trace: 't<&>"\'.csv', cases: [{ name: 'v\u0001', status: 'fail', findings: [{ subject: 's', message: 'a < b & "c"', a: 'x', b: 'y', rows: [{ side: 'a', text: '<row>' }], fields: [] }] }] }],
    };
    const doc = parseXml(formatJunit(res));
    const tc = doc.getElementsByTagName('testcase')[0]!;
    expect(tc.getAttribute('classname')).toBe('t<&>"\'.csv');
    expect(tc.getAttribute('name')).toBe('v\\x01');
    expect(doc.getElementsByTagName('failure')[0]!.getAttribute('message')).toBe('a < b & "c"');
  });
});

describe('jsonl and json', () => {
  it('jsonl: one object per case, finding, differing row and field change, in a stable key order', async () => {
    const r = await check('jsonl');
    expect(r.code).toBe(1);
    const objs = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const keys = (t: string) => [...new Set(objs.filter((o) => o.type === t).map((o) => Object.keys(o).join(',')))];
    expect(keys('case')).toEqual(['type,command,trace,case,status,note,reproduce,findings']);
    expect(keys('finding')).toEqual(['type,command,trace,case,subject,message,traceLine,a,b']);
    expect(keys('row')).toEqual(['type,command,trace,case,subject,side,source,line,row']);
    expect(keys('field')).toEqual(['type,command,trace,case,subject,sid,line,places,field,position,old,new,oldText,newText,used']);
    expect(objs.filter((o) => o.type === 'case')).toHaveLength(12);
    // 6 rows only in the golden and 6 only in the actual stream (the hunk's - and + lines)
    expect(objs.filter((o) => o.type === 'row').map((o) => o.side).join('')).toBe('aaabbbaaabbb');
    expect(objs.find((o) => o.type === 'field' && o.field === 'S2TTB' && (o.places as string[]).includes('line 50 cfgi')))
      .toMatchObject({ sid: '0x22', position: 'DW3[51:4]', old: '0x100012000', new: '0x40000000' });
    expect(objs[objs.length - 1]).toEqual({ type: 'summary', command: 'check', traces: 2, cases: 12, passed: 10, failed: 2, skipped: 0 });
    expect((await check('jsonl')).out).toBe(r.out);
  });
  it('json: the whole result as one document', async () => {
    const r = await runCli(['compare', 'traces/union-aliasing.csv', 'rfc-v3', 'rfc-v3-union', '--semantic', '--format', 'json'], ROOT);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.summary).toEqual({ traces: 1, cases: 3, passed: 0, failed: 3, skipped: 0 });
    const ste = j.traces[0].cases[0];
    expect(ste.findings[0].fields[0].changes.map((c: { field: string }) => c.field)).toEqual(['S2VMID', 'S2T0SZ', 'S2SL0', 'S2IR0', 'S2OR0', 'S2SH0', 'S2TTB']);
    expect(ste.findings[0].fields[0].changes[0].used).toBe('both');
  });
});

describe('text for commands without a report of their own', () => {
  it('a line per case, a failure\'s findings and reproduce command under it, a count line', () => {
    const res: RunResult = {
      command: 'oracle',
      traces: [{ trace: 't.csv', title: 'model vs qemu-7.2', cases: [
        { name: 'dma line 9', status: 'fail', findings: [{ subject: 'dma', message: 'line 9: model fault F_TRANSLATION, qemu pa:0x1000', traceLine: 9, a: 'model', b: 'qemu', rows: [{ side: 'a', text: '9,0x1,,...' }, { side: 'b', text: '9,0x1,,...x' }], fields: [] }], reproduce: 'smmu-replay oracle qemu t.csv' },
        { name: 'dma line 10', status: 'pass', findings: [] },
        { name: 'dma line 11', status: 'skip', note: 'UNSUPPORTED in the model', findings: [] },
      ] }],
    };
    expect(formatText(res)).toBe([
      '== t.csv: model vs qemu-7.2',
      'FAIL dma line 9',
      '     line 9: model fault F_TRANSLATION, qemu pa:0x1000',
      '     -9,0x1,,...',
      '     +9,0x1,,...x',
      '     reproduce: smmu-replay oracle qemu t.csv',
      'ok   dma line 10',
      'skip dma line 11: UNSUPPORTED in the model',
      '3 cases: 1 ok, 1 failing, 1 skipped',
      '',
    ].join('\n'));
  });
});

describe('non-text formats carry no colour and no progress', () => {
  it('with FORCE_COLOR and a terminal on stderr, ktap has no escape sequences; text has them', async () => {
    const run = async (format: string) => {
      let out = '';
      let err = '';
      const io: Io = { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, cwd: dir, env: { FORCE_COLOR: '1' }, stdoutIsTTY: true, stderrIsTTY: true };
      await main(['check', 'traces/union-aliasing.csv', '--format', format], io);
      return { out, err };
    };
    const ktap = await run('ktap');
    expect(ktap.out).not.toContain('\u001b');
    expect(ktap.err).toBe('');
    const text = await run('text');
    expect(text.out).toContain('\u001b[31m'); // red DIFF line
    expect(text.err).toContain('\u001b[K'); // the progress line is cleared after each trace
  });
  it('--update takes no --format', async () => {
    const r = await runCli(['check', '--update', '--format', 'json'], dir);
    expect([r.code, r.err]).toEqual([2, 'smmu-replay: --update writes golden files; --format json applies to comparisons\n']);
    expect(readFileSync(join(dir, 'golden/union-aliasing/rfc-v3-union.ste.csv'), 'utf8')).toBe(readFileSync(join(dir, 'golden/union-aliasing/rfc-v3.ste.csv'), 'utf8'));
  });
});
