#!/usr/bin/env node
/**
 * Build the guest side of a recording (docs/recording.md): the initramfs
 * (initrd.gz: busybox, guest-init.sh as /init, the virtio and pci-stub
 * modules of the kernel package, /dev/console) and the disk image
 * (disk.img: sector N holds "SECTOR %08d " padded with '.', so every read
 * can be checked).  Needs only Node.js: the cpio archive ("newc" format) is
 * written here, so no cpio tool and no root (for the device node) are needed.
 *
 *   node prepare.mjs --kernel-root <unpacked kernel .deb> --busybox <path> --out <dir> [--init guest-init.sh]
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The modules guest-init.sh loads, in dependency order (the package has no modules.dep). */
export const MODULES = [
  'drivers/virtio/virtio_pci_modern_dev.ko', 'drivers/virtio/virtio_pci_legacy_dev.ko', 'drivers/virtio/virtio_pci.ko',
  'drivers/block/virtio_blk.ko', 'net/core/failover.ko', 'drivers/net/net_failover.ko', 'drivers/net/virtio_net.ko',
  'drivers/pci/pci-stub.ko',
];

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * A cpio archive in the "newc" format the kernel unpacks into its initramfs:
 * per entry a 110-byte ASCII header ("070701", then 13 eight-digit hex
 * fields), the NUL-terminated name padded to 4 bytes, the data padded to 4;
 * then the TRAILER!!! entry.  Entries: { name, mode, data?, rdev?: [major, minor] }.
 * Times, owners and inode numbers are fixed, so the archive is reproducible.
 */
export function newc(entries) {
  const parts = [];
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  const put = (e, ino) => {
    const name = Buffer.from(`${e.name}\0`);
    const data = e.data ? Buffer.from(e.data) : Buffer.alloc(0);
    const [rmaj, rmin] = e.rdev ?? [0, 0];
    const fields = [ino, e.mode, 0, 0, (e.mode & 0o170000) === S_IFDIR ? 2 : 1, 0, data.length, 0, 0, rmaj, rmin, name.length, 0];
    const header = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`, 'ascii');
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  };
  entries.forEach((e, i) => put(e, i + 1));
  put({ name: 'TRAILER!!!', mode: 0 }, 0);
  return Buffer.concat(parts);
}

/** The initramfs entries: directories, busybox and its sh link, /init, the modules, /dev/console. */
export function initramfsEntries({ busybox, init, kver, modules }) {
  const dirs = new Set(['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'lib', 'lib/modules', `lib/modules/${kver}`, `lib/modules/${kver}/kernel`]);
  for (const m of modules.keys()) {
    const parts = m.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`lib/modules/${kver}/kernel/${parts.slice(0, i).join('/')}`);
  }
  return [
    ...[...dirs].sort().map((name) => ({ name, mode: S_IFDIR | 0o755 })),
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
    { name: 'init', mode: S_IFREG | 0o755, data: init },
    ...[...modules].map(([m, data]) => ({ name: `lib/modules/${kver}/kernel/${m}`, mode: S_IFREG | 0o644, data })),
    // Needed before devtmpfs is mounted, for the console of PID 1.
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: [5, 1] },
  ];
}

/** 8 MiB: 16384 sectors of 512 bytes, sector N = "SECTOR %08d " padded with '.'. */
export function diskImage(sectors = 16384) {
  const buf = Buffer.alloc(sectors * 512, '.');
  for (let n = 0; n < sectors; n++) buf.write(`SECTOR ${String(n).padStart(8, '0')} `, n * 512, 'ascii');
  return buf;
}

function main(argv) {
  const opt = (k, dflt) => {
    const i = argv.indexOf(`--${k}`);
    if (i >= 0 && argv[i + 1]) return argv[i + 1];
    if (dflt !== undefined) return dflt;
    console.error(`prepare.mjs: --${k} is required (see docs/recording.md)`);
    process.exit(2);
  };
  const root = opt('kernel-root');
  const out = opt('out');
  const here = dirname(fileURLToPath(import.meta.url));
  const [kver] = readdirSync(join(root, 'lib/modules'));
  const modules = new Map(MODULES.map((m) => [m, readFileSync(join(root, 'lib/modules', kver, 'kernel', m))]));
  const entries = initramfsEntries({ busybox: readFileSync(opt('busybox')), init: readFileSync(opt('init', join(here, 'guest-init.sh'))), kver, modules });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'initrd.gz'), gzipSync(newc(entries), { level: 9 }));
  writeFileSync(join(out, 'disk.img'), diskImage());
  const image = readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  console.log(`wrote ${join(out, 'initrd.gz')} (kernel ${kver}) and ${join(out, 'disk.img')}; kernel image: ${join(root, 'boot', image)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
