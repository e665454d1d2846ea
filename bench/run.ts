/**
 * `npm run bench`: the performance figures of issue 7, measured in one run
 * from inputs generated here (bench/traces.ts), printed as one table.
 *
 *   npm run bench                  # the full sizes, median of 3 runs each
 *   npm run bench -- --runs 5      # more runs per figure
 *   npm run bench -- --quick       # sizes divided by 10 (a smoke test of the bench itself)
 *   npm run bench -- --json        # the figures as JSON after the table
 *   npm run bench -- --only 1,4    # some of the measurements
 *
 * Timings are wall-clock medians; the machine (CPU, cores, load average
 * before and after) is printed with them, since on a shared machine they
 * move with the load.  Generated files live in a temporary directory that is
 * removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CachingPolicy } from '../src/model/caches.js';
import { DEFAULT_PROFILE } from '../src/model/profiles.js';
import { registeredVariants, runSpec, variantByName } from '../src/policy/registry.js';
import { runTrace, type VariantRunSpec } from '../src/replay/run.js';
import { SharedDma, SpoolStreams } from '../src/report/spool.js';
import { readTraceBatchesParallel, type ParseThread } from '../src/trace/parallel.js';
import { readTraceBatches } from '../src/trace/parse.js';
import { dmaTrace, driverOpsTrace, tlbMissNestedTrace, tlbMissS1Trace } from './traces.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The project root: dist/bench/run.js -> ../.. */
const ROOT = join(HERE, '..', '..');
const CLI = join(ROOT, 'bin', 'smmu-replay.js');
const RSS_CHILD = join(HERE, 'rssChild.js');

const argv = process.argv.slice(2);
const runsArg = argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Math.max(1, Number(argv[runsArg + 1])) : 3;
const QUICK = argv.includes('--quick');
const JSON_OUT = argv.includes('--json');
const onlyArg = argv.indexOf('--only');
const ONLY = onlyArg >= 0 ? new Set(String(argv[onlyArg + 1]).split(',')) : undefined;
const wanted = (n: string): boolean => !ONLY || ONLY.has(n);
const scale = (n: number): number => (QUICK ? Math.round(n / 10) : n);

const SIZES = {
  dma: scale(1_000_000),
  /** DMAs of the TLB-miss traces, with caching max and with caching none (where every one walks). */
  tlbMiss: scale(300_000),
  tlbMissUncached: scale(50_000),
  ops: scale(100_000),
  /** Operations replayed under all variants (each variant replays them again: 11 times the work). */
  opsAll: scale(20_000),
  big: scale(10_000_000),
  qemu: scale(20_000),
};

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** CPU time (ms, every thread of this process) of the last timed() call's median run. */
let lastCpuMs = 0;

/** Median wall time in ms of `RUNS` runs of `f` (and, in lastCpuMs, the median CPU time). */
async function timed(f: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  lastCpuMs = median(cpu);
  return median(ms);
}

/** "x.x µs CPU/row" of the last timed() call. */
const cpuPerRow = (rows: number): string => `${((lastCpuMs * 1000) / rows).toFixed(2)} µs CPU/row`;

const tmp = mkdtempSync(join(tmpdir(), 'smmu-bench-'));
let spoolN = 0;

/** Replay a trace as the CLI does (streams spooled to files), under the given variants. */
async function replay(path: string, variants: readonly VariantRunSpec[], o: { caching?: CachingPolicy; parseThread?: ParseThread } = {}): Promise<string[]> {
  const dir = join(tmp, `spool-${spoolN++}`);
  mkdirSync(dir);
  const shared = new SharedDma();
  const sinks: SpoolStreams[] = [];
  try {
    await runTrace(path, {
      profile: DEFAULT_PROFILE, caching: o.caching ?? 'max', variants, parseThread: o.parseThread ?? 'auto',
    }, () => {
      const s = new SpoolStreams(dir, String(sinks.length), shared);
      sinks.push(s);
      return s;
    });
    return sinks.map((s) => s.close().path('dma'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function countRows(gen: AsyncGenerator<unknown[]>): Promise<number> {
  let n = 0;
  for await (const b of gen) n += b.length;
  return n;
}

const ONE: VariantRunSpec[] = [runSpec(variantByName('linux-current')!)];
const ALL: VariantRunSpec[] = registeredVariants().map(runSpec);

interface Figure {
  readonly id: string;
  readonly what: string;
  readonly value: string;
  readonly target?: string;
  readonly met?: boolean;
  readonly raw?: number;
}
const figures: Figure[] = [];
function fig(f: Figure): void {
  figures.push(f);
  process.stderr.write(`  ${f.id} ${f.what}: ${f.value}\n`);
}

const rate = (n: number, ms: number): number => (n * 1000) / ms;
const mps = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e4 ? `${Math.round(x / 1000)} k/s` : `${(x / 1000).toFixed(1)} k/s`);

async function measureDma(): Promise<void> {
  const path = join(tmp, 'dma.csv');
  const rows = dmaTrace(path, SIZES.dma);
  process.stderr.write(`1. DMA trace: ${rows} rows (${(statSync(path).size / 2 ** 20).toFixed(0)} MiB)\n`);
  const parse = await timed(() => countRows(readTraceBatches(path)));
  const parseCpu = cpuPerRow(rows);
  const parseThread = await timed(() => countRows(readTraceBatchesParallel(path)));
  const parseThreadCpu = cpuPerRow(rows);
  const one = await timed(() => replay(path, ONE));
  const oneCpu = cpuPerRow(rows);
  const oneSameThread = await timed(() => replay(path, ONE, { parseThread: 'off' }));
  const oneSameThreadCpu = cpuPerRow(rows);
  const all = await timed(() => replay(path, ALL));
  const allCpu = cpuPerRow(rows);
  const out = join(tmp, 'cli-out');
  const cli = await timed(async () => {
    const r = spawnSync(process.execPath, [CLI, 'replay', path, '--variant', 'linux-current', '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`smmu-replay replay exited ${r.status}`);
    rmSync(out, { recursive: true, force: true });
  });
  fig({ id: '1a', what: 'parse only (reader and row parser, one thread)', value: `${mps(rate(rows, parse))} (${parseCpu})`, raw: rate(rows, parse) });
  fig({ id: '1b', what: 'parse only, on the parse thread (rows unpacked here)', value: `${mps(rate(rows, parseThread))} (${parseThreadCpu})`, raw: rate(rows, parseThread) });
  fig({
    id: '1c', what: 'replay, 1 variant (linux-current), streams to files', value: `${mps(rate(rows, one))} (${oneCpu})`, raw: rate(rows, one),
  });
  fig({ id: '1d', what: 'replay, 1 variant, parse in the same thread', value: `${mps(rate(rows, oneSameThread))} (${oneSameThreadCpu})`, raw: rate(rows, oneSameThread) });
  fig({ id: '1e', what: `replay, all ${ALL.length} variants`, value: `${mps(rate(rows, all))} (${allCpu})`, raw: rate(rows, all) });
  fig({
    id: '1f', what: 'replay / parse only (1c / 1a)', value: (parse / one).toFixed(2), target: '>= 0.8', met: parse / one >= 0.8, raw: parse / one,
  });
  fig({ id: "1f'", what: 'replay / parse only on the parse thread (1c / 1b: the same reader)', value: (parseThread / one).toFixed(2), raw: parseThread / one });
  fig({
    id: '1g', what: `all variants / 1 variant, time (1e / 1c)`, value: (all / one).toFixed(2), target: '<= 3', met: all / one <= 3, raw: all / one,
  });
  fig({
    id: '1h', what: 'end to end: `smmu-replay replay --variant linux-current --out` (process start to exit)', value: mps(rate(rows, cli)),
    target: '>= 1 M/s', met: rate(rows, cli) >= 1e6, raw: rate(rows, cli),
  });
}

/** Translations per second: the DMA part of a trace, its set-up's time subtracted. */
async function translations(name: string, make: (path: string, dmas: number) => number, caching: CachingPolicy, dmas: number): Promise<{ perS: number; hits: number }> {
  const setup = join(tmp, `${name}-setup.csv`);
  const full = join(tmp, `${name}.csv`);
  make(setup, 0);
  make(full, dmas);
  const tSetup = await timed(() => replay(setup, ONE, { caching }));
  let hits = 0;
  const tFull = await timed(async () => {
    // Count TLB hits from the DMA stream before the spool goes.
    const dir = join(tmp, `spool-${spoolN++}`);
    mkdirSync(dir);
    const shared = new SharedDma();
    const sinks: SpoolStreams[] = [];
    await runTrace(full, { profile: DEFAULT_PROFILE, caching, variants: ONE }, () => {
      const s = new SpoolStreams(dir, String(sinks.length), shared);
      sinks.push(s);
      return s;
    });
    const text = readFileSync(sinks.map((s) => s.close().path('dma'))[0]!, 'utf8');
    hits = text.split('(TLB hit)').length - 1;
    rmSync(dir, { recursive: true, force: true });
  });
  return { perS: rate(dmas, Math.max(1, tFull - tSetup)), hits };
}

async function measureTlbMiss(): Promise<void> {
  process.stderr.write(`2. TLB-miss traces: 1 GiB of 4 KiB pages, ${SIZES.tlbMiss} DMAs at random addresses (${SIZES.tlbMissUncached} with caching none)\n`);
  for (const [name, make] of [['stage 1', tlbMissS1Trace], ['nested', tlbMissNestedTrace]] as const) {
    const max = await translations(name.replace(' ', ''), make, 'max', SIZES.tlbMiss);
    fig({
      id: name === 'stage 1' ? '2a' : '2c', what: `translations, ${name}, caching max (${((100 * (SIZES.tlbMiss - max.hits)) / SIZES.tlbMiss).toFixed(0)}% TLB misses)`,
      value: mps(max.perS), raw: max.perS,
    });
    const none = await translations(`${name.replace(' ', '')}-none`, make, 'none', SIZES.tlbMissUncached);
    fig({ id: name === 'stage 1' ? '2b' : '2d', what: `translations, ${name}, caching none (every one walks)`, value: mps(none.perS), raw: none.perS });
  }
}

async function measureOps(): Promise<void> {
  const path = join(tmp, 'ops.csv');
  const ops = driverOpsTrace(path, SIZES.ops);
  const pathAll = join(tmp, 'ops-all.csv');
  const opsAll = driverOpsTrace(pathAll, SIZES.opsAll);
  process.stderr.write(`3. driver-operation trace: ${ops} operations (${opsAll} under all variants)\n`);
  const one = await timed(() => replay(path, ONE));
  const all = await timed(() => replay(pathAll, ALL), 1);
  fig({ id: '3a', what: 'driver operations, 1 variant (linux-current)', value: mps(rate(ops, one)), raw: rate(ops, one) });
  fig({ id: '3b', what: `driver operations, all ${ALL.length} variants (the first ${opsAll}, one run)`, value: mps(rate(opsAll, all)), raw: rate(opsAll, all) });
}

async function measureMemory(): Promise<void> {
  const path = join(tmp, 'dma-10m.csv');
  const rows = dmaTrace(path, SIZES.big);
  process.stderr.write(`4. large trace: ${rows} rows (${(statSync(path).size / 2 ** 20).toFixed(0)} MiB)\n`);
  const out = join(tmp, 'big-out');
  const r = spawnSync(process.execPath, [RSS_CHILD, 'replay', path, '--variant', 'linux-current', '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], cwd: tmp });
  rmSync(out, { recursive: true, force: true });
  rmSync(path, { force: true });
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code: number; ms: number; maxRssKiB: number };
  if (res.code !== 0) throw new Error(`the large replay exited ${res.code}`);
  const mib = res.maxRssKiB / 1024;
  fig({ id: '4a', what: `peak resident memory, replay of ${rows} rows --out`, value: `${mib.toFixed(0)} MiB`, target: '< 200 MB', met: mib * 2 ** 20 < 200e6, raw: mib });
  fig({ id: '4b', what: 'that replay\'s rate (in-process, no process start)', value: mps(rate(rows, res.ms)), raw: rate(rows, res.ms) });
}

/** The QEMU cross-check (issue 5) on the first rows of the DMA trace, where QEMU and the oracle command exist. */
async function measureQemu(oneRate: number | undefined): Promise<void> {
  const which = spawnSync('sh', ['-c', 'command -v qemu-system-aarch64'], { encoding: 'utf8' });
  if (which.status !== 0) {
    fig({ id: '5', what: 'QEMU cross-check DMA rate', value: 'not measured: QEMU is not installed' });
    return;
  }
  const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  if (!/\boracle\b/.test(help.stdout)) {
    fig({ id: '5', what: 'QEMU cross-check DMA rate', value: 'not measured: this build has no `oracle` command (the QEMU cross-check, issue 5)' });
    return;
  }
  const path = join(tmp, 'dma-qemu.csv');
  const rows = dmaTrace(path, SIZES.qemu);
  const r = spawnSync(process.execPath, [CLI, 'oracle', 'qemu', path, '--variant', 'linux-current'], { encoding: 'utf8', cwd: ROOT, timeout: 30 * 60_000 });
  const m = /\((\d+) per second\)/.exec(r.stdout);
  if (!m) {
    fig({ id: '5', what: 'QEMU cross-check DMA rate', value: `not measured: the oracle run gave no rate (exit ${r.status}): ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ')}` });
    return;
  }
  const q = Number(m[1]);
  fig({ id: '5a', what: `QEMU cross-check DMA rate (oracle qemu, first ${rows} rows of trace 1)`, value: mps(q), raw: q });
  if (oneRate) fig({ id: '5b', what: 'model replay (1c) / QEMU', value: `${(oneRate / q).toFixed(0)} x`, raw: oneRate / q });
}

function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'}, ${c.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, ${process.platform}`;
}

const load0 = loadavg();
const started = performance.now();
process.stderr.write(`smmu-replay bench: ${machine()}; median of ${RUNS} runs${QUICK ? '; --quick (sizes / 10)' : ''}\n`);
try {
  if (wanted('1')) await measureDma();
  if (wanted('2')) await measureTlbMiss();
  if (wanted('3')) await measureOps();
  if (wanted('4')) await measureMemory();
  if (wanted('5')) await measureQemu(figures.find((f) => f.id === '1c')?.raw);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const load1 = loadavg();
const lines = [
  `Machine: ${machine()}.`,
  `Load average (1 min) ${load0[0]!.toFixed(2)} before, ${load1[0]!.toFixed(2)} after; each timing is the median of ${RUNS} runs; bench time ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  '',
  '| # | measurement | result | target | met |',
  '|---|---|---|---|---|',
  ...figures.map((f) => `| ${f.id} | ${f.what} | ${f.value} | ${f.target ?? ''} | ${f.met === undefined ? '' : f.met ? 'yes' : 'no'} |`),
];
process.stdout.write(lines.join('\n') + '\n');
if (JSON_OUT) process.stdout.write(JSON.stringify({ machine: machine(), runs: RUNS, quick: QUICK, load: [load0[0], load1[0]], figures }, null, 2) + '\n');
