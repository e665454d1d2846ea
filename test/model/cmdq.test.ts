/**
 * The command queue (IHI0070 §4.1, §7.1, §6.3.26-§6.3.28): synchronous
 * consumption on CMDQ_PROD writes, CONS arithmetic and wrap, CERROR_ILL and
 * CERROR_ABT with GERROR.CMDQ_ERR, the Linux-style recovery, CMDQEN, CMD_SYNC
 * completion signals (MSI, SEV) and the GERROR interrupt (§7.5, §6.3.19-§6.3.23).
 */
import { describe, expect, it } from '@jest/globals';
import { commandByName, encodeCommand } from '../../src/model/commands.js';
import { QEMU_72_PROFILE } from '../../src/model/profiles.js';
import { CMDQ, makeEnv, type Env } from '../helpers/env.js';

type Cmd = [bigint, bigint];

/** Encode a command by name (fields as numbers or bigints). */
function c(name: string, fields: Record<string, number | bigint> = {}): Cmd {
  const vals: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(fields)) vals[k] = BigInt(v);
  return encodeCommand(commandByName(name)!, vals);
}

/** Write a 16-byte command into queue slot `slot` without touching CMDQ_PROD. */
function put(env: Env, slot: number, [a, b]: Cmd): void {
  env.mem.write(CMDQ + BigInt(slot * 16), 8, a);
  env.mem.write(CMDQ + BigInt(slot * 16) + 8n, 8, b);
}

/** Write commands at PROD onwards, then publish them all with one CMDQ_PROD write (queue of 2^log2 entries). */
function submit(env: Env, cmds: Cmd[], log2 = 8): void {
  let prod = Number(env.read('CMDQ_PROD'));
  for (const q of cmds) {
    put(env, prod & (2 ** log2 - 1), q);
    prod = (prod + 1) & (2 ** (log2 + 1) - 1);
  }
  env.write('CMDQ_PROD', prod);
}

const RD = 0xfffffn; // CMDQ_CONS.RD: index and wrap bits [19:0]
const ERR = (cons: bigint): bigint => (cons >> 24n) & 0x7fn; // CMDQ_CONS.ERR [30:24]
const CERROR_ILL = 1n;
const CERROR_ABT = 2n;
// GERROR bits (§6.3.19): CMDQ_ERR 0, EVENTQ_ABT_ERR 2, MSI_CMDQ_ABT_ERR 4, MSI_GERROR_ABT_ERR 7.
const CMDQ_ERR = 1n;
const MSI_CMDQ_ABT_ERR = 0x10n;
const MSI_GERROR_ABT_ERR = 0x80n;

describe('consumption', () => {
  it('consumes a command inside the CMDQ_PROD write that publishes it; CONS follows PROD', () => {
    const env = makeEnv();
    put(env, 0, c('CFGI_STE', { sid: 1, leaf: 1 }));
    // Written to memory but not published: nothing happens.
    expect(env.rec.commands).toEqual([]);
    expect(env.read('CMDQ_CONS')).toBe(0n);
    env.write('CMDQ_PROD', 1);
    expect(env.rec.commands).toEqual(['CFGI_STE']);
    expect(env.rec.cfgi).toEqual([{ name: 'CFGI_STE', first: 1, count: 1 }]);
    expect(env.read('CMDQ_CONS')).toBe(1n);
  });

  it('consumes every published command in queue order in one PROD write', () => {
    const env = makeEnv();
    submit(env, [c('CFGI_STE', { sid: 5 }), c('CFGI_STE_RANGE', { sid: 0x13, range: 1 }), c('CFGI_ALL'), c('CMD_SYNC')]);
    expect(env.rec.commands).toEqual(['CFGI_STE', 'CFGI_STE_RANGE', 'CFGI_ALL', 'CMD_SYNC']);
    // CFGI_STE_RANGE sid=0x13 range=1: 2^(1+1) = 4 StreamIDs aligned down: 0x13 & ~3 = 0x10.  CFGI_ALL: 2^32 from 0.
    expect(env.rec.cfgi).toEqual([
      { name: 'CFGI_STE', first: 5, count: 1 },
      { name: 'CFGI_STE_RANGE', first: 0x10, count: 4 },
      { name: 'CFGI_ALL', first: 0, count: 2 ** 32 },
    ]);
    expect(env.read('CMDQ_CONS')).toBe(4n);
    expect(env.read('CMDQ_PROD')).toBe(4n);
  });

  it('wraps: with LOG2SIZE=2 the 5th command goes to slot 0 with the wrap bit (bit 2) set', () => {
    const env = makeEnv({ cmdqLog2: 2 });
    const cons: bigint[] = [];
    for (let sid = 0; sid < 10; sid++) {
      env.cmd('CFGI_STE', { sid });
      cons.push(env.read('CMDQ_CONS'));
    }
    // 3-bit pointers (index [1:0], wrap [2]): 1,2,3, 0b100=4 (index 0, wrap 1), 5,6,7, 0b000 (wrap back to 0), 1, 2.
    expect(cons).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 0n, 1n, 2n]);
    expect(env.rec.cfgi.map((x) => x.first)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The 10th command (sid 9) sits in slot 9 mod 4 = 1: dw0 = 0x03 | 9 << 32.
    expect(env.mem.read(CMDQ + 16n, 8)).toBe(0x0000_0009_0000_0003n);
  });

  it('a full queue (PROD = CONS with the other wrap) is consumed in one go', () => {
    const env = makeEnv({ cmdqLog2: 2, enable: false });
    submit(env, [0, 1, 2, 3].map((sid) => c('CFGI_STE', { sid })), 2);
    // 4 commands in a 4-entry queue: PROD = 0b100 (index 0, wrap 1), CONS = 0: full, nothing consumed (CMDQEN=0).
    expect(env.read('CMDQ_PROD')).toBe(4n);
    expect(env.rec.commands).toEqual([]);
    env.write('CR0', 0x1 | 0x4 | 0x8);
    expect(env.rec.cfgi.map((x) => x.first)).toEqual([0, 1, 2, 3]);
    expect(env.read('CMDQ_CONS')).toBe(4n);
  });

  it('CMDQEN=0: PROD writes consume nothing; enabling consumes the pending commands without a PROD write', () => {
    const env = makeEnv();
    env.write('CR0', 0x1 | 0x4); // SMMUEN | EVENTQEN, CMDQEN cleared
    expect(env.read('CR0ACK') & 0x8n).toBe(0n);
    env.cmd('CFGI_STE', { sid: 7 });
    env.cmd('CMD_SYNC');
    expect(env.rec.commands).toEqual([]);
    expect(env.read('CMDQ_PROD')).toBe(2n);
    expect(env.read('CMDQ_CONS')).toBe(0n);
    env.write('CR0', 0x1 | 0x4 | 0x8);
    expect(env.rec.commands).toEqual(['CFGI_STE', 'CMD_SYNC']);
    expect(env.read('CMDQ_CONS')).toBe(2n);
  });

  it('CMDQ_CONS is read-only to software while CMDQEN=1 (§6.3.28)', () => {
    const env = makeEnv();
    env.cmd('CMD_SYNC');
    env.write('CMDQ_CONS', 5);
    expect(env.read('CMDQ_CONS')).toBe(1n);
    expect(env.rec.notes.some((n) => n.includes('CMDQ_CONS'))).toBe(true);
  });
});

describe('command errors (§7.1)', () => {
  it('an illegal command: CONS.ERR = CERROR_ILL, CONS stays on it, GERROR.CMDQ_ERR toggles, later commands are not executed', () => {
    const env = makeEnv();
    submit(env, [c('CFGI_STE', { sid: 1 }), [0x00n, 0n] /* reserved opcode */, c('CFGI_STE', { sid: 2 })]);
    expect(env.rec.commands).toEqual(['CFGI_STE']);
    expect(env.rec.cfgi.map((x) => x.first)).toEqual([1]);
    // CONS = ERR 1 << 24 | RD 1 = 0x01000001.
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0001n);
    expect(env.read('GERROR')).toBe(CMDQ_ERR);
    expect(env.read('GERRORN')).toBe(0n);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    expect(env.rec.gerrors).toEqual([{ bit: 'CMDQ_ERR', detail: 'CERROR_ILL: opcode 0x00 is reserved' }]);
  });

  it('CONS.ERR is already written when GERROR.CMDQ_ERR becomes visible', () => {
    const env = makeEnv();
    const seen: bigint[] = [];
    const base = env.smmu.observer;
    env.smmu.observer = { ...base, gerrorActivated: (bit, d) => { seen.push(env.read('CMDQ_CONS'), env.read('GERROR')); base.gerrorActivated?.(bit, d); } };
    submit(env, [c('CMD_SYNC', { cs: 3 })]);
    expect(seen).toEqual([0x0100_0000n, CMDQ_ERR]);
  });

  it.each([
    ['reserved opcode 0x07 (CFGI_VMS_PIDM without MPAM)', (): Cmd => [0x07n, 0n]],
    ['reserved opcode 0x50 (Secure-only TLBI_S_EL2_ALL)', (): Cmd => [0x50n, 0n]],
    ['TLBI_EL3_ALL on the Non-secure queue', (): Cmd => c('TLBI_EL3_ALL')],
    ['CFGI_STE with SSec=1', (): Cmd => c('CFGI_STE', { ssec: 1, sid: 3 })],
    ['CMD_SYNC CS=0b11', (): Cmd => c('CMD_SYNC', { cs: 3 })],
    ['TLBI_NH_VA TG=4K with NUM=SCALE=TTL=0', (): Cmd => c('TLBI_NH_VA', { tg: 1, addr: 0x1000n })],
    ['RESUME with STALL_MODEL=0b01', (): Cmd => c('RESUME', { sid: 1 })],
    ['PRI_RESP without PRI', (): Cmd => c('PRI_RESP', { sid: 1, resp: 2 })],
  ])('%s stops the queue with CERROR_ILL', (_name, mk) => {
    const env = makeEnv();
    submit(env, [mk(), c('CMD_SYNC')]);
    expect(env.rec.commands).toEqual([]);
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0000n);
    expect(env.read('GERROR')).toBe(CMDQ_ERR);
  });

  it.each([
    ['TLBI_EL2_ALL without Hyp', (): Cmd => c('TLBI_EL2_ALL')],
    ['TLBI_S12_VMALL without stage 2', (): Cmd => c('TLBI_S12_VMALL', { vmid: 1 })],
    ['ATC_INV without ATS', (): Cmd => c('ATC_INV', { sid: 1 })],
  ])('qemu-7.2 profile: %s is CERROR_ILL', (_name, mk) => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    submit(env, [c('CMD_SYNC'), mk()]);
    expect(env.rec.commands).toEqual(['CMD_SYNC']);
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0001n);
    expect(env.read('GERROR')).toBe(CMDQ_ERR);
  });

  it('while CMDQ_ERR is active a PROD write consumes nothing', () => {
    const env = makeEnv();
    submit(env, [[0x00n, 0n]]);
    env.cmd('CFGI_STE', { sid: 9 });
    env.cmd('CFGI_STE', { sid: 10 });
    expect(env.read('CMDQ_PROD')).toBe(3n);
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0000n);
    expect(env.rec.commands).toEqual([]);
  });

  it('Linux recovery: replace the bad slot with CMD_SYNC, ack GERRORN -> consumption restarts from CONS without a PROD write', () => {
    const env = makeEnv();
    submit(env, [c('CFGI_STE', { sid: 1 }), [0x00n, 0n], c('CFGI_STE', { sid: 2 })]);
    env.cmd('CFGI_STE', { sid: 3 }); // published while the error is active: PROD = 4
    expect(env.rec.cfgi.map((x) => x.first)).toEqual([1]);
    // arm_smmu_cmdq_skip_err: overwrite the command at CONS (slot 1) with a CMD_SYNC, then acknowledge.
    put(env, 1, c('CMD_SYNC'));
    env.write('GERRORN', env.read('GERROR')); // toggle GERRORN.CMDQ_ERR to match: 0 -> 1
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(false);
    expect(env.rec.commands).toEqual(['CFGI_STE', 'CMD_SYNC', 'CFGI_STE', 'CFGI_STE']);
    expect(env.rec.cfgi.map((x) => x.first)).toEqual([1, 2, 3]);
    expect(env.read('CMDQ_CONS') & RD).toBe(4n);
    // A second error toggles GERROR.CMDQ_ERR again (1 -> 0); GERRORN is 1, so the error is active again.
    submit(env, [c('CMD_SYNC', { cs: 3 })]);
    expect(env.read('GERROR')).toBe(0n);
    expect(env.read('GERRORN')).toBe(CMDQ_ERR);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0004n);
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['CMDQ_ERR', 'CMDQ_ERR']);
  });

  it('acknowledging without fixing the command re-fetches it and fails again', () => {
    const env = makeEnv();
    submit(env, [c('CMD_SYNC'), [0x00n, 0n]]);
    env.write('GERRORN', 1);
    // Re-fetched from CONS = 1: same reserved opcode, CMDQ_ERR toggles back (GERROR 1 -> 0 with GERRORN = 1).
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['CMDQ_ERR', 'CMDQ_ERR']);
    expect(env.read('GERROR')).toBe(0n);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    expect(env.read('CMDQ_CONS')).toBe(0x0100_0001n);
    expect(env.rec.commands).toEqual(['CMD_SYNC']);
  });

  it('toggling CMDQEN neither acknowledges CMDQ_ERR nor restarts consumption (§6.3.28)', () => {
    const env = makeEnv();
    submit(env, [[0x00n, 0n], c('CFGI_STE', { sid: 2 })]);
    env.write('CR0', 0x1 | 0x4); // CMDQEN 1 -> 0
    put(env, 0, c('CMD_SYNC'));
    env.write('CR0', 0x1 | 0x4 | 0x8); // CMDQEN 0 -> 1
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(true);
    expect(env.rec.commands).toEqual([]);
    env.write('GERRORN', 1);
    expect(env.rec.commands).toEqual(['CMD_SYNC', 'CFGI_STE']);
  });

  it('an aborted command fetch gives CERROR_ABT and leaves CONS on the slot', () => {
    const env = makeEnv();
    // Slot 1 of the queue (CMDQ + 16) returns an external abort.
    env.mem.declareAbort(CMDQ + 16n, 16n);
    env.cmd('CFGI_STE', { sid: 1 });
    env.write('CMDQ_PROD', 2); // slot 1 published (its contents cannot even be written: the range aborts)
    expect(env.rec.commands).toEqual(['CFGI_STE']);
    // CONS = ERR 2 << 24 | RD 1 = 0x02000001.
    expect(env.read('CMDQ_CONS')).toBe(0x0200_0001n);
    expect(ERR(env.read('CMDQ_CONS'))).toBe(CERROR_ABT);
    expect(env.read('GERROR')).toBe(CMDQ_ERR);
    expect(env.rec.gerrors[0]!.detail).toMatch(/^CERROR_ABT: command fetch at 0x81000010 aborted/);
    // Software may move PROD back as far as CONS (§7.1); after the ack the queue is empty and nothing is fetched.
    env.write('CMDQ_PROD', 1);
    env.write('GERRORN', 1);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(false);
    expect(env.rec.gerrors).toHaveLength(1);
    expect(env.read('CMDQ_CONS') & RD).toBe(1n);
  });

  it('CERROR_ILL code is 1 and CERROR_ABT is 2 in CMDQ_CONS.ERR [30:24]', () => {
    const a = makeEnv();
    submit(a, [[0xffn, 0n]]);
    expect(ERR(a.read('CMDQ_CONS'))).toBe(CERROR_ILL);
    const b = makeEnv();
    b.mem.declareAbort(CMDQ, 16n);
    b.write('CMDQ_PROD', 1);
    expect(ERR(b.read('CMDQ_CONS'))).toBe(CERROR_ABT);
  });
});

describe('CMD_SYNC completion signals (§4.7.3)', () => {
  const MSI = 0x8300_0040n;

  it('CS=SIG_IRQ with an MSIAddress writes the 32-bit MSIData there and nothing else', () => {
    const env = makeEnv();
    env.mem.write(MSI, 8, 0xffff_ffff_ffff_ffffn);
    env.cmd('CMD_SYNC', { cs: 1, msh: 3, msiattr: 0xf, msidata: 0xdead_beef, msiaddr: MSI });
    expect(env.mem.read(MSI, 4)).toBe(0xdead_beefn);
    expect(env.mem.read(MSI + 4n, 4)).toBe(0xffff_ffffn); // a 32-bit write only
    expect(env.rec.irqs).toEqual(['cmd-sync:msi']);
    expect(env.read('CMDQ_CONS')).toBe(1n);
  });

  it('CS=SIG_NONE ignores the MSI fields', () => {
    const env = makeEnv();
    env.cmd('CMD_SYNC', { cs: 0, msidata: 0x1234, msiaddr: MSI });
    expect(env.mem.read(MSI, 4)).toBe(0n);
    expect(env.rec.irqs).toEqual([]);
  });

  it('without SMMU_IDR0.MSI (qemu-7.2) SIG_IRQ does not write memory', () => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    env.cmd('CMD_SYNC', { cs: 1, msidata: 0x1234, msiaddr: MSI });
    expect(env.mem.read(MSI, 4)).toBe(0n);
    expect(env.rec.irqs).not.toContain('cmd-sync:msi');
  });

  it('CS=SIG_SEV with SMMU_IDR0.SEV=1 sends a wake-up event', () => {
    const env = makeEnv();
    env.cmd('CMD_SYNC', { cs: 2 });
    expect(env.rec.irqs).toEqual(['cmd-sync:sev']);
  });

  // §4.7.3 (spec notes §7): "SIG_SEV: WFE wake-up event only if IDR0.SEV==1; otherwise behaves as SIG_NONE."
  // The model's sync() signals 'sev' without checking features.sev.
  it('CS=SIG_SEV without SMMU_IDR0.SEV (qemu-7.2) behaves as SIG_NONE: no wake-up event', () => {
    const env = makeEnv({ profile: QEMU_72_PROFILE });
    env.cmd('CMD_SYNC', { cs: 2 });
    expect(env.rec.commands).toEqual(['CMD_SYNC']);
    expect(env.rec.gerrors).toEqual([]);
    expect(env.rec.irqs).toEqual([]);
  });

  it('an aborted CMD_SYNC MSI sets GERROR.MSI_CMDQ_ABT_ERR; the SYNC still completes and the queue goes on', () => {
    const env = makeEnv();
    env.mem.declareAbort(0x8300_0000n, 0x1000n);
    env.cmd('CMD_SYNC', { cs: 1, msidata: 1, msiaddr: MSI });
    expect(env.read('GERROR')).toBe(MSI_CMDQ_ABT_ERR);
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['MSI_CMDQ_ABT_ERR']);
    expect(env.smmu.gerrorActive('CMDQ_ERR')).toBe(false);
    expect(env.read('CMDQ_CONS')).toBe(1n);
    env.cmd('CFGI_STE', { sid: 4 });
    expect(env.rec.commands).toEqual(['CMD_SYNC', 'CFGI_STE']);
    // A second aborted MSI while the error is active is not logged again (§7.5).
    env.cmd('CMD_SYNC', { cs: 1, msidata: 2, msiaddr: MSI });
    expect(env.rec.gerrors).toHaveLength(1);
    expect(env.read('GERROR')).toBe(MSI_CMDQ_ABT_ERR);
  });
});

describe('GERROR interrupt (§7.5.1, §6.3.21-§6.3.23)', () => {
  const GMSI = 0x8400_0000n;

  function gerrorIrqEnv(enable: boolean): Env {
    const env = makeEnv();
    env.write('GERROR_IRQ_CFG0', GMSI);
    env.write('GERROR_IRQ_CFG1', 0x1234_5678);
    if (enable) env.write('IRQ_CTRL', 1); // GERROR_IRQEN
    return env;
  }

  it('with GERROR_IRQEN, activating CMDQ_ERR writes GERROR_IRQ_CFG1 to GERROR_IRQ_CFG0', () => {
    const env = gerrorIrqEnv(true);
    expect(env.read('IRQ_CTRLACK')).toBe(1n);
    submit(env, [[0x00n, 0n]]);
    expect(env.mem.read(GMSI, 4)).toBe(0x1234_5678n);
    expect(env.rec.irqs).toEqual(['gerror:msi']);
  });

  it('the GERROR change is visible when the interrupt is sent', () => {
    const env = gerrorIrqEnv(true);
    const seen: bigint[] = [];
    const base = env.smmu.observer;
    env.smmu.observer = { ...base, interrupt: (src, how, addr) => { seen.push(env.read('GERROR')); base.interrupt?.(src, how, addr); } };
    submit(env, [[0x00n, 0n]]);
    expect(seen).toEqual([CMDQ_ERR]);
  });

  it('without GERROR_IRQEN no interrupt is sent', () => {
    const env = gerrorIrqEnv(false);
    submit(env, [[0x00n, 0n]]);
    expect(env.read('GERROR')).toBe(CMDQ_ERR);
    expect(env.mem.read(GMSI, 4)).toBe(0n);
    expect(env.rec.irqs).toEqual([]);
  });

  it('GERROR_IRQ_CFG0 is read-only while GERROR_IRQEN=1 (§6.3.21)', () => {
    const env = gerrorIrqEnv(true);
    env.write('GERROR_IRQ_CFG0', 0x8500_0000n);
    expect(env.read('GERROR_IRQ_CFG0')).toBe(GMSI);
  });

  it('an aborted GERROR MSI sets MSI_GERROR_ABT_ERR, which itself raises no interrupt', () => {
    const env = gerrorIrqEnv(true);
    env.mem.declareAbort(GMSI, 4n);
    submit(env, [[0x00n, 0n]]);
    // CMDQ_ERR (bit 0) | MSI_GERROR_ABT_ERR (bit 7) = 0x81.
    expect(env.read('GERROR')).toBe(CMDQ_ERR | MSI_GERROR_ABT_ERR);
    expect(env.rec.gerrors.map((g) => g.bit)).toEqual(['CMDQ_ERR', 'MSI_GERROR_ABT_ERR']);
    expect(env.rec.irqs).toEqual(['gerror:msi']);
  });

  it('an aborted CMD_SYNC MSI raises the GERROR interrupt', () => {
    const env = gerrorIrqEnv(true);
    env.mem.declareAbort(0x8300_0000n, 0x1000n);
    env.cmd('CMD_SYNC', { cs: 1, msidata: 1, msiaddr: 0x8300_0000n });
    expect(env.rec.irqs).toEqual(['cmd-sync:msi', 'gerror:msi']);
    expect(env.mem.read(GMSI, 4)).toBe(0x1234_5678n);
  });
});
