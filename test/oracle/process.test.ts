import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { liveInstances, QemuInstance } from '../../src/oracle/process.js';
import { QtestError } from '../../src/oracle/qtest.js';

const FAKE = join(process.cwd(), 'test', 'oracle', 'fixtures', 'fake-qemu.mjs');

function start(mode: string, o: { startTimeoutMs?: number; commandTimeoutMs?: number; stopTimeoutMs?: number } = {}) {
  return QemuInstance.start({
    binary: process.execPath,
    args: (_dir, sock) => [FAKE, '-qtest', `unix:${sock}`],
    env: { FAKE_QEMU_MODE: mode },
    files: { 'wfi.bin': Uint8Array.from([1, 2, 3]) },
    startTimeoutMs: o.startTimeoutMs ?? 5000,
    commandTimeoutMs: o.commandTimeoutMs ?? 2000,
    stopTimeoutMs: o.stopTimeoutMs ?? 2000,
  });
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

describe('qtest client against a fake QEMU', () => {
  it('writes and reads back registers and memory (little-endian), skipping IRQ lines, and counts answers', async () => {
    const q = await start('ok');
    try {
      expect(existsSync(join(q.dir, 'wfi.bin'))).toBe(true);
      await q.qtest.writeq(0x4000_0000n, 0x1122_3344_5566_7788n);
      expect(await q.qtest.readl(0x4000_0000n)).toBe(0x5566_7788n);
      expect(await q.qtest.readl(0x4000_0004n)).toBe(0x1122_3344n);
      // `read` answers after an asynchronous "IRQ raise" line, which is not an answer.
      expect([...await q.qtest.read(0x4000_0000n, 4)]).toEqual([0x88, 0x77, 0x66, 0x55]);
      await q.qtest.write(0x4000_0010n, Uint8Array.from([0xde, 0xad]));
      expect(await q.qtest.readl(0x4000_0010n)).toBe(0xadden);
      // Pipelined: three commands in one write, answers in order.
      expect(await q.qtest.sendAll(['writel 0x10 0x5', 'readl 0x10', 'readb 0x10'])).toEqual(['', '0x5', '0x5']);
      expect(q.qtest.commands).toBe(9);
    } finally {
      await q.stop();
    }
  });

  it('a FAIL answer rejects that command only', async () => {
    const q = await start('ok');
    try {
      await expect(q.qtest.send('clock_step')).rejects.toThrow("qtest 'clock_step': FAIL Unknown command 'clock_step'");
      expect(await q.qtest.readl(0n)).toBe(0n);
    } finally {
      await q.stop();
    }
  });

  it('a QEMU that does not answer is an error after the bound, not a hang', async () => {
    const q = await start('hang', { commandTimeoutMs: 200 });
    try {
      const t0 = Date.now();
      await expect(q.qtest.readl(0n)).rejects.toThrow("QEMU did not answer 'readl 0x0' within 200 ms");
      expect(Date.now() - t0).toBeLessThan(2000);
      // The client stays failed.
      await expect(q.qtest.readl(4n)).rejects.toBeInstanceOf(QtestError);
    } finally {
      await q.stop();
    }
  });

  it('a QEMU that exits before connecting is reported with its status and stderr; its directory is removed', async () => {
    await expect(start('exit')).rejects.toThrow(/QEMU exited before connecting \(status 3\): fake-qemu: failing on purpose/);
    expect(liveInstances()).toHaveLength(0);
  });

  it('a QEMU that dies mid-command fails the waiting command', async () => {
    const q = await start('crash-on-read');
    try {
      await expect(q.qtest.readl(0n)).rejects.toThrow(/QEMU closed the qtest connection while 'readl 0x0' was waiting/);
    } finally {
      await q.stop();
    }
    expect(q.exitStatus).toBe('exit status 134');
  });

  it('stop() signals its own pid, escalates to SIGKILL after the bound, and removes the directory', async () => {
    const q = await start('ignore-term', { stopTimeoutMs: 300 });
    const pid = q.pid;
    expect(liveInstances()).toContain(q);
    expect(alive(pid)).toBe(true);
    await q.stop();
    expect(alive(pid)).toBe(false);
    expect(q.exitStatus).toBe('killed by SIGKILL');
    expect(existsSync(q.dir)).toBe(false);
    expect(liveInstances()).toHaveLength(0);
  });

  it('each instance has its own directory, and killNow() (the exit-path hook) kills synchronously', async () => {
    const a = await start('ok');
    const b = await start('ok');
    expect(a.dir).not.toBe(b.dir);
    a.killNow();
    b.killNow();
    expect(existsSync(a.dir) || existsSync(b.dir)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(a.pid) || alive(b.pid)).toBe(false);
    expect(liveInstances()).toHaveLength(0);
  });
});
