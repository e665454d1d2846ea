/**
 * The QEMU 7.2 deviations the imported capture traces/linux-6.1-qemu-7.2
 * shows (docs/qemu-deviations.md), one test per deviation: the recogniser
 * explains the difference QEMU makes and nothing else.
 */
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { encodeEvent } from '../../src/model/events.js';
import { DEVIATIONS, explainCheck, type ReadDeviationCase } from '../../src/oracle/deviations.js';
import { Replay } from '../../src/replay/engine.js';
import type { FaultRow } from '../../src/replay/streams.js';
import { parseTraceText } from '../../src/trace/parse.js';

async function replay(text: string) {
  const faults: FaultRow[] = [];
  const r = new Replay({ file: 't.csv', variant: 'hw', profile: DEFAULT_PROFILE, caching: 'max', explain: explainCheck }, {
    ste() {}, fault: (f) => faults.push(f), dma() {},
  });
  for (const row of await parseTraceText(text, 't.csv')) r.apply(row);
  return { summary: r.finish(), checks: faults.filter((f) => f.source === 'check') };
}

describe('qemu-7.2/event-class-cd (IHI 0070 §7.3.13: a stage-1 fault has CLASS=IN)', () => {
  // StreamID 0x20: stage 1 through the CD at 0x9000_0000 (R=1), TTB0 0xa000_0000, 4K, 48-bit VA;
  // VA 0x1000_1000 reaches L3 table 0xa000_3000 whose entry 1 is zero: a stage-1 F_TRANSLATION.
  // The event queue is at 0x8200_0000: the record is in slot 0, its doubleword 1 at 0x8200_0008.
  const SETUP = `mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,8
mmio_write,CMDQ_BASE,0x8100_0008
mmio_write,EVENTQ_BASE,0x8200_0004
mmio_write,CR0,0xd
mem_write,0x9000_0000,0x0001e205c0000010
mem_write,0x9000_0008,0x00000000a0000000
mem_write,0xa000_0000,0x00000000a0001003
mem_write,0xa000_1000,0x00000000a0002003
mem_write,0xa000_2400,0x00000000a0003003
mem_write,0x8000_0800,0x000000009000000b
cmd,CFGI_ALL
dma,0x20,0x1000_1000,r,priv=0,expect=fault:F_TRANSLATION
`;
  // The model's DW1: RnW=1 (bit 35) | CLASS=IN (0b10 at bits [41:40]) = 0x0000_0208_0000_0000.
  // QEMU 7.2 writes the same record with CLASS=0b00: 0x0000_0008_0000_0000.
  const ORACLE = 'meta,oracle,qemu-7.2\n';

  it('explains a record whose doubleword 1 differs from the model\'s only in CLASS=0b00', async () => {
    const { summary, checks } = await replay(`${ORACLE}${SETUP}mem_read,0x8200_0008,expect=0x0000000800000000\n`);
    expect(summary.checks).toEqual({ matched: 1, explained: 1, mismatched: 0 });
    expect(checks.map((c) => c.detail.replace(/ \(QEMU.*$/, ''))).toEqual([
      'mem_read expected 0x0000000800000000, read 0x0000020800000000: known deviation qemu-7.2/event-class-cd',
    ]);
  });

  it('explains nothing else: another bit too, another doubleword, a trace without the oracle', async () => {
    // RnW also differs (0 instead of 1).
    expect((await replay(`${ORACLE}${SETUP}mem_read,0x8200_0008,expect=0x0000000000000000\n`)).summary.checks.mismatched).toBe(1);
    // Doubleword 2 (InputAddr) differs: not a CLASS difference.
    expect((await replay(`${ORACLE}${SETUP}mem_read,0x8200_0010,expect=0x0000000010001001\n`)).summary.checks.mismatched).toBe(1);
    // A 4-byte read of the upper half of doubleword 1.
    expect((await replay(`${ORACLE}${SETUP}mem_read,0x8200_000c,size=4,expect=0x00000008\n`)).summary.checks.mismatched).toBe(1);
    // Outside the event queue.
    expect((await replay(`${ORACLE}${SETUP}mem_read,0x9000_0000,expect=0x0\n`)).summary.checks.mismatched).toBe(1);
    // The same difference in a trace whose expectations are not QEMU's.
    expect((await replay(`${SETUP}mem_read,0x8200_0008,expect=0x0000000800000000\n`)).summary.checks.mismatched).toBe(1);
    // The matching value is simply matched.
    expect((await replay(`${ORACLE}${SETUP}mem_read,0x8200_0008,expect=0x0000020800000000\n`)).summary.checks).toEqual({ matched: 2, explained: 0, mismatched: 0 });
  });

  it('only stage-1 faults with CLASS=IN: not stage-2 records, not records that carry no CLASS', () => {
    const d = DEVIATIONS.find((x) => x.id === 'qemu-7.2/event-class-cd')!;
    expect(d.oracles).toEqual(['qemu-7.2']);
    const at = (type: 'F_TRANSLATION' | 'F_PERMISSION' | 'C_BAD_STE', fields: Record<string, bigint>): ReadDeviationCase => {
      const event = { type, sid: 0x20, fields };
      const q = encodeEvent(event);
      return { addr: 0x8200_0008n, size: 8, model: q[1]!, reference: q[1]! & ~(3n << 40n), record: { slot: 0, qword: 1, qwords: q, event } };
    };
    expect(d.matchesRead!(at('F_PERMISSION', { RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: 0x1000n }))).toBe(true);
    // A stage-2 fault on the input (S2=1, CLASS=IN) is another rule (§7.3.13): not this deviation.
    expect(d.matchesRead!(at('F_TRANSLATION', { RnW: 1n, S2: 1n, CLASS: 2n, InputAddr: 0x1000n, IPA: 0x5000n }))).toBe(false);
    // CLASS=TT: QEMU 7.2 has no stage 2, so it cannot produce it; not recognised.
    expect(d.matchesRead!(at('F_TRANSLATION', { RnW: 1n, S2: 1n, CLASS: 1n, InputAddr: 0x1000n }))).toBe(false);
    expect(d.matchesRead!(at('C_BAD_STE', {}))).toBe(false);
    // Transaction outcomes are never this deviation.
    expect(d.matches({ sid: 0x20, ssid: undefined, addr: 0n, access: 'r', model: { kind: 'abort' }, reference: { kind: 'abort' }, modelDetail: '', smmu: undefined })).toBe(false);
  });
});
