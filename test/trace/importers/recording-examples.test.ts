/**
 * The recording scripts of docs/recording.md (docs/examples/recording/):
 * the parts that do not need QEMU.  The whole recipe was run end to end on
 * QEMU 7.2 (see the report of issue 6); CI has no QEMU.
 */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../helpers/cli.js';

interface Entry { name: string; mode: number; data?: Buffer | string; rdev?: [number, number] }
interface Prepare {
  newc(entries: Entry[]): Buffer;
  initramfsEntries(o: { busybox: Buffer; init: Buffer; kver: string; modules: Map<string, Buffer> }): Entry[];
  diskImage(sectors?: number): Buffer;
  MODULES: string[];
}
interface Record { qemuArgs(o: { mem: number; out: string; kernel: string; initrd: string; disk: string }): string[] }

const load = async <T>(f: string) => (await import(pathToFileURL(join(ROOT, 'docs/examples/recording', f)).href)) as T;

describe('prepare.mjs', () => {
  it('writes cpio "newc": 110-byte ASCII headers, names and data padded to 4 bytes, a TRAILER!!!', async () => {
    const { newc } = await load<Prepare>('prepare.mjs');
    const a = newc([{ name: 'init', mode: 0o100755, data: 'hi' }]);
    // Header 110 + "init\0" 5 = 115 -> padded to 116; data 2 -> padded to 4: the entry is 120 bytes.
    // Trailer: 110 + "TRAILER!!!\0" 11 = 121 -> 124.  Total 244.
    expect(a.length).toBe(244);
    const h = a.subarray(0, 110).toString('ascii');
    const field = (i: number) => parseInt(h.slice(6 + 8 * i, 14 + 8 * i), 16);
    expect(h.slice(0, 6)).toBe('070701');
    expect([field(0), field(1), field(6), field(11)]).toEqual([1, 0o100755, 2, 5]); // ino, mode, filesize, namesize
    expect(a.subarray(110, 116).toString('latin1')).toBe('init\0\0');
    expect(a.subarray(116, 120).toString('latin1')).toBe('hi\0\0');
    expect(a.subarray(120 + 110, 120 + 120).toString('latin1')).toBe('TRAILER!!!');
  });
  it('puts /init, busybox, the modules in dependency order and /dev/console (5:1) in the initramfs', async () => {
    const { initramfsEntries, MODULES } = await load<Prepare>('prepare.mjs');
    const modules = new Map(MODULES.map((m) => [m, Buffer.from(m)]));
    const e = initramfsEntries({ busybox: Buffer.from('bb'), init: Buffer.from('#!/bin/sh'), kver: '6.1.0-56-arm64', modules });
    const byName = new Map(e.map((x) => [x.name, x]));
    expect(byName.get('init')!.mode).toBe(0o100755);
    expect(byName.get('bin/sh')).toEqual({ name: 'bin/sh', mode: 0o120777, data: 'busybox' });
    expect(byName.get('dev/console')).toEqual({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
    const mods = e.filter((x) => x.name.endsWith('.ko')).map((x) => x.name.replace('lib/modules/6.1.0-56-arm64/kernel/', ''));
    expect(mods).toEqual(MODULES);
    // Every directory a module lives in is created before it.
    expect(byName.has('lib/modules/6.1.0-56-arm64/kernel/drivers/virtio')).toBe(true);
    expect(e.findIndex((x) => x.name === 'lib/modules/6.1.0-56-arm64/kernel/net/core')).toBeLessThan(e.findIndex((x) => x.name.endsWith('failover.ko')));
  });
  it('the disk image: sector N reads "SECTOR %08d " padded with dots', async () => {
    const { diskImage } = await load<Prepare>('prepare.mjs');
    const d = diskImage(3);
    expect(d.length).toBe(3 * 512);
    expect(d.subarray(512, 512 + 16).toString('ascii')).toBe('SECTOR 00000001 ');
    expect(d.subarray(512 + 16, 1024).toString('ascii')).toBe('.'.repeat(512 - 16));
  });
  it('is the disk of the bundled capture: its first MiB has the SHA-256 the guest printed after reading it through the SMMU', async () => {
    const { diskImage } = await load<Prepare>('prepare.mjs');
    const sum = createHash('sha256').update(diskImage().subarray(0, 1 << 20)).digest('hex');
    const console = gunzipSync(readFileSync(join(ROOT, 'traces/captures/linux-6.1-qemu-7.2/console.log.gz'))).toString('latin1');
    expect(console).toContain(`${sum}  -`);
  });
});

describe('record.mjs', () => {
  it('runs QEMU with what the importer needs: the SMMU trace events, guest errors, timestamps, DMA through the SMMU', async () => {
    const { qemuArgs } = await load<Record>('record.mjs');
    const a = qemuArgs({ mem: 512, out: '/cap', kernel: '/k', initrd: '/i', disk: '/d' }).join(' ');
    expect(a).toContain('-machine virt,iommu=smmuv3');
    expect(a).toContain('-D /cap/trace.log -trace smmu_* -trace smmuv3_*');
    expect(a).toContain('-d guest_errors');
    expect(a).toContain('-msg timestamp=on');
    expect(a).toContain('virtio-blk-pci,drive=d0,iommu_platform=on');
    expect(a).toContain('virtio-net-pci,netdev=n0,iommu_platform=on');
    expect(a).toContain('-device edu,dma_mask=0xffffffffffff');
  });
});
