import { afterEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { DEVIATIONS, explainCheck, type Deviation } from '../../src/oracle/deviations.js';
import { Replay } from '../../src/replay/engine.js';
import type { FaultRow } from '../../src/replay/streams.js';
import { parseTraceText } from '../../src/trace/parse.js';

// With SMMUEN=0 and GBPA at reset (ABORT=0), a transaction bypasses (IHI 0070 §6.3.14):
// the DMA below gets PA 0x1000, so expect=pa:0x2000 fails.
const BODY = 'dma,0x1,0x1000,r,expect=pa:0x2000\n';

async function replay(text: string) {
  const faults: FaultRow[] = [];
  const r = new Replay({ file: 't.csv', variant: 'hw', profile: DEFAULT_PROFILE, caching: 'max', explain: explainCheck }, {
    ste() {}, fault: (f) => faults.push(f), dma() {},
  });
  for (const row of await parseTraceText(text, 't.csv')) r.apply(row);
  return { summary: r.finish(), faults };
}

const fake: Deviation = {
  id: 'qemu-7.2/test-only',
  oracles: ['qemu-7.2'],
  spec: 'IHI 0070 §6.3.14',
  summary: 'a test deviation: the reference translated where the model bypassed',
  matches: (c) => c.model.kind === 'bypass' && c.reference.kind === 'translated' && c.reference.pa === 0x2000n,
};

describe('explained checks', () => {
  afterEach(() => {
    const i = DEVIATIONS.indexOf(fake);
    if (i >= 0) DEVIATIONS.splice(i, 1);
  });

  it('a trace without meta,oracle: the failed check is a mismatch even when a deviation would match', async () => {
    DEVIATIONS.push(fake);
    const { summary, faults } = await replay(BODY);
    expect(summary.checks).toEqual({ matched: 0, explained: 0, mismatched: 1 });
    expect(faults.map((f) => f.type)).toEqual(['dma']);
  });

  it('with meta,oracle,qemu-7.2 a recognised difference is explained, counted apart and kept in the fault stream', async () => {
    DEVIATIONS.push(fake);
    const { summary, faults } = await replay(`meta,oracle,qemu-7.2\n${BODY}`);
    expect(summary.checks).toEqual({ matched: 0, explained: 1, mismatched: 0 });
    expect(faults).toEqual([{
      line: 2, source: 'check', type: 'explained', sid: 1, ssid: undefined, addr: 0x1000n,
      detail: 'expected pa:0x0000000000002000, got bypass: known deviation qemu-7.2/test-only (a test deviation: the reference translated where the model bypassed)',
    }]);
  });

  it('a deviation of another oracle, or one that does not recognise the case, explains nothing', async () => {
    DEVIATIONS.push(fake);
    expect((await replay(`meta,oracle,qemu-10.0\n${BODY}`)).summary.checks.mismatched).toBe(1);
    expect((await replay(`meta,oracle,qemu-7.2\ndma,0x1,0x1000,r,expect=pa:0x3000\n`)).summary.checks.mismatched).toBe(1);
    expect((await replay(`meta,oracle,not-an-oracle\n${BODY}`)).summary.checks.mismatched).toBe(1);
  });
});
