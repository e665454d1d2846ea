import { describe, expect, it } from '@jest/globals';
import { encodeEvent, type EventRecord } from '../../src/model/events.js';
import { QEMU_100_PROFILE } from '../../src/model/profiles.js';
import {
  compareDma, compareRegister, countRows, countsText, parseQemuOutcome, registerParts, withUncached, type ComparedRow, type DmaSide,
} from '../../src/oracle/compare.js';
import { DEVIATIONS, occupancy, type Deviation } from '../../src/oracle/deviations.js';
import { Replay } from '../../src/replay/engine.js';
import { parseTraceText } from '../../src/trace/parse.js';
import { planTopology, ramSizeFor } from '../../src/oracle/machine.js';
import { newQueueEntries } from '../../src/oracle/queues.js';

const rec = (e: EventRecord) => encodeEvent(e);
const fault = (fields: EventRecord['fields'], type: EventRecord['type'] = 'F_TRANSLATION'): EventRecord => ({ type, sid: 0x10, fields });
const side = (o: DmaSide['outcome'], records: EventRecord[] = [], gerror = 0, prod = records.length): DmaSide =>
  ({ outcome: o, detail: '', records: records.map(rec), gerror, eventqProd: prod });
const OVFLG_ = 0x8000_0000;
const base = { line: 7, sid: 0x10, ssid: undefined, addr: 0x1000_1000n, size: 4, access: 'r', smmu: undefined } as const;

describe('parsing QEMU trace lines', () => {
  it('a success line gives the PA at the piece offset; bypass, disable, abort and failures map to outcomes', () => {
    // iova 0x1000_0ff0 -> 0x4200_0ff0, so 0x1000_0ff8 -> 0x4200_0ff8.
    expect(parseQemuOutcome(['smmuv3_translate_success smmuv3-iommu-memory-region-16-4 sid=0x10 iova=0x10000ff0 translated=0x42000ff0 perm=0x3 stage=1'], 0x1000_0ff8n).outcome)
      .toEqual({ kind: 'translated', pa: 0x4200_0ff8n });
    expect(parseQemuOutcome(['smmuv3_translate_bypass mr sid=0x18 STE bypass iova:0x42000040 is_write=0'], 0n).outcome).toEqual({ kind: 'bypass' });
    expect(parseQemuOutcome(['smmuv3_translate_disable mr sid=0x10 bypass (smmu disabled) iova:0x1 is_write=1'], 0n).outcome).toEqual({ kind: 'bypass' });
    expect(parseQemuOutcome(['smmuv3_translate_abort mr sid=0x20 abort on iova:0x1 is_write=0'], 0n).outcome).toEqual({ kind: 'abort' });
    expect(parseQemuOutcome(['invalid STE', 'mr translation failed for iova=0x10000010 (SMMU_EVT_C_BAD_STE)'], 0n).outcome).toEqual({ kind: 'fault', event: 'C_BAD_STE' });
    expect(parseQemuOutcome(["Invalid read at addr 0x1000000000000, size 4, region '(null)', reason: rejected"], 0n))
      .toEqual({ outcome: { kind: 'abort' }, detail: 'no translation: the access never reached the SMMU' });
  });
});

describe('comparing a DMA piece', () => {
  it('equal outcomes and records match', () => {
    const r = fault({ RnW: 1n, CLASS: 2n, InputAddr: 0x1000_1000n });
    const row = compareDma({ ...base, oracle: 'qemu-7.2', model: side({ kind: 'fault', event: 'F_TRANSLATION' }, [r]), qemu: side({ kind: 'fault', event: 'F_TRANSLATION' }, [r]) });
    expect(row.verdict).toBe('matched');
  });

  it('PnU=0 and CLASS=CD are QEMU 7.2 deviations; on 10.0 only PnU is, so CLASS stays a mismatch', () => {
    const m = fault({ PnU: 1n, RnW: 1n, CLASS: 2n, InputAddr: 0x1000_1000n });
    const q = fault({ PnU: 0n, RnW: 1n, CLASS: 0n, InputAddr: 0x1000_1000n });
    const input = { ...base, model: side({ kind: 'fault', event: 'F_TRANSLATION' }, [m]), qemu: side({ kind: 'fault', event: 'F_TRANSLATION' }, [q]) };
    const a = compareDma({ ...input, oracle: 'qemu-7.2' });
    expect(a.verdict).toBe('known-deviation');
    expect(a.deviations).toEqual(['qemu-7.2/event-pnu-zero', 'qemu-7.2/event-class-cd']);
    const b = compareDma({ ...input, oracle: 'qemu-10.0' });
    expect(b.verdict).toBe('mismatched');
    expect(b.reason).toBe('record 0 (F_TRANSLATION) CLASS: model 0x2, QEMU 0x0');
  });

  it('a 64-byte faulting DMA: 16 records stepping by 4 are the 4-byte split; 15 are not', () => {
    const m = fault({ RnW: 0n, CLASS: 2n, InputAddr: 0x1000_1000n }, 'F_PERMISSION');
    const split = (n: number) => Array.from({ length: n }, (_, i) => fault({ RnW: 0n, CLASS: 2n, InputAddr: 0x1000_1000n + BigInt(4 * i) }, 'F_PERMISSION'));
    const input = (n: number) => ({ ...base, size: 64, oracle: 'qemu-10.0' as const, model: side({ kind: 'fault', event: 'F_PERMISSION' }, [m]), qemu: side({ kind: 'fault', event: 'F_PERMISSION' }, split(n)) });
    expect(compareDma(input(16)).deviations).toEqual(['qemu-10.0/event-per-4-bytes']);
    expect(compareDma(input(16)).verdict).toBe('known-deviation');
    expect(compareDma(input(15)).verdict).toBe('mismatched');
  });

  it('a different PA is a mismatch no deviation explains', () => {
    const row = compareDma({ ...base, oracle: 'qemu-7.2', model: side({ kind: 'translated', pa: 0x4200_0000n }), qemu: side({ kind: 'translated', pa: 0x4300_0000n }) });
    expect(row).toMatchObject({ verdict: 'mismatched', reason: 'outcome', model: 'translated pa=0x42000000', qemu: 'translated pa=0x43000000' });
  });

  // A 4-entry event queue (index bits [1:0], wrap bit 2) with CONS 0.  Producer 4 = wrap 1, index 0:
  // occupancy (4 - 0) & 7 = 4, full.  Producer 3: occupancy 3, one free slot.
  const OVFLG = 0x8000_0000;
  const badSte = { kind: 'fault', event: 'C_BAD_STE' } as const;
  it('queue occupancy from producer and consumer values, across the wrap', () => {
    expect(occupancy(4, 0, 4)).toBe(4);
    expect(occupancy(3, 0, 4)).toBe(3);
    expect(occupancy(1, 5, 4)).toBe(4); // prod wrap 0 index 1, cons wrap 1 index 1: (1 - 5 + 8) & 7 = 4
    expect(occupancy(OVFLG | 6, 6, 4)).toBe(0);
  });

  it('the event queue full: OVFLG in the model alone and EVENTQ_ABT_ERR in QEMU alone are the deviation only where QEMU\'s queue is full', () => {
    const full = (qemuProd: number, qemuRecords: EventRecord[] = []) => compareDma({
      ...base, oracle: 'qemu-10.0',
      model: side(badSte, [], 0, OVFLG | 4), qemu: side(badSte, qemuRecords, 0x4, qemuProd), eventq: { entries: 4, cons: 0, drift: 0 },
    });
    // Both queues full before the DMA (model: 4 after, wrote 0; QEMU: 4 after, wrote 0): the model lost the record and
    // toggled OVFLG, QEMU lost it and set GERROR.EVENTQ_ABT_ERR.
    expect(full(4)).toMatchObject({ verdict: 'known-deviation', deviations: ['qemu-10.0/eventq-full-abort-error'] });
    // QEMU's queue had room (3 in use): neither flag difference is QEMU's queue-full behaviour.
    expect(full(3)).toMatchObject({ verdict: 'mismatched', reason: 'GERROR.EVENTQ_ABT_ERR: model 0, QEMU 1; EVENTQ_PROD.OVFLG: model 1, QEMU 0' });
    // Without the queues' state the recogniser has nothing to go on.
    expect(compareDma({ ...base, oracle: 'qemu-10.0', model: side(badSte, [], 0, OVFLG | 4), qemu: side(badSte, [], 0x4, 4) }).verdict).toBe('mismatched');
  });

  it('one queue full and the other not, by exactly the drift of earlier rows, is carried; with no drift it is a mismatch', () => {
    const r = fault({ InputAddr: 0x1000_1000n }, 'C_BAD_STE');
    // Model: 4 in use before (full), wrote 0, toggled OVFLG.  QEMU: 3 before (an earlier row's record never reached it:
    // drift -1), wrote 1, now 4.  referenceBefore - modelBefore = 3 - 4 = -1 = drift.
    const row = (drift: number) => compareDma({
      ...base, oracle: 'qemu-7.2', model: side(badSte, [], 0, OVFLG | 4), qemu: side(badSte, [r], 0, 4), eventq: { entries: 4, cons: 0, drift },
    });
    expect(row(-1)).toMatchObject({ verdict: 'known-deviation', deviations: ['qemu-7.2/carried-event-count'] });
    expect(row(0)).toMatchObject({ verdict: 'mismatched', reason: 'event records: model 0, QEMU 1; EVENTQ_PROD.OVFLG: model 1, QEMU 0' });
  });

  it('RnW=1 on a CD-class fault of a write is the 10.0 configuration-read deviation; on a read, on CLASS=IN or on 7.2 it is not', () => {
    const m = (cls: bigint) => fault({ RnW: 0n, S2: 1n, CLASS: cls, InputAddr: 0x1000_0000n, IPA: 0xc000_6000n });
    const q = (cls: bigint) => fault({ RnW: 1n, S2: 1n, CLASS: cls, InputAddr: 0x1000_0000n, IPA: 0xc000_6000n });
    const cmp = (oracle: 'qemu-7.2' | 'qemu-10.0', access: string, cls: bigint) => compareDma({
      ...base, access, oracle, model: side({ kind: 'fault', event: 'F_TRANSLATION' }, [m(cls)]), qemu: side({ kind: 'fault', event: 'F_TRANSLATION' }, [q(cls)]),
    });
    expect(cmp('qemu-10.0', 'w', 0n)).toMatchObject({ verdict: 'known-deviation', deviations: ['qemu-10.0/config-fault-rnw-read'] });
    expect(cmp('qemu-10.0', 'r', 0n).verdict).toBe('mismatched');
    expect(cmp('qemu-10.0', 'w', 2n).verdict).toBe('mismatched');
    expect(cmp('qemu-7.2', 'w', 0n).verdict).toBe('mismatched');
  });
});

const byId = (id: string): Deviation => DEVIATIONS.find((d) => d.id === id)!;

describe('consequences of an earlier deviation', () => {
  const ill = byId('qemu-10.0/commands-accepted-without-feature');
  const translated = { kind: 'translated', pa: 0x4200_0000n } as const;

  it('after the accepted command, a CMDQ_ERR difference follows from it; any other difference in the same row does not', () => {
    const row = (modelSide: DmaSide, qemuSide: DmaSide, after: Deviation[]) => compareDma({ ...base, oracle: 'qemu-10.0', model: modelSide, qemu: qemuSide, after });
    // Only GERROR.CMDQ_ERR differs (model 1, QEMU 0).
    expect(row(side(translated, [], 0x1), side(translated, [], 0), [ill])).toMatchObject({ verdict: 'known-deviation', deviations: [ill.id] });
    // The same difference with no such deviation earlier in the run: a mismatch.
    expect(row(side(translated, [], 0x1), side(translated, [], 0), []).verdict).toBe('mismatched');
    // An unrelated outcome after it stays a mismatch.
    expect(row(side(translated, [], 0x1), side({ kind: 'translated', pa: 0x4300_0000n }, [], 0), [ill]))
      .toMatchObject({ verdict: 'mismatched', reason: 'outcome', deviations: [ill.id] });
    // So do an event-record count, OVFLG, and another GERROR bit.
    const r = fault({ InputAddr: 0x1000_1000n });
    expect(row(side({ kind: 'fault', event: 'F_TRANSLATION' }, [r], 0x1), side({ kind: 'fault', event: 'F_TRANSLATION' }, [r, r], 0), [ill]))
      .toMatchObject({ verdict: 'mismatched', reason: 'event records: model 1, QEMU 2' });
    expect(row(side(translated, [], 0x1, OVFLG_), side(translated, [], 0), [ill])).toMatchObject({ verdict: 'mismatched', reason: 'EVENTQ_PROD.OVFLG: model 1, QEMU 0' });
    expect(row(side(translated, [], 0x1), side(translated, [], 0x4), [ill])).toMatchObject({ verdict: 'mismatched', reason: 'GERROR.EVENTQ_ABT_ERR: model 0, QEMU 1' });
  });

  it('register reads after it: GERROR is judged bit by bit, CMDQ_CONS only in its ERR field once the queue runs again', () => {
    const reg = (register: string, model: bigint, qemu: bigint, after: Deviation[]) =>
      compareRegister({ oracle: 'qemu-10.0', line: 9, register, model, qemu, smmu: undefined, extraReferenceEvents: 0, after });
    expect(reg('GERROR', 0x1n, 0x0n, [ill]).verdict).toBe('known-deviation');
    expect(reg('GERROR', 0x1n, 0x4n, [ill])).toMatchObject({ verdict: 'mismatched', reason: 'GERROR.EVENTQ_ABT_ERR: model 0, QEMU 1' });
    // CMDQ_CONS: model ERR=1 (CERROR_ILL) at [30:24], index 8 on both sides: only ERR differs.
    expect(reg('CMDQ_CONS', 0x0100_0008n, 0x8n, [ill]).verdict).toBe('known-deviation');
    // The index differs too while the model's queue runs (no model stopped at the command here): not a consequence.
    expect(reg('CMDQ_CONS', 0x0100_0008n, 0x9n, [ill]).verdict).toBe('mismatched');
    expect(reg('EVENTQ_PROD', 0x3n, 0x4n, [ill]).verdict).toBe('mismatched');
    expect(reg('CMDQ_CONS', 0x0100_0008n, 0x8n, []).verdict).toBe('mismatched');
  });

  it('after a full event queue, later OVFLG and EVENTQ_ABT_ERR differences follow from it, nothing else', () => {
    const full = byId('qemu-10.0/eventq-full-abort-error');
    const reg = (register: string, model: bigint, qemu: bigint) =>
      compareRegister({ oracle: 'qemu-10.0', line: 9, register, model, qemu, smmu: undefined, extraReferenceEvents: 0, after: [full] });
    expect(reg('EVENTQ_PROD', 0x8000_0009n, 0x9n).verdict).toBe('known-deviation');
    expect(reg('GERROR', 0x0n, 0x4n).verdict).toBe('known-deviation');
    // OVFLG and the index both differ: the index part is not the queue-full behaviour.
    expect(reg('EVENTQ_PROD', 0x8000_0009n, 0xan)).toMatchObject({ verdict: 'mismatched', reason: 'EVENTQ_PROD index: model 0x9, QEMU 0xa' });
    expect(reg('GERROR', 0x1n, 0x0n).verdict).toBe('mismatched');
  });

  it('the model stopped at a command QEMU accepts: GERROR.CMDQ_ERR and CMDQ_CONS are recognised directly', async () => {
    // CMDQ at 0x4102_0000 with 2^8 entries; PRI_RESP is ILLEGAL with IDR0.PRI=0 (IHI 0070 §4.1.3): CERROR_ILL (1) at
    // index 0, CMDQ_CONS = ERR 1 << 24 | 0 = 0x0100_0000; GERROR.CMDQ_ERR = 1.
    const r = new Replay({ file: 't.csv', variant: 'hw', profile: QEMU_100_PROFILE, caching: 'max' }, { ste() {}, fault() {}, dma() {} });
    for (const row of await parseTraceText('mmio_write,CMDQ_BASE,0x4102_0008\nmmio_write,CR0,0x8\ncmd,PRI_RESP,sid=0x10\n', 't.csv')) r.apply(row);
    expect(r.smmu.reg('CMDQ_CONS')).toBe(0x0100_0000n);
    const reg = (register: string, model: bigint, qemu: bigint) =>
      compareRegister({ oracle: 'qemu-10.0', line: 3, register, model, qemu, smmu: r.smmu, extraReferenceEvents: 0 });
    expect(reg('GERROR', 0x1n, 0x0n)).toMatchObject({ verdict: 'known-deviation', deviations: [ill.id] });
    expect(reg('CMDQ_CONS', 0x0100_0000n, 0x1n)).toMatchObject({ verdict: 'known-deviation', deviations: [ill.id] });
    // Not a stopped queue's difference: SFM_ERR.
    expect(reg('GERROR', 0x101n, 0x1n).verdict).toBe('mismatched');
  });
});

describe('the uncached model run', () => {
  const row = (verdict: ComparedRow['verdict']): ComparedRow => ({ line: 5, kind: 'dma', what: 'dma', verdict, model: 'm', qemu: 'q', deviations: [] });

  it('is consulted only where the cached run does not match, and a match there is counted apart', () => {
    expect(withUncached(row('matched'), row('matched'))).toEqual({ row: row('matched'), usedUncached: false });
    const u = withUncached(row('mismatched'), row('matched'));
    expect(u.usedUncached).toBe(true);
    expect(u.row.verdict).toBe('matched-uncached');
    expect(u.row.note).toMatch(/nothing cached/);
    // A known deviation against the uncached run is still a known deviation (better than a mismatch), marked.
    expect(withUncached(row('mismatched'), row('known-deviation')).row).toMatchObject({ verdict: 'known-deviation', note: expect.stringMatching(/nothing cached/) });
    // No better there: the cached run's verdict stands.
    expect(withUncached(row('known-deviation'), row('mismatched'))).toEqual({ row: row('known-deviation'), usedUncached: false });
    expect(withUncached(row('mismatched'), undefined).row.verdict).toBe('mismatched');
  });

  it('the counts line shows uncached matches apart from plain ones', () => {
    const c = countRows([row('matched'), row('matched'), row('matched-uncached'), row('known-deviation'), row('not-comparable'), row('mismatched')]);
    expect(countsText(c)).toBe('2 matched, 1 matched (uncached), 1 known-deviation, 1 not-comparable, 1 mismatched');
  });
});

describe('comparing a register read', () => {
  it('equal values match; a difference nothing explains is a mismatch naming the register', () => {
    expect(compareRegister({ oracle: 'qemu-7.2', line: 3, register: 'IDR0', model: 0x0d40101an, qemu: 0x0d40101an, smmu: undefined, extraReferenceEvents: 0 }).verdict).toBe('matched');
    const r = compareRegister({ oracle: 'qemu-7.2', line: 3, register: 'IDR0', model: 0x0d40101an, qemu: 0x0d44101bn, smmu: undefined, extraReferenceEvents: 0 });
    expect(r).toMatchObject({ verdict: 'mismatched', reason: 'IDR0: model 0xd40101a, QEMU 0xd44101b' });
  });

  it('GERROR splits into its bits, EVENTQ_PROD into OVFLG and the rest', () => {
    // 0x5 ^ 0x0 = bits 0 (CMDQ_ERR) and 2 (EVENTQ_ABT_ERR).
    expect(registerParts('GERROR', 0x5n, 0x0n).map((p) => [p.bits, p.text])).toEqual([[0x1n, 'GERROR.CMDQ_ERR: model 1, QEMU 0'], [0x4n, 'GERROR.EVENTQ_ABT_ERR: model 1, QEMU 0']]);
    // 0x8000_0010 ^ 0x11 = OVFLG | 0x1.
    expect(registerParts('EVENTQ_PROD', 0x8000_0010n, 0x11n).map((p) => p.bits)).toEqual([0x8000_0000n, 0x1n]);
    expect(registerParts('EVENTQ_PROD', 0x8000_0010n, 0x10n).map((p) => p.bits)).toEqual([0x8000_0000n]);
    expect(registerParts('CMDQ_CONS', 0x0100_0003n, 0x7n).map((p) => p.bits)).toEqual([0x0100_0004n]);
  });
});

describe('placing DMA engines and sizing RAM', () => {
  it('bus-0 StreamIDs sit on the root bus, others behind one root port per bus with a filler at devfn 0; 0..7 and >16 bits cannot be had', () => {
    const t = planTopology([0x10, 0x1234, 0x1200, 0x3, 0x10000]);
    expect(t.edus.map((e) => [e.sid, e.bus, e.devfn, e.bar])).toEqual([
      [0x10, 0, 0x10, 0x1000_0000n],
      // bus 0x12: devfn 0x00 and 0x34, BARs 1 MiB apart after the root bus's.
      [0x1200, 0x12, 0x00, 0x1010_0000n],
      [0x1234, 0x12, 0x34, 0x1020_0000n],
    ]);
    expect(t.ports).toEqual([{ id: 'rp12', devfn: 31 << 3, secondary: 0x12, memBase: 0x1010_0000n, memLimit: 0x102f_ffffn, filler: false }]);
    expect([...t.unplaceable.keys()]).toEqual([0x3, 0x10000]);
  });

  it('RAM is rounded up to 256 MiB steps from 0x4000_0000', () => {
    expect(ramSizeFor(0x4000_0000n)).toBe(256n << 20n);
    expect(ramSizeFor(0x5000_0001n)).toBe(512n << 20n); // 0x1000_0001 bytes -> 2 x 256 MiB
  });

  it('new event-queue entries between two producer values, across the wrap', () => {
    // log2 2 (4 entries): index bits [1:0], wrap bit 2.  From 3 (wrap 0, index 3) to 0b101 (wrap 1, index 1):
    // written were index 3 (value 3) and index 0 of the next lap (0b100); index 1 is the next free slot.
    expect(newQueueEntries(3, 0b101, 2)).toEqual([3, 0b100]);
    expect(newQueueEntries(5, 5, 2)).toEqual([]);
    expect(newQueueEntries(0x8000_0001, 2, 2)).toEqual([1]); // OVFLG ignored
  });
});
