/**
 * The event queue (IHI0070 §7.2, §7.4, §6.3.29, §6.3.95/§6.3.96, §3.18.2):
 * records at EVENTQ_BASE + 32 * index, PROD advancing and wrapping, overflow
 * (EVENTQ_PROD.OVFLG / EVENTQ_CONS.OVACKFLG), EVENTQEN=0, external aborts on
 * the queue (GERROR.EVENTQ_ABT_ERR) and the empty -> non-empty interrupt.
 */
import { describe, expect, it } from '@jest/globals';
import { QEMU_72_PROFILE } from '../../src/model/profiles.js';
import { basicCd, EVTQ, makeEnv, TableBuilder, writeQwords, writeSte, type Env } from '../helpers/env.js';

/**
 * A transaction on a StreamID beyond the 2^8-entry stream table: aborted with
 * C_BAD_STREAMID (recorded because makeEnv sets CR2.RECINVSID).  Record DW0 =
 * type 0x02 | StreamID << 32 (§7.3.3).
 */
function badSid(env: Env, sid: number): void {
  expect(env.dma({ sid, addr: 0x1000n }).outcome).toBe('fault');
}
const badSidDw0 = (sid: number): bigint => 0x02n | (BigInt(sid) << 32n);
const slot = (env: Env, i: number, base = EVTQ): bigint[] => [0, 1, 2, 3].map((q) => env.mem.read(base + BigInt(32 * i + 8 * q), 8) as bigint);
const OVFLG = 0x8000_0000n;
const EVENTQ_ABT_ERR = 0x4n; // GERROR bit 2
const MSI_EVENTQ_ABT_ERR = 0x20n; // GERROR bit 5

describe('records in memory', () => {
  it('are written at EVENTQ_BASE + 32 * index, PROD advancing by one per record', () => {
    const env = makeEnv(); // EVENTQ LOG2SIZE = 4: 16 records of 32 bytes
    badSid(env, 0x100);
    badSid(env, 0x101);
    badSid(env, 0x102);
    expect(env.read('EVENTQ_PROD')).toBe(3n);
    expect(slot(env, 0)).toEqual([badSidDw0(0x100), 0n, 0n, 0n]);
    expect(slot(env, 1)).toEqual([badSidDw0(0x101), 0n, 0n, 0n]);
    expect(slot(env, 2)).toEqual([badSidDw0(0x102), 0n, 0n, 0n]);
    expect(env.rec.events.map((e) => e.sid)).toEqual([0x100, 0x101, 0x102]);
  });

  it('a translation fault record carries its fields at their §7.3.13 positions', () => {
    const env = makeEnv();
    writeSte(env, 3, { V: 1, Config: 5, S1ContextPtr: 0x9000_0000n });
    const tb = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
    writeQwords(env.mem, 0x9000_0000n, basicCd(tb.root));
    env.dma({ sid: 3, addr: 0x55_0000_0040n, write: true, priv: true });
    // DW0 = F_TRANSLATION 0x10 | StreamID 3 << 32; DW1 = PnU (bit 33) | RnW=0 (write) | CLASS=IN (2 << 40)
    //     = 0x2_0000_0000 | 0x200_0000_0000 = 0x0000_0202_0000_0000; DW2 = InputAddr; DW3 = 0 (IPA only for stage 2).
    expect(slot(env, 0)).toEqual([0x0000_0003_0000_0010n, 0x0000_0202_0000_0000n, 0x55_0000_0040n, 0n]);
  });

  it('PROD wraps: with LOG2SIZE = 1 the third record goes to slot 0 once the consumer has moved on', () => {
    const env = makeEnv({ evtqLog2: 1 });
    badSid(env, 0x100);
    badSid(env, 0x101);
    // 2-bit pointers (index bit 0, wrap bit 1): PROD = 0b10 = 2 (index 0, wrap 1).
    expect(env.read('EVENTQ_PROD')).toBe(2n);
    env.write('EVENTQ_CONS', 1); // one record consumed
    badSid(env, 0x102);
    expect(slot(env, 0)[0]).toBe(badSidDw0(0x102));
    expect(env.read('EVENTQ_PROD')).toBe(3n); // 0b11: index 1, wrap 1
  });
});

describe('overflow (§7.4)', () => {
  it('a full queue drops the record, toggles OVFLG once, and again only after OVACKFLG acknowledges it', () => {
    const env = makeEnv({ evtqLog2: 1 }); // 2 entries
    badSid(env, 0x100);
    badSid(env, 0x101);
    // PROD = 0b10, CONS = 0: same index, different wrap -> full.
    badSid(env, 0x102);
    // Dropped, OVFLG toggled 0 -> 1: PROD = 0x8000_0002.
    expect(env.read('EVENTQ_PROD')).toBe(OVFLG | 2n);
    badSid(env, 0x103);
    // Overflow condition already present (OVFLG 1 != OVACKFLG 0): not toggled again.
    expect(env.read('EVENTQ_PROD')).toBe(OVFLG | 2n);
    expect(env.rec.lost.map((l) => [l.e.sid, l.why])).toEqual([[0x102, 'queue-full'], [0x103, 'queue-full']]);
    // Queue memory is untouched by the dropped records.
    expect(slot(env, 0)[0]).toBe(badSidDw0(0x100));
    expect(slot(env, 1)[0]).toBe(badSidDw0(0x101));

    // The driver consumes both and acknowledges: CONS = OVACKFLG 1 | RD 0b10.
    env.write('EVENTQ_CONS', OVFLG | 2n);
    badSid(env, 0x104); // slot 0, PROD 0b10 -> 0b11
    badSid(env, 0x105); // slot 1, PROD 0b11 -> 0b00 (wrap 0); CONS 0b10 -> full again
    expect(env.read('EVENTQ_PROD')).toBe(OVFLG | 0n);
    expect(slot(env, 0)[0]).toBe(badSidDw0(0x104));
    expect(slot(env, 1)[0]).toBe(badSidDw0(0x105));
    badSid(env, 0x106);
    // New overflow: OVFLG (1) == OVACKFLG (1) -> toggled to 0: PROD = 0x0000_0000.
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    badSid(env, 0x107);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.lost.map((l) => l.e.sid)).toEqual([0x102, 0x103, 0x106, 0x107]);
    expect(env.rec.events.map((e) => e.sid)).toEqual([0x100, 0x101, 0x104, 0x105]);
  });

  it('delivery goes on while an overflow is unacknowledged', () => {
    const env = makeEnv({ evtqLog2: 1 });
    badSid(env, 0x100);
    badSid(env, 0x101);
    badSid(env, 0x102); // overflow: OVFLG = 1
    env.write('EVENTQ_CONS', 2); // consume both, OVACKFLG left at 0 (not acknowledged)
    badSid(env, 0x103);
    expect(env.read('EVENTQ_PROD')).toBe(OVFLG | 3n);
    expect(slot(env, 0)[0]).toBe(badSidDw0(0x103));
  });
});

describe('EVENTQEN = 0 (§7.2.1)', () => {
  it('drops records without writing memory or flagging an overflow', () => {
    const env = makeEnv();
    env.write('CR0', 0x1 | 0x8); // SMMUEN | CMDQEN
    badSid(env, 0x100);
    expect(env.rec.lost.map((l) => l.why)).toEqual(['queue-disabled']);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(slot(env, 0)[0]).toBe(0n);
  });

  it('a full but disabled queue is not an overflow', () => {
    const env = makeEnv({ evtqLog2: 1 });
    badSid(env, 0x100);
    badSid(env, 0x101);
    env.write('CR0', 0x1 | 0x8);
    badSid(env, 0x102);
    expect(env.rec.lost.map((l) => l.why)).toEqual(['queue-disabled']);
    expect(env.read('EVENTQ_PROD')).toBe(2n); // no OVFLG
  });

  it('EVENTQ_PROD is writable by software only while EVENTQEN = 0 (§6.3.95)', () => {
    const env = makeEnv();
    env.write('EVENTQ_PROD', 5);
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    env.write('CR0', 0x1 | 0x8);
    env.write('EVENTQ_PROD', 5);
    expect(env.read('EVENTQ_PROD')).toBe(5n);
  });
});

describe('external abort on the event queue (§7.2.2)', () => {
  it('sets GERROR.EVENTQ_ABT_ERR, does not advance PROD, and drops records while the error is active', () => {
    const env = makeEnv();
    env.mem.declareAbort(EVTQ + 32n, 32n); // slot 1 aborts
    badSid(env, 0x100); // slot 0: fine
    badSid(env, 0x101); // slot 1: aborts
    expect(env.read('EVENTQ_PROD')).toBe(1n);
    expect(env.read('GERROR')).toBe(EVENTQ_ABT_ERR);
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['EVENTQ_ABT_ERR']);
    badSid(env, 0x102);
    expect(env.rec.lost.map((l) => [l.e.sid, l.why])).toEqual([[0x101, 'queue-abort'], [0x102, 'abort-error-active']]);
    expect(env.rec.gerrors).toHaveLength(1);

    // Acknowledged: the next record is attempted again (slot 1 still aborts: GERROR toggles back 1 -> 0, active again).
    env.write('GERRORN', EVENTQ_ABT_ERR);
    badSid(env, 0x103);
    expect(env.rec.lost.map((l) => l.why)).toEqual(['queue-abort', 'abort-error-active', 'queue-abort']);
    expect(env.read('GERROR')).toBe(0n);
    expect(env.smmu.gerrorActive('EVENTQ_ABT_ERR')).toBe(true);

    // Recovery: acknowledge, move the queue (EVENTQEN off while EVENTQ_BASE changes), enable again.
    env.write('GERRORN', 0);
    const EVTQ2 = 0x8210_0000n;
    env.write('CR0', 0x1 | 0x8);
    env.write('EVENTQ_BASE', EVTQ2 | 4n);
    env.write('CR0', 0x1 | 0x4 | 0x8);
    badSid(env, 0x104);
    // PROD kept its value 1 across the disable: the record lands in slot 1 of the new queue.
    expect(slot(env, 1, EVTQ2)[0]).toBe(badSidDw0(0x104));
    expect(env.read('EVENTQ_PROD')).toBe(2n);
    expect(env.rec.events.map((e) => e.sid)).toEqual([0x100, 0x104]);
  });
});

describe('event queue interrupt (§3.18.2, §6.3.30-§6.3.32)', () => {
  const EMSI = 0x8500_0000n;

  function irqEnv(enable = true): Env {
    const env = makeEnv();
    env.write('EVENTQ_IRQ_CFG0', EMSI);
    env.write('EVENTQ_IRQ_CFG1', 0xabcd);
    if (enable) env.write('IRQ_CTRL', 0x4); // EVENTQ_IRQEN
    return env;
  }

  it('is sent (MSI of EVENTQ_IRQ_CFG1 to EVENTQ_IRQ_CFG0) only when the queue goes from empty to non-empty', () => {
    const env = irqEnv();
    badSid(env, 0x100);
    expect(env.mem.read(EMSI, 4)).toBe(0xabcdn);
    expect(env.rec.irqs).toEqual(['eventq:msi']);
    env.mem.write(EMSI, 4, 0n);
    badSid(env, 0x101); // queue already non-empty: no interrupt
    expect(env.mem.read(EMSI, 4)).toBe(0n);
    expect(env.rec.irqs).toEqual(['eventq:msi']);
    env.write('EVENTQ_CONS', env.read('EVENTQ_PROD')); // consumer empties the queue
    badSid(env, 0x102);
    expect(env.mem.read(EMSI, 4)).toBe(0xabcdn);
    expect(env.rec.irqs).toEqual(['eventq:msi', 'eventq:msi']);
  });

  it('the record and the new PROD are visible when the MSI is written', () => {
    const env = irqEnv();
    const seen: bigint[] = [];
    const base = env.smmu.observer;
    env.smmu.observer = { ...base, interrupt: (src, how, addr) => { seen.push(env.read('EVENTQ_PROD'), slot(env, 0)[0]!); base.interrupt?.(src, how, addr); } };
    badSid(env, 0x100);
    expect(seen).toEqual([1n, badSidDw0(0x100)]);
  });

  it('is not sent without EVENTQ_IRQEN', () => {
    const env = irqEnv(false);
    badSid(env, 0x100);
    expect(env.mem.read(EMSI, 4)).toBe(0n);
    expect(env.rec.irqs).toEqual([]);
  });

  it('is not sent for a dropped record', () => {
    const env = irqEnv();
    env.write('CR0', 0x1 | 0x8); // EVENTQEN = 0
    badSid(env, 0x100);
    expect(env.rec.irqs).toEqual([]);
  });

  it('an aborted event-queue MSI sets GERROR.MSI_EVENTQ_ABT_ERR; the record itself is written', () => {
    const env = irqEnv();
    env.mem.declareAbort(EMSI, 4n);
    badSid(env, 0x100);
    expect(env.read('GERROR')).toBe(MSI_EVENTQ_ABT_ERR);
    expect(env.read('EVENTQ_PROD')).toBe(1n);
    expect(slot(env, 0)[0]).toBe(badSidDw0(0x100));
  });

  it('is a wired interrupt on an SMMU without MSIs (qemu-7.2)', () => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    env.write('IRQ_CTRL', 0x4);
    badSid(env, 0x100);
    expect(env.rec.irqs).toEqual(['eventq:wired']);
  });
});

describe('interrupt-pending indication', () => {
  it('is set when the event queue interrupt fires and cleared when CONS catches up with PROD', async () => {
    const { makeEnv, writeSte } = await import('../helpers/env.js');
    const env = makeEnv({ enable: false });
    env.write('IRQ_CTRL', 0x4); // EVENTQ_IRQEN
    env.write('CR0', 0xd);
    writeSte(env, 1, { V: 0 }); // V=0: every DMA is C_BAD_STE
    env.dma({ sid: 1, addr: 0x1000n });
    // No MSI address programmed: a wired interrupt, pending until serviced.
    expect(env.rec.irqs).toEqual(['eventq:wired']);
    expect(env.smmu.irqPending.has('eventq')).toBe(true);
    // PROD is 1; a CONS write of 0 leaves a record unread, a write of 1 services it.
    env.write('EVENTQ_CONS', 0);
    expect(env.smmu.irqPending.has('eventq')).toBe(true);
    env.write('EVENTQ_CONS', 1);
    expect(env.smmu.irqPending.has('eventq')).toBe(false);
  });
});
