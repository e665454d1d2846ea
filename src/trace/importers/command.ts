/**
 * `smmu-replay import qemu-log <capture-dir> -o <trace.csv>`: read a QEMU
 * capture from disk, import it (qemuImport.ts) and write the trace
 * atomically, or nothing at all when anything is wrong.
 *
 * The capture directory (docs/recording.md): `trace.log` or `trace.log.gz`
 * (the -D file), `snapshots.json` (the harness's list of snapshots with the
 * log offset of each), and per snapshot either `mem-<name>.txt[.gz]` (a
 * sparse dump) or the RAM image snapshots.json names (pmemsave).  Optional:
 * `console.log[.gz]` (the kernel release), `README.md` (quoted in the
 * header), `qemu-version.txt` (`qemu-system-aarch64 --version`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { constants as zc, gunzipSync, gzipSync } from 'node:zlib';
import { writeAtomically } from '../../report/golden.js';
import { EXIT_SAME, type Io } from '../../report/io.js';
import { reportError } from '../../report/commands.js';
import { TraceError } from '../format.js';
import { importQemuCapture, type CaptureInput, type CaptureSnapshot } from './qemuImport.js';
import { summaryLines } from './summary.js';
import { parseQemuLog } from './qemuLog.js';
import { RamImage, SparseDump, parseSnapshotsJson, type SnapshotMemory } from './snapshots.js';

export interface ImportOptions {
  readonly format: 'qemu-log';
  readonly capture: string;
  readonly output: string;
  /** major.minor; default: the capture's qemu-version.txt. */
  readonly qemuVersion: string | undefined;
}

/**
 * Gunzip a file, or report where it breaks off: a truncated stream is
 * decoded as far as it goes, and the error names the last complete line.
 */
export function gunzipOrLocate(data: Buffer, file: string, max = IMPORT_MAX_FILE): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLargeToImport(file, max);
    let partial = Buffer.alloc(0);
    try {
      partial = gunzipSync(data, { finishFlush: zc.Z_SYNC_FLUSH });
    } catch {
      // not even a partial stream
    }
    let lines = 0;
    for (const b of partial) if (b === 0x0a) lines++;
    const what = partial.length ? `the gzip stream breaks off after ${partial.length} bytes of text (line ${lines + 1} is incomplete)` : 'not a valid gzip stream';
    throw new TraceError(file, lines + 1, `${what}: ${(e as Error).message}`);
  }
}

/**
 * The largest capture file the importer reads (after gunzip): it reads each
 * file whole, and a memory dump becomes one string, which V8 caps at about
 * 512 MiB.  A larger file (or a decompression bomb) is a clear error.
 */
export const IMPORT_MAX_FILE = 512 << 20;

function tooLargeToImport(file: string, max = IMPORT_MAX_FILE): TraceError {
  return new TraceError(file, 1, `more than ${max >> 20} MiB (after gunzip): the importer reads each capture file whole; record a shorter run, or split the log at a snapshot point`);
}

/** Read `<dir>/<name>` or `<dir>/<name>.gz`; undefined if neither exists.  `file` is how errors name it. */
function readMaybeGz(dir: string, display: string, name: string): { data: Buffer; file: string } | undefined {
  for (const [f, gz] of [[name, false], [`${name}.gz`, true]] as const) {
    const p = join(dir, f);
    if (existsSync(p)) {
      const file = join(display, f);
      if (!gz && statSync(p).size > IMPORT_MAX_FILE) throw tooLargeToImport(file);
      const raw = readFileSync(p);
      return { data: gz ? gunzipOrLocate(raw, file) : raw, file };
    }
  }
  return undefined;
}

/** major.minor from `qemu-system-aarch64 --version` output or a bare version. */
export function qemuVersionOf(text: string): string | undefined {
  const m = /(?:version\s+)?\b([0-9]+)\.([0-9]+)(?:\.[0-9]+)?/.exec(text);
  return m ? `${m[1]}.${m[2]}` : undefined;
}

/** The kernel release from the serial console (`Linux version <release> ...`). */
export function kernelOf(console: string): string | undefined {
  return /Linux version (\S+)/.exec(console)?.[1];
}

/**
 * Read a capture directory into the importer's input.  `display` is how
 * errors name the directory (the path as the user gave it).
 */
export function loadCapture(dir: string, display: string, qemuVersion: string | undefined): CaptureInput {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${display}: no such capture directory`);
  const log = readMaybeGz(dir, display, 'trace.log');
  if (!log) throw new Error(`${display}: no trace.log or trace.log.gz (the QEMU -D log)`);
  const parsed = parseQemuLog(log.data, log.file);
  const sj = join(dir, 'snapshots.json');
  if (!existsSync(sj)) throw new Error(`${display}: no snapshots.json (docs/recording.md)`);
  const infos = parseSnapshotsJson(readFileSync(sj, 'utf8'), join(display, 'snapshots.json'));
  const snapshots: CaptureSnapshot[] = infos.map((s) => {
    const dump = readMaybeGz(dir, display, `mem-${s.name}.txt`);
    let memory: SnapshotMemory | undefined;
    if (dump) memory = new SparseDump(dump.data.toString('utf8'), dump.file);
    else if (s.ram && existsSync(join(dir, basename(s.ram.file)))) memory = new RamImage(join(dir, basename(s.ram.file)), s.ram.base, s.ram.size);
    return { name: s.name, traceOffset: s.traceOffset, memory };
  });
  let version = qemuVersion;
  if (version === undefined) {
    const vf = join(dir, 'qemu-version.txt');
    if (existsSync(vf)) version = qemuVersionOf(readFileSync(vf, 'utf8'));
    if (version === undefined) throw new Error(`${display}: the QEMU version is not in the capture (no qemu-version.txt): give --qemu-version, e.g. --qemu-version 7.2`);
  } else {
    const v = qemuVersionOf(version);
    if (v === undefined) throw new Error(`--qemu-version: '${version}' is not a version (major.minor, e.g. 7.2)`);
    version = v;
  }
  const console = readMaybeGz(dir, display, 'console.log');
  const readme = join(dir, 'README.md');
  return {
    name: basename(resolve(dir)), logFile: log.file, log: parsed, snapshots, qemuVersion: version,
    kernel: console ? kernelOf(console.data.toString('latin1')) : undefined,
    notes: existsSync(readme) ? readFileSync(readme, 'utf8') : undefined,
  };
}

export async function importCommand(o: ImportOptions, io: Io): Promise<number> {
  try {
    const dir = resolve(io.cwd, o.capture);
    const input = loadCapture(dir, o.capture, o.qemuVersion);
    const { text, summary } = importQemuCapture(input);
    const out = resolve(io.cwd, o.output);
    if (!/\.csv(\.gz)?$/i.test(out)) throw new Error(`${o.output}: the output must end in .csv or .csv.gz`);
    const data = /\.gz$/i.test(out) ? gzipSync(text, { level: 9 }) : text;
    writeAtomically([{ path: out, text: data }]);
    io.stdout(`wrote ${o.output}\n${summaryLines(summary).map((l) => `  ${l}`).join('\n')}\n`);
    return EXIT_SAME;
  } catch (e) {
    return reportError(e, io);
  }
}
