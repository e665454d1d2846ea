import { describe, expect, it } from '@jest/globals';
import { encodeEvent, type EventRecord } from '../../src/model/events.js';
import { compareDma, compareRegister, parseQemuOutcome, type DmaSide } from '../../src/oracle/compare.js';
import { planTopology, ramSizeFor } from '../../src/oracle/machine.js';
import { newQueueEntries } from '../../src/oracle/queues.js';

const rec = (e: EventRecord) => encodeEvent(e);
const fault = (fields: EventRecord['fields'], type: EventRecord['type'] = 'F_TRANSLATION'): EventRecord => ({ type, sid: 0x10, fields });
const side = (o: DmaSide['outcome'], records: EventRecord[] = [], gerror = 0, prod = records.length): DmaSide =>
  ({ outcome: o, detail: '', records: records.map(rec), gerror, eventqProd: prod });
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

  it('a different PA is a mismatch no deviation explains; the event queue full is a known deviation', () => {
    const row = compareDma({ ...base, oracle: 'qemu-7.2', model: side({ kind: 'translated', pa: 0x4200_0000n }), qemu: side({ kind: 'translated', pa: 0x4300_0000n }) });
    expect(row).toMatchObject({ verdict: 'mismatched', reason: 'outcome', model: 'translated pa=0x42000000', qemu: 'translated pa=0x43000000' });
    // Model: OVFLG toggled (bit 31 of EVENTQ_PROD); QEMU: GERROR.EVENTQ_ABT_ERR (bit 2).
    const full = compareDma({ ...base, oracle: 'qemu-7.2', model: side({ kind: 'fault', event: 'C_BAD_STE' }, [], 0, 0x8000_0000), qemu: side({ kind: 'fault', event: 'C_BAD_STE' }, [], 0x4, 0) });
    expect(full).toMatchObject({ verdict: 'known-deviation', deviations: ['qemu-7.2/eventq-full-abort-error'] });
  });
});

describe('comparing a register read', () => {
  it('equal values match; a difference nothing explains is a mismatch naming the register', () => {
    expect(compareRegister({ oracle: 'qemu-7.2', line: 3, register: 'IDR0', model: 0x0d40101an, qemu: 0x0d40101an, smmu: undefined, extraReferenceEvents: 0 }).verdict).toBe('matched');
    const r = compareRegister({ oracle: 'qemu-7.2', line: 3, register: 'IDR0', model: 0x0d40101an, qemu: 0x0d44101bn, smmu: undefined, extraReferenceEvents: 0 });
    expect(r).toMatchObject({ verdict: 'mismatched', reason: 'IDR0: model 0xd40101a, QEMU 0xd44101b' });
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
