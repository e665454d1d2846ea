#!/usr/bin/env node
/**
 * Record a capture for `smmu-replay import qemu-log` (docs/recording.md):
 * boot a kernel on QEMU's virt machine with an SMMUv3, log QEMU's SMMU trace
 * events, and save guest RAM each time the guest prints `@@SNAP <name>@@`.
 *
 *   node record.mjs --kernel <Image> --initrd <initrd.gz> --disk <disk.img> --out <capture dir>
 *                   [--mem 512] [--qemu qemu-system-aarch64] [--timeout 600]
 *
 * The capture directory gets trace.log (QEMU's -D log), console.log,
 * ram-<name>.bin per snapshot, snapshots.json (the log's byte size at each
 * snapshot), qmp.log (the monitor transcript), qemu-cmdline.txt and
 * qemu-version.txt.
 *
 * A snapshot: `stop` on QEMU's QMP monitor (guest time stops), the sizes of
 * trace.log and console.log (QEMU's log backend flushes every line, so the
 * size is the exact log offset of the snapshot point), `pmemsave` of all
 * guest RAM, `cont`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const RAM_BASE = 0x4000_0000; // guest RAM on QEMU's virt machine

function options(argv) {
  const opt = (k, dflt) => {
    const i = argv.indexOf(`--${k}`);
    if (i >= 0 && argv[i + 1]) return argv[i + 1];
    if (dflt !== undefined) return dflt;
    console.error(`record.mjs: --${k} is required (see docs/recording.md)`);
    process.exit(2);
  };
  return {
    kernel: resolve(opt('kernel')), initrd: resolve(opt('initrd')), disk: resolve(opt('disk')), out: resolve(opt('out')),
    mem: Number(opt('mem', '512')), qemu: opt('qemu', 'qemu-system-aarch64'), timeout: Number(opt('timeout', '600')),
  };
}

/** The QEMU command line (docs/recording.md explains each option). */
export function qemuArgs(o) {
  return [
    '-nodefaults', '-no-reboot', '-machine', 'virt,iommu=smmuv3', '-cpu', 'cortex-a57', '-smp', '1', '-m', String(o.mem),
    '-display', 'none', '-serial', `file:${join(o.out, 'console.log')}`, '-qmp', `unix:${join(o.out, 'qmp.sock')},server=on,wait=off`,
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', 'console=ttyAMA0 rdinit=/init nokaslr panic=-1 iomem=relaxed',
    '-drive', `file=${o.disk},if=none,id=d0,format=raw,snapshot=on`,
    '-device', 'virtio-blk-pci,drive=d0,iommu_platform=on,disable-legacy=on',
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,iommu_platform=on,disable-legacy=on,romfile=',
    '-device', 'edu,dma_mask=0xffffffffffff',
    '-msg', 'timestamp=on', '-d', 'guest_errors', '-D', join(o.out, 'trace.log'),
    '-trace', 'smmu_*', '-trace', 'smmuv3_*',
  ];
}

const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * QMP, QEMU's JSON monitor, over its unix socket: one command at a time; the
 * answer is the next line with "return" or "error" (event lines are skipped).
 */
async function qmp(path, transcript) {
  for (let i = 0; !existsSync(path); i++) {
    if (i > 200) throw new Error(`no QMP socket at ${path}`);
    await sleep(50);
  }
  const sock = connect(path);
  sock.setEncoding('utf8');
  let buf = '';
  const answers = [];
  let waiting;
  sock.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      transcript.push(line);
      const msg = JSON.parse(line);
      if ('return' in msg || 'error' in msg || 'QMP' in msg) {
        answers.push(msg);
        if (waiting) { const w = waiting; waiting = undefined; w(answers.shift()); }
      }
    }
  });
  const next = () => new Promise((r) => { if (answers.length) r(answers.shift()); else waiting = r; });
  await next(); // the greeting
  const command = async (execute, args) => {
    const cmd = JSON.stringify(args ? { execute, arguments: args } : { execute });
    transcript.push(cmd);
    sock.write(`${cmd}\n`);
    const a = await next();
    if (a.error) throw new Error(`QMP ${execute}: ${a.error.desc}`);
    return a.return;
  };
  await command('qmp_capabilities');
  return { command, close: () => sock.destroy() };
}

async function main() {
  const o = options(process.argv.slice(2));
  mkdirSync(o.out, { recursive: true });
  for (const f of ['console.log', 'trace.log', 'qmp.sock']) rmSync(join(o.out, f), { force: true });
  const args = qemuArgs(o);
  writeFileSync(join(o.out, 'qemu-cmdline.txt'), `${[o.qemu, ...args].map(quote).join(' ')}\n`);
  writeFileSync(join(o.out, 'qemu-version.txt'), spawnSync(o.qemu, ['--version'], { encoding: 'utf8' }).stdout);
  const started = Date.now();
  const qemu = spawn(o.qemu, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => qemu.on('exit', (code) => r(code ?? 1)));
  const timer = setTimeout(() => { console.error('record.mjs: timeout, stopping QEMU'); qemu.kill('SIGTERM'); }, o.timeout * 1000);
  const transcript = [];
  const mon = await qmp(join(o.out, 'qmp.sock'), transcript);
  const snapshots = [];
  let done = false;
  exited.then(() => { done = true; });
  // Follow console.log; act on each complete @@SNAP <name>@@ line.
  const consolePath = join(o.out, 'console.log');
  let seen = 0;
  let partial = '';
  while (!done) {
    await sleep(50);
    if (!existsSync(consolePath)) continue;
    const size = statSync(consolePath).size;
    if (size <= seen) continue;
    const fd = openSync(consolePath, 'r');
    const chunk = Buffer.alloc(size - seen);
    readSync(fd, chunk, 0, chunk.length, seen);
    closeSync(fd);
    seen = size;
    const lines = (partial + chunk.toString('latin1')).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      const m = /@@SNAP (\S+)@@/.exec(line);
      if (!m || done) continue;
      await mon.command('stop');
      const traceOffset = statSync(join(o.out, 'trace.log')).size;
      const consoleOffset = statSync(consolePath).size;
      const file = `ram-${m[1]}.bin`;
      await mon.command('pmemsave', { val: RAM_BASE, size: o.mem * 1024 * 1024, filename: join(o.out, file) });
      await mon.command('cont');
      snapshots.push({ name: m[1], host_s: (Date.now() - started) / 1000, trace_offset: traceOffset, console_offset: consoleOffset, ram: { file, base: RAM_BASE, size: o.mem * 1024 * 1024 } });
      console.error(`record.mjs: snapshot ${m[1]} at log byte ${traceOffset}`);
    }
  }
  const rc = await exited;
  clearTimeout(timer);
  mon.close();
  rmSync(join(o.out, 'qmp.sock'), { force: true });
  writeFileSync(join(o.out, 'qmp.log'), `${transcript.join('\n')}\n`);
  writeFileSync(join(o.out, 'snapshots.json'), `${JSON.stringify({ qemu_rc: rc, mem_mib: o.mem, snapshots }, null, 1)}\n`);
  console.error(`record.mjs: QEMU exited with ${rc}; ${snapshots.length} snapshots; capture in ${o.out}`);
  process.exit(rc === 0 ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main().catch((e) => { console.error(`record.mjs: ${e.message}`); process.exit(1); });
