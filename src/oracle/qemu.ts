/**
 * `smmu-replay oracle qemu`: replay traces in QEMU's SMMUv3 and in the model
 * (under the matching profile), and compare them row by row.
 *
 * Per trace (and per variant, for traces with `op` rows): the model's run
 * decides what QEMU is given (src/oracle/script.ts) and checks that the
 * trace fits QEMU's address map; one QEMU is started in its own directory,
 * the edu DMA engines are placed on the trace's StreamIDs, and the steps are
 * replayed in lockstep with the model, so that each compared row sees the
 * model as it was right after that row.  QEMU is always stopped, by its own
 * pid, whatever happens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileByName, type Profile } from '../model/profiles.js';
import { chooseVariants } from '../policy/registry.js';
import type { VariantRunSpec } from '../replay/run.js';
import { formatResult, type CaseResult, type OutputFormat, type RunResult, type TraceResult } from '../report/format.js';
import { EXIT_DIFF, EXIT_ERROR, EXIT_SAME, type Io } from '../report/io.js';
import { readTrace } from '../trace/parse.js';
import { TraceError, type Row } from '../trace/format.js';
import {
  compareDma, compareRegister, countRows, countsText, dmaWhat, formatOutcome, notComparable, parseQemuOutcome, withUncached,
  type ComparedRow, type Counts, type DmaSide,
} from './compare.js';
import { DEVIATIONS, outcomeOfResult, type Deviation, type OracleName, type Outcome } from './deviations.js';
import {
  inRam, machineArgs, planTopology, RAM_BASE, ramSizeFor, WFI_FIRMWARE, type QemuVersion, type Topology,
} from './machine.js';
import { QemuInstance } from './process.js';
import { LOG_NAME, QemuSmmu } from './qemuSmmu.js';
import { ModelRun, type DmaPiece, type ModelScript, type Step } from './script.js';
import type { DmaRow } from '../trace/format.js';

export interface OracleOptions {
  /** Trace files; empty: every bundled trace QEMU can run. */
  readonly traces: readonly string[];
  readonly version: QemuVersion;
  readonly variants: readonly string[] | undefined;
  /** QEMU binary; default: the one scripts/install-qemu.sh installs for the version. */
  readonly qemu: string | undefined;
  readonly json: boolean;
  readonly tracesDir: string;
  readonly timeoutMs: number;
  /** Mismatches shown per trace. */
  readonly show: number;
  /** text (the report above) or a CI format of the report layer (no timing: deterministic). */
  readonly format?: OutputFormat;
}

export interface RunReport {
  readonly trace: string;
  readonly variant: string;
  readonly counts: Counts;
  readonly rows: readonly ComparedRow[];
  /** Set when the trace was not run (does not fit QEMU's address map, in the default set). */
  readonly skipped?: string;
  readonly timing?: RunTiming;
}

/** Times of one QEMU instance: start (spawn to qtest connected), run (PCI set-up and the whole replay), DMA (inside the DMAs alone). */
export interface RunTiming {
  readonly startMs: number;
  readonly runMs: number;
  readonly dmaMs: number;
  readonly dmas: number;
  readonly qtestCommands: number;
}

const ORACLE_OF: Record<QemuVersion, OracleName> = { '7.2': 'qemu-7.2', '10.0': 'qemu-10.0' };
const PROFILE_OF: Record<QemuVersion, string> = { '7.2': 'qemu-7.2', '10.0': 'qemu-10.0' };

/** The project root (the directory with the package.json), found from this module. */
function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'scripts', 'install-qemu.sh'))) return d;
    d = dirname(d);
  }
  return process.cwd();
}

/** Where scripts/install-qemu.sh puts each version. */
export function defaultQemuBinary(version: QemuVersion, env: Readonly<Record<string, string | undefined>>): string {
  if (version === '7.2') return env.SMMU_REPLAY_QEMU_7_2 ?? '/usr/bin/qemu-system-aarch64';
  return env.SMMU_REPLAY_QEMU_10_0 ?? join(projectRoot(), '.qemu', '10.0.2', 'usr', 'bin', 'qemu-system-aarch64');
}

/** The version line of a QEMU binary, or an error message. */
function qemuVersionLine(binary: string): { line: string } | { error: string } {
  try {
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'pipe'] });
    return { line: out.split('\n')[0]!.trim() };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { error: `${binary}: no such QEMU binary (run scripts/install-qemu.sh, or give --qemu)` };
    return { error: `${binary} --version failed: ${err.message}` };
  }
}

const REPRO = (trace: string, version: QemuVersion, variant: string, qemu: string | undefined) =>
  `smmu-replay oracle qemu ${trace} --qemu-version ${version}${variant !== 'hw' ? ` --variant ${variant}` : ''}${qemu ? ` --qemu ${qemu}` : ''}`;

export async function oracleCommand(o: OracleOptions, io: Io): Promise<number> {
  if (o.json && (o.format ?? 'text') !== 'text') {
    io.stderr('smmu-replay: oracle qemu: give --json (every compared row, with timing) or --format, not both\n');
    return EXIT_ERROR;
  }
  const profile = profileByName(PROFILE_OF[o.version])!;
  const binary = o.qemu ? resolve(io.cwd, o.qemu) : defaultQemuBinary(o.version, io.env);
  const ver = qemuVersionLine(binary);
  if ('error' in ver) {
    io.stderr(`smmu-replay: oracle qemu: ${ver.error}\n`);
    return EXIT_ERROR;
  }
  if (!ver.line.includes(`version ${o.version}`)) {
    io.stderr(`smmu-replay: note: ${binary} is "${ver.line}"; comparing against the QEMU ${o.version} profile and deviation list\n`);
  }
  const explicit = o.traces.length > 0;
  let traces: string[];
  if (explicit) traces = [...o.traces];
  else {
    const dir = resolve(io.cwd, o.tracesDir);
    try {
      traces = readdirSync(dir).filter((f) => /\.csv(\.gz)?$/.test(f)).sort().map((f) => relative(io.cwd, join(dir, f)));
    } catch {
      io.stderr(`smmu-replay: oracle qemu: no traces directory ${o.tracesDir}\n`);
      return EXIT_ERROR;
    }
  }
  const reports: RunReport[] = [];
  let errors = 0;
  const errorList: { trace: string; variant: string | undefined; message: string }[] = [];
  const format = o.format ?? 'text';
  const text = !o.json && format === 'text';
  const started = Date.now();
  for (const t of traces) {
    const abs = resolve(io.cwd, t);
    const display = relative(io.cwd, abs) || t;
    let rows: Row[];
    try {
      if (statSync(abs).isDirectory()) throw new Error(`${display}: is a directory, not a trace`);
      rows = [];
      for await (const r of readTrace(abs, { displayName: display })) rows.push(r);
    } catch (e) {
      const message = (e as Error).message.replace(/^ENOENT.*$/, `${display}: no such file`);
      io.stderr(`smmu-replay: ${message}\n`);
      errors++;
      errorList.push({ trace: display, variant: undefined, message });
      continue;
    }
    const variants = chooseVariants(o.variants, rows.some((r) => r.kind === 'op'));
    if (typeof variants === 'string') {
      io.stderr(`smmu-replay: ${display}: ${variants}\n`);
      errors++;
      errorList.push({ trace: display, variant: undefined, message: `${display}: ${variants}` });
      continue;
    }
    for (const v of variants) {
      try {
        const rep = await runOne(display, rows, v, profile, o, binary, explicit);
        reports.push(rep);
        if (text) io.stdout(formatReport(rep, o));
      } catch (e) {
        errors++;
        const msg = e instanceof TraceError ? e.message : `${display} [${v.name}]: ${(e as Error).message}`;
        io.stderr(`smmu-replay: ${msg}\n`);
        errorList.push({ trace: display, variant: v.name, message: msg });
      }
    }
  }
  const total = countRows(reports.flatMap((r) => r.rows));
  const ran = reports.filter((r) => !r.skipped);
  const timing = summariseTiming(ran, Date.now() - started);
  if (o.json) {
    io.stdout(`${JSON.stringify({ qemu: { version: o.version, binary, versionLine: ver.line }, total, timing, errors, runs: reports }, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2)}\n`);
  } else if (format !== 'text') {
    io.stdout(formatResult(oracleResult(reports, errorList, o), format));
  } else {
    io.stdout(`total (QEMU ${o.version}, ${ran.length} runs${reports.length > ran.length ? `, ${reports.length - ran.length} skipped` : ''}${errors ? `, ${errors} errors` : ''}): ${countsText(total)}\n`);
    io.stdout(`timing: ${timing.text}\n`);
  }
  if (errors > 0) return EXIT_ERROR;
  return total.mismatched > 0 ? EXIT_DIFF : EXIT_SAME;
}

/**
 * The cross-check as a result of the report layer (`--format`): one trace per
 * file, one case per variant (`hw` for a trace without op rows), failing when
 * a row is mismatched or the run failed, skipped when the trace does not fit
 * QEMU; each mismatched row is a finding (model vs QEMU).  No timing, so the
 * output is deterministic.
 */
export function oracleResult(reports: readonly RunReport[], errors: readonly { trace: string; variant: string | undefined; message: string }[],
  o: Pick<OracleOptions, 'version' | 'qemu'>): RunResult {
  const traces = new Map<string, CaseResult[]>();
  const add = (trace: string, c: CaseResult) => traces.set(trace, [...(traces.get(trace) ?? []), c]);
  for (const r of reports) {
    if (r.skipped) { add(r.trace, { name: r.variant, status: 'skip', note: r.skipped, findings: [] }); continue; }
    const mism = r.rows.filter((x) => x.verdict === 'mismatched');
    add(r.trace, {
      name: r.variant, status: mism.length ? 'fail' : 'pass', note: countsText(r.counts),
      findings: mism.map((m) => ({
        subject: m.what, message: `line ${m.line}: ${m.reason ?? 'differs'}`, traceLine: m.line, a: 'model', b: `qemu-${o.version}`,
        rows: [{ side: 'a' as const, text: m.model }, { side: 'b' as const, text: m.qemu }], fields: [],
      })),
      ...(mism.length ? { reproduce: REPRO(r.trace, o.version, r.variant, o.qemu) } : {}),
    });
  }
  for (const e of errors) {
    add(e.trace, {
      name: e.variant ?? 'run', status: 'fail', note: 'error', reproduce: REPRO(e.trace, o.version, e.variant ?? 'hw', o.qemu),
      findings: [{ subject: 'run', message: e.message, a: 'model', b: `qemu-${o.version}`, rows: [], fields: [] }],
    });
  }
  const out: TraceResult[] = [...traces].map(([trace, cases]) => ({ trace, title: `QEMU ${o.version} cross-check`, cases }));
  return { command: 'oracle', traces: out };
}

export interface TimingSummary {
  readonly text: string;
  readonly startMedianMs: number;
  readonly dmas: number;
  /** Time inside the DMAs (issue, completion, reading back records): the rate's denominator. */
  readonly dmaMs: number;
  readonly dmasPerSecond: number;
  /** QEMU run time after the start: PCI set-up, register, memory and command traffic, DMAs. */
  readonly runMs: number;
  readonly wallMs: number;
}

/**
 * The timing line: the median start, then DMAs per second over the DMA phase
 * alone (the time spent inside the DMAs, not set-up or register traffic),
 * and beside it the whole QEMU run time and the wall time, each for what it is.
 */
export function summariseTiming(runs: readonly Pick<RunReport, 'timing'>[], wallMs: number): TimingSummary {
  const t = runs.map((r) => r.timing!);
  const starts = t.map((x) => x.startMs).sort((a, b) => a - b);
  const median = starts.length ? starts[Math.floor(starts.length / 2)]! : 0;
  const dmas = t.reduce((n, x) => n + x.dmas, 0);
  const dmaMs = t.reduce((n, x) => n + x.dmaMs, 0);
  const runMs = t.reduce((n, x) => n + x.runMs, 0);
  const rate = dmaMs > 0 ? Math.round((dmas * 1000) / dmaMs) : 0;
  return {
    text: `QEMU start median ${median.toFixed(0)} ms over ${starts.length} instances; ${dmas} DMAs in ${(dmaMs / 1000).toFixed(2)} s inside the DMAs (${rate} per second); QEMU run time after start ${(runMs / 1000).toFixed(1)} s; ${(wallMs / 1000).toFixed(1)} s wall`,
    startMedianMs: Math.round(median), dmas, dmaMs: Math.round(dmaMs), dmasPerSecond: rate, runMs: Math.round(runMs), wallMs,
  };
}

export function formatReport(r: RunReport, o: Pick<OracleOptions, 'version' | 'show' | 'qemu'>): string {
  const head = `${r.trace} [${r.variant}]`;
  if (r.skipped) return `${head}: skipped: ${r.skipped}\n`;
  let s = `${head}: ${countsText(r.counts)}\n`;
  const devs = new Map<string, number[]>();
  const nc = new Map<string, number[]>();
  for (const row of r.rows) {
    if (row.verdict === 'known-deviation') for (const d of row.deviations) devs.set(d, [...(devs.get(d) ?? []), row.line]);
    if (row.verdict === 'not-comparable') nc.set(row.reason!, [...(nc.get(row.reason!) ?? []), row.line]);
  }
  const lines = (l: number[]) => { const u = [...new Set(l)]; return `line${u.length > 1 ? 's' : ''} ${u.slice(0, 8).join(', ')}${u.length > 8 ? ', ...' : ''}`; };
  for (const [d, l] of devs) s += `  known deviation ${d}: ${lines(l)}\n`;
  const uncached = r.rows.filter((x) => x.note).map((x) => x.line);
  if (uncached.length) s += `  judged against the model with nothing cached (QEMU cached less than \`max\`, IHI 0070 §16.2): ${lines(uncached)}\n`;
  for (const [why, l] of nc) s += `  not comparable (${why}): ${lines(l)}\n`;
  const mism = r.rows.filter((x) => x.verdict === 'mismatched');
  for (const m of mism.slice(0, o.show)) {
    s += `  MISMATCH line ${m.line} ${m.what}\n    model: ${m.model}\n    QEMU:  ${m.qemu}\n    differs: ${m.reason}\n`;
  }
  if (mism.length > o.show) s += `  ... ${mism.length - o.show} more mismatched rows\n`;
  if (mism.length > 0) s += `  reproduce: ${REPRO(r.trace, o.version, r.variant, o.qemu)}\n`;
  return s;
}

function notComparableReason(row: DmaRow, piece: DmaPiece, topo: Topology, version: QemuVersion): string | undefined {
  if (row.ssid !== undefined) return 'a SubstreamID: the edu DMA engine issues no PASID-tagged transactions';
  if (row.access === 'x') return 'an instruction fetch: QEMU\'s DMA has no execute attribute';
  if (row.access === '-') return 'an access of unknown direction';
  if (!row.priv) return 'an unprivileged access: QEMU gives every DMA the same (privileged) attributes';
  const why = topo.unplaceable.get(row.sid);
  if (why) return why;
  if (piece.result.outcome === 'unsupported') return `the model does not implement it (${piece.result.detail})`;
  if (piece.unsafe) return `QEMU ${version} must not be given this DMA: ${piece.unsafe}`;
  return undefined;
}

function modelSide(p: DmaPiece): DmaSide {
  const r = p.result;
  let outcome: Outcome;
  switch (r.outcome) {
    case 'translated': outcome = { kind: 'translated', pa: r.pa! }; break;
    case 'bypass': outcome = { kind: 'bypass' }; break;
    case 'abort': outcome = { kind: 'abort' }; break;
    case 'fault': outcome = { kind: 'fault', event: /^([A-Z_0-9]+)/.exec(r.detail)?.[1] ?? '?' }; break;
    default: outcome = outcomeOfResult({ outcome: 'unsupported', detail: r.detail });
  }
  return { outcome, detail: r.detail, records: p.records, gerror: p.gerror, eventqProd: p.eventqProd };
}

/** Replay one trace under one variant in the model and in a fresh QEMU, and compare. */
async function runOne(trace: string, rows: readonly Row[], v: VariantRunSpec, profile: Profile, o: OracleOptions, binary: string, explicit: boolean): Promise<RunReport> {
  const sopts = { file: trace, profile, variant: v, version: o.version };
  // First pass: the whole script, for the address check, the RAM size and the StreamIDs.
  const script: ModelScript = ModelRun.script(rows, sopts);
  if (script.addressProblem) {
    const p = script.addressProblem;
    if (explicit) throw new TraceError(trace, p.line, `cannot be replayed in QEMU: ${p.problem}`);
    return { trace, variant: v.name, counts: countRows([]), rows: [], skipped: `line ${p.line}: ${p.problem}` };
  }
  const sids = new Set<number>();
  for (const s of script.steps) if (s.kind === 'dma') sids.add(s.row.sid);
  const topo = planTopology(sids);
  const oracle = ORACLE_OF[o.version];
  const t0 = performance.now();
  const env: Record<string, string> = {};
  const moduleDir = join(dirname(dirname(binary)), 'lib', 'x86_64-linux-gnu', 'qemu');
  if (binary.includes('.qemu') && existsSync(moduleDir)) env.QEMU_MODULE_DIR = moduleDir;
  const inst = await QemuInstance.start({
    binary, env, files: { 'wfi.bin': WFI_FIRMWARE },
    args: (dir, socket) => machineArgs({ version: o.version, ramBytes: ramSizeFor(script.ramEnd), topology: topo, dir, socket, logName: LOG_NAME }),
    startTimeoutMs: o.timeoutMs, commandTimeoutMs: o.timeoutMs,
  });
  const startMs = performance.now() - t0;
  const out: ComparedRow[] = [];
  let lastLine = 0;
  try {
    const q = new QemuSmmu(inst);
    await q.setupPci(topo);
    // QEMU put the DTB at the start of RAM; the model's memory is all zeros.
    await q.qtest.memset(RAM_BASE, 1 << 20, 0);
    const run = new ModelRun(rows, sopts);
    // The same trace with no caching: where QEMU caches less than the model's `max`, its outcome is this one's.
    const bare = new ModelRun(rows, { ...sopts, caching: 'none' });
    const ctx: RunCtx = { drift: 0, after: [] };
    let translations = 0;
    let executed = 0;
    for (let steps = run.next(); steps; steps = run.next()) {
      const bareSteps = bare.next() ?? [];
      for (const [k, step] of steps.entries()) {
        lastLine = step.line;
        const twin = bareSteps[k];
        try {
          const before = out.length;
          await applyStep(step, twin?.kind === 'dma' ? twin : undefined, q, run, script, topo, oracle, o.version, out, ctx, (n) => { translations += n; executed++; });
          noteEarlierDeviations(out.slice(before), ctx.after);
        } catch (e) {
          const status = inst.exitStatus;
          throw new TraceError(trace, step.line, `QEMU ${status ? `died (${status})` : 'failed'} at this row: ${(e as Error).message}${inst.stderr ? `\n${inst.stderr.trim()}` : ''}`);
        }
      }
    }
    // End of trace: the command queue and global error state.
    const endLine = rows.length ? rows[rows.length - 1]!.line : 0;
    for (const [reg, off, model] of [['GERROR', 0x60, script.final.gerror], ['CMDQ_CONS', 0x9c, script.final.cmdqCons]] as const) {
      const v2 = await q.mmioRead(off, 4);
      const row = compareRegister({ oracle, line: endLine, register: reg, model, qemu: v2, smmu: run.smmu, extraReferenceEvents: ctx.drift, after: ctx.after });
      out.push({ ...row, what: `end of trace: ${row.what}` });
    }
    // Not vacuous: the number of DMA pieces compared on both sides is the model's, and QEMU translated them.
    const pieces = script.steps.reduce((n, s) => n + (s.kind === 'dma' ? s.pieces.length : 0), 0);
    const dmaRows = out.filter((r) => r.kind === 'dma').length;
    if (dmaRows !== pieces) throw new Error(`compared ${dmaRows} DMA rows but the model has ${pieces}`);
    if (executed > 0 && translations === 0) throw new Error(`QEMU produced no translation for any of the ${executed} DMAs it was given`);
    const runMs = performance.now() - t0 - startMs;
    return { trace, variant: v.name, counts: countRows(out), rows: out, timing: { startMs, runMs, dmaMs: q.dmaMs, dmas: q.dmas, qtestCommands: q.qtest.commands } };
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(trace, lastLine, (e as Error).message);
  } finally {
    await inst.stop();
  }
}

interface RunCtx {
  /** Event records QEMU wrote beyond the model's, in rows already judged. */
  drift: number;
  /** Deviations recognised so far whose consequences later rows may show (Deviation.followsFrom). */
  readonly after: Deviation[];
}

/** Add the deviations with consequences that these rows showed to the run's list. */
export function noteEarlierDeviations(rows: readonly ComparedRow[], after: Deviation[]): void {
  for (const r of rows) {
    if (r.verdict !== 'known-deviation') continue;
    for (const id of r.deviations) {
      const d = DEVIATIONS.find((x) => x.id === id);
      if (d?.followsFrom && !after.includes(d)) after.push(d);
    }
  }
}

async function applyStep(
  step: Step, twin: Extract<Step, { kind: 'dma' }> | undefined, q: QemuSmmu, run: ModelRun, script: ModelScript, topo: Topology, oracle: OracleName, version: QemuVersion,
  out: ComparedRow[], ctx: RunCtx, onDma: (translationLines: number) => void,
): Promise<void> {
  switch (step.kind) {
    case 'mmio_write':
      await q.mmioWrite(step.offset, step.value, step.size);
      return;
    case 'mem_write':
      await q.memWrite(step.addr, step.size, step.value);
      return;
    case 'cmd':
      await q.command(step.words, script.cmdqs);
      return;
    case 'mmio_read': {
      const v = await q.mmioRead(step.offset, step.size);
      const name = step.reg ?? `0x${step.offset.toString(16)}`;
      out.push(compareRegister({ oracle, line: step.line, register: name, model: step.model, qemu: v, smmu: run.smmu, extraReferenceEvents: ctx.drift, after: ctx.after }));
      return;
    }
    case 'dma': {
      const s = run.smmu;
      const entries = 1 << Math.min(Number(s.reg('EVENTQ_BASE') & 0x1fn), s.features.eventqs);
      const cons = Number(s.reg('EVENTQ_CONS') & 0xfffffn);
      for (const [idx, piece] of step.pieces.entries()) {
        const why = notComparableReason(step.row, piece, topo, version);
        const m = modelSide(piece);
        if (why) {
          out.push(notComparable(step.line, 'dma', dmaWhat(step.row.sid, piece.addr, step.row.access, piece.size), formatOutcome(m.outcome), why));
          ctx.drift -= piece.records.length;
          continue;
        }
        const write = step.row.access === 'w';
        const r = await q.dma(step.row.sid, piece.addr, piece.size, write, script.eventqs);
        const qo = parseQemuOutcome(r.lines, piece.addr);
        onDma(r.lines.filter((l) => /^smmuv3_translate_|translation failed/.test(l)).length);
        const input = {
          oracle, line: step.line, sid: step.row.sid, ssid: step.row.ssid, addr: piece.addr, size: piece.size, access: step.row.access,
          model: m, qemu: { outcome: qo.outcome, detail: qo.detail, records: r.records, gerror: r.gerror, eventqProd: r.eventqProd }, smmu: run.smmu, after: ctx.after,
          eventq: { entries, cons, drift: ctx.drift },
        };
        // IHI 0070 §16.2: caching is permitted, never required; the outcome of the model with nothing cached is allowed too.
        const bp = twin?.pieces[idx];
        const cached = compareDma(input);
        const { row, usedUncached } = withUncached(cached, bp && cached.verdict !== 'matched' ? compareDma({ ...input, model: modelSide(bp) }) : undefined);
        const used = usedUncached ? bp! : piece;
        out.push(row);
        ctx.drift += r.records.length - used.records.length;
        // What a device write leaves in memory is the model's (edu writes its own buffer); keep QEMU's RAM equal.
        if (write && piece.written && qo.outcome.kind === 'translated' && m.outcome.kind === 'translated' && qo.outcome.pa === m.outcome.pa && inRam(qo.outcome.pa, BigInt(piece.size))) {
          await q.writeBytes(qo.outcome.pa, piece.written);
        }
      }
      return;
    }
  }
}
