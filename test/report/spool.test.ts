/**
 * Spooled streams: the DMA rows written as bytes are the canonical lines of
 * report/csv.ts, and variants sharing the first variant's DMA stream
 * (SharedDma) end with the files they would have written on their own, on
 * random rows (fast-check, fixed seeds).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DmaOutcome, DmaStreamRow } from '../../src/replay/streams.js';
import { dmaLine, HEADERS } from '../../src/report/csv.js';
import { LineFile, SharedDma, SpoolStreams } from '../../src/report/spool.js';
import { tempDirs } from '../helpers/tmp.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const rowArb = fc.record({
  line: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 2 ** 31 })),
  sid: fc.oneof(fc.constant(0x10), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  ssid: fc.option(fc.integer({ min: 0, max: 0xfffff }), { nil: undefined }),
  addr: fc.oneof(fc.bigInt({ min: 0n, max: 0xffff_ffffn }), u64, fc.constant((1n << 53n) - 1n), fc.constant(1n << 53n)),
  access: fc.constantFrom('r', 'w', 'x', '-'),
  outcome: fc.constantFrom<DmaOutcome>('translated', 'bypass', 'abort', 'fault', 'unsupported'),
  pa: fc.option(u64, { nil: undefined }),
  detail: fc.constantFrom('stage 1 (TLB hit)', '', 'C_BAD_STE: STE.V=0', 'with, a comma', 'a "quote"', '§5.2 non-ASCII'),
});

const dir = tempDirs('smmu-spool-')();
let n = 0;

describe('DMA rows as bytes', () => {
  it('are the canonical lines, byte for byte', () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 50 }), (rows) => {
      const path = join(dir, `lf${n++}.csv`);
      const f = new LineFile(path, HEADERS.dma);
      for (const r of rows) f.dma(r);
      f.close();
      expect(readFileSync(path, 'utf8')).toBe([HEADERS.dma, ...rows.map(dmaLine)].map((l) => `${l}\n`).join(''));
    }), { seed: 0xb17e, numRuns: 200 });
  });
  it('line numbers counted up digit by digit across 9 -> 10, 99 -> 100, 999999 -> 1000000', () => {
    const path = join(dir, `lf${n++}.csv`);
    const f = new LineFile(path, HEADERS.dma);
    const rows: DmaStreamRow[] = [8, 9, 10, 11, 99, 100, 101, 999_999, 1_000_000, 1_000_001, 7].map((line) => ({
      line, sid: 1, ssid: undefined, addr: 0n, access: 'r', outcome: 'bypass', pa: 0n, detail: '',
    }));
    for (const r of rows) f.dma(r);
    f.close();
    expect(readFileSync(path, 'utf8').split('\n').slice(1, -1).map((l) => l.split(',')[0])).toEqual(
      ['8', '9', '10', '11', '99', '100', '101', '999999', '1000000', '1000001', '7']);
  });
});

describe('variants sharing the first variant\'s DMA stream', () => {
  // Per trace row, each variant writes 0-3 DMA rows; a variant's rows follow the leader's until a
  // chosen point, then may differ (a changed outcome), or stop early, or go on longer.
  const scenario = fc.record({
    base: fc.array(fc.array(rowArb, { maxLength: 3 }), { minLength: 1, maxLength: 40 }),
    followers: fc.array(fc.record({
      divergeAt: fc.integer({ min: 0, max: 45 }),
      how: fc.constantFrom('differ', 'shift', 'stop', 'extra', 'same'),
    }), { minLength: 1, maxLength: 4 }),
    // Per variant, whether rows with an output address arrive as fields (dmaMemo, as a memoised DMA
    // does) or as row objects (dma): the files must not depend on it.
    viaMemo: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  });
  /** Give a sink a row the way the replay would: as fields when it has an output address and `memo`. */
  const deliver = (sink: SpoolStreams, r: DmaStreamRow, memo: boolean): void => {
    if (!memo || r.pa === undefined) return sink.dma(r);
    const delta = r.pa - r.addr;
    const deltaNum = delta < 2n ** 53n && delta > -(2n ** 53n) ? Number(delta) : NaN;
    sink.dmaMemo(r.line, r.sid, r.ssid, r.addr, r.access, r.outcome, delta, deltaNum, r.detail);
  };
  it('every variant ends with the DMA stream it would have written alone', () => {
    let shared = 0;
    fc.assert(fc.property(scenario, ({ base, followers, viaMemo }) => {
      const rowsOf = (v: number, t: number): DmaStreamRow[] => {
        if (v === 0) return base[t]!;
        const f = followers[v - 1]!;
        if (t < f.divergeAt || f.how === 'same') return base[t]!;
        if (f.how === 'stop') return [];
        // The same rows but for the output address (another offset: only delta tells them apart).
        if (f.how === 'shift') return base[t]!.map((r) => ({ ...r, pa: r.pa === undefined ? undefined : (r.pa + 0x1000n) & ((1n << 64n) - 1n) }));
        if (f.how === 'extra') return [...base[t]!, { ...base[t]![0] ?? base[0]![0] ?? { line: t + 1, sid: 1, ssid: undefined, addr: 0n, access: 'r', outcome: 'abort', pa: undefined, detail: 'x' }, detail: 'extra' }];
        return base[t]!.map((r) => ({ ...r, outcome: r.outcome === 'fault' ? 'abort' : 'fault', pa: undefined }));
      };
      const group = new SharedDma();
      const tag = `s${n++}`;
      const sinks = [0, ...followers.map((_f, i) => i + 1)].map((v) => new SpoolStreams(dir, `${tag}-${v}`, group));
      // Row-major: every variant takes trace row t before any takes row t + 1, as runTrace does.
      for (let t = 0; t < base.length; t++) for (let v = 0; v < sinks.length; v++) for (const r of rowsOf(v, t)) deliver(sinks[v]!, r, viaMemo[v]!);
      const files = sinks.map((s) => s.close());
      for (let v = 0; v < sinks.length; v++) {
        const alone = [HEADERS.dma];
        for (let t = 0; t < base.length; t++) alone.push(...rowsOf(v, t).map(dmaLine));
        expect(files[v]!.get('dma')).toBe(alone.map((l) => `${l}\n`).join(''));
        if (v > 0 && files[v]!.path('dma') === files[0]!.path('dma')) shared++;
      }
    }), { seed: 0x5a4ed, numRuns: 300 });
    // Some followers kept the leader's file to the end (the case that saves the work).
    expect(shared).toBeGreaterThan(50);
  });
  it('a follower that falls more than the kept rows behind copies the leader\'s rows from its file', () => {
    const group = new SharedDma();
    const a = new SpoolStreams(dir, `lag${n}-a`, group);
    const b = new SpoolStreams(dir, `lag${n++}-b`, group);
    const rows: DmaStreamRow[] = Array.from({ length: 3000 }, (_v, i) => ({
      line: i + 1, sid: 1, ssid: undefined, addr: BigInt(i) * 8n, access: 'r', outcome: 'bypass', pa: BigInt(i) * 8n, detail: 'bypass',
    }));
    for (const r of rows) a.dma(r); // the leader runs 3000 rows ahead (more than it keeps)
    for (const r of rows) b.dma(r);
    const fa = a.close();
    const fb = b.close();
    expect(fb.get('dma')).toBe(fa.get('dma'));
    expect(fb.path('dma')).not.toBe(fa.path('dma'));
  });
});
