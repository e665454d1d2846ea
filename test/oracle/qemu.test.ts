import { describe, expect, it } from '@jest/globals';
import { countRows, type ComparedRow } from '../../src/oracle/compare.js';
import { formatReport, oracleResult, summariseTiming, type RunTiming } from '../../src/oracle/qemu.js';
import { formatResult } from '../../src/report/format.js';
import { parseTap } from '../helpers/tap.js';

const run = (t: Partial<RunTiming>): { timing: RunTiming } => ({ timing: { startMs: 0, runMs: 0, dmaMs: 0, dmas: 0, qtestCommands: 0, ...t } });

describe('the timing line', () => {
  it('divides the DMAs by the time spent inside them, and reports start, run and wall time apart', () => {
    // Three instances: starts 60, 40, 50 ms (median 50); 30 + 50 + 0 = 80 DMAs in 150 + 250 + 0 = 400 ms inside the DMAs:
    // 80 * 1000 / 400 = 200 per second.  Run time (set-up and replay) 300 + 700 + 100 = 1100 ms, which the rate ignores.
    const s = summariseTiming([
      run({ startMs: 60, runMs: 300, dmaMs: 150, dmas: 30 }),
      run({ startMs: 40, runMs: 700, dmaMs: 250, dmas: 50 }),
      run({ startMs: 50, runMs: 100 }),
    ], 2500);
    expect(s).toMatchObject({ startMedianMs: 50, dmas: 80, dmaMs: 400, dmasPerSecond: 200, runMs: 1100, wallMs: 2500 });
    expect(s.text).toBe('QEMU start median 50 ms over 3 instances; 80 DMAs in 0.40 s inside the DMAs (200 per second); QEMU run time after start 1.1 s; 2.5 s wall');
  });

  it('no DMA time gives no rate rather than a division by zero', () => {
    expect(summariseTiming([run({ startMs: 10, runMs: 20 })], 30)).toMatchObject({ dmas: 0, dmasPerSecond: 0 });
    expect(summariseTiming([], 0)).toMatchObject({ startMedianMs: 0, dmasPerSecond: 0 });
  });
});

describe('the per-trace report', () => {
  it('names the rows judged against the uncached model apart from the known deviations', () => {
    const row = (line: number, verdict: ComparedRow['verdict'], extra: Partial<ComparedRow> = {}): ComparedRow =>
      ({ line, kind: 'dma', what: 'dma', verdict, model: 'm', qemu: 'q', deviations: [], ...extra });
    const note = 'nothing cached';
    const rows = [row(60, 'matched'), row(71, 'known-deviation', { deviations: ['qemu-10.0/event-pnu-zero'], note }), row(80, 'matched-uncached', { note })];
    expect(formatReport({ trace: 't.csv', variant: 'hw', counts: countRows(rows), rows }, { version: '10.0', show: 5, qemu: undefined })).toBe(
      't.csv [hw]: 1 matched, 1 matched (uncached), 1 known-deviation, 0 not-comparable, 0 mismatched\n'
      + '  known deviation qemu-10.0/event-pnu-zero: line 71\n'
      + '  judged against the model with nothing cached (QEMU cached less than `max`, IHI 0070 §16.2): lines 71, 80\n',
    );
  });
});

describe('--format: the cross-check as a result of the report layer', () => {
  const row = (line: number, verdict: ComparedRow['verdict'], extra: Partial<ComparedRow> = {}): ComparedRow =>
    ({ line, kind: 'dma', what: `dma 0x8 0x${line.toString(16)} r 4`, verdict, model: 'translated pa 0x40000000', qemu: 'fault F_TRANSLATION', deviations: [], ...extra });
  const good = [row(10, 'matched'), row(11, 'known-deviation', { deviations: ['qemu-7.2/event-pnu-zero'] })];
  const bad = [row(20, 'matched'), row(21, 'mismatched', { reason: 'outcome' })];
  const result = oracleResult([
    { trace: 'a.csv', variant: 'hw', counts: countRows(good), rows: good },
    { trace: 'b.csv', variant: 'rfc-v3', counts: countRows(bad), rows: bad },
    { trace: 'c.csv', variant: 'hw', counts: countRows([]), rows: [], skipped: 'mem_abort inside RAM at line 52' },
  ], [{ trace: 'd.csv', variant: undefined, message: 'd.csv: no such file' }], { version: '7.2', qemu: undefined });

  it('one case per trace x variant: pass, fail with the mismatched row as a finding, skip with its reason, and errors as failures', () => {
    expect(result.traces.map((t) => [t.trace, t.cases.map((c) => `${c.name}:${c.status}`)])).toEqual([
      ['a.csv', ['hw:pass']], ['b.csv', ['rfc-v3:fail']], ['c.csv', ['hw:skip']], ['d.csv', ['run:fail']],
    ]);
    const f = result.traces[1]!.cases[0]!;
    expect(f.findings).toEqual([{
      subject: 'dma 0x8 0x15 r 4', message: 'line 21: outcome', traceLine: 21, a: 'model', b: 'qemu-7.2',
      rows: [{ side: 'a', text: 'translated pa 0x40000000' }, { side: 'b', text: 'fault F_TRANSLATION' }], fields: [],
    }]);
    expect(f.reproduce).toBe('smmu-replay oracle qemu b.csv --qemu-version 7.2 --variant rfc-v3');
  });

  it('KTAP: a real TAP parser reads 4 top-level tests, 2 failing, with the mismatch as a diagnostic', () => {
    const ktap = formatResult(result, 'ktap');
    const top = parseTap(ktap);
    expect(top.asserts.map((a) => [a.name, a.ok])).toEqual([['a.csv', true], ['b.csv', false], ['c.csv', true], ['d.csv', false]]);
    expect(ktap).toMatch(/# line 21: outcome\n/);
    // deterministic: no timing in any machine format
    expect(formatResult(result, 'jsonl')).not.toMatch(/ms|per second/);
  });
});
