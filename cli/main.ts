/**
 * The smmu-replay command line: argument parsing only.  Each command is
 * implemented under src/ and receives an Io, so `main` runs in-process in
 * tests.  Exit codes follow diff(1): 0 no difference, 1 difference, 2 error.
 */
import { availableParallelism } from 'node:os';
import yargs, { type Argv } from 'yargs';
import { PROFILES, profileByName } from '../src/model/profiles.js';
import type { CachingPolicy } from '../src/model/caches.js';
import { checkCommand, parseShard, replayCommand, reportError } from '../src/report/commands.js';
import { STREAMS, type StreamName } from '../src/replay/streams.js';
import { loadVariantFile, unloadVariant, registeredVariants } from '../src/policy/registry.js';
import { decodeText, DECODE_KINDS, type DecodeKind } from '../src/report/decode.js';
import { encodeText, ENCODE_KINDS, type EncodeKind } from '../src/report/encode.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../src/report/format.js';
import { EXIT_ERROR, type Io } from '../src/report/io.js';
import { parseNumber } from '../src/trace/parse.js';
import { QEMU_VERSIONS, type QemuVersion } from '../src/oracle/machine.js';
import type { GranuleName } from '../src/model/granule.js';

function commonReplayOptions<T>(y: Argv<T>) {
  return y
    .option('variant', { type: 'string', array: true, describe: `driver-policy variant(s) for traces with op rows (default: all: ${registeredVariants().map((v) => v.name).join(', ')}); traces without op rows use "hw"` })
    .option('variant-file', { type: 'string', array: true, describe: 'load a variant of your own (JSON choices, or an ES module exporting one); see docs/variants.md' })
    .option('profile', { type: 'string', choices: [...PROFILES.keys()], describe: "implementation profile (ID registers and optional behaviours); default: the trace's meta,profile row, else default" })
    .option('caching', { type: 'string', default: 'max', choices: ['max', 'none'], describe: 'max: keep every entry the architecture allows; none: no caching' })
    .option('memory-cap', { type: 'number', describe: 'cap on simulated memory in MiB (default 1024); a trace touching more is an error, not an out-of-memory crash' });
}

function jobsOption<T>(y: Argv<T>) {
  return y.option('jobs', { alias: 'j', type: 'number', default: 1, describe: 'replay this many traces at once, each in a worker thread (0: one per CPU); output and errors are the same as with 1' });
}

/** --jobs N: a positive count, 0 meaning one per CPU. */
function jobCount(n: number): number | string {
  if (!Number.isInteger(n) || n < 0) return `--jobs takes a whole number (0 for one per CPU), not ${n}`;
  return n === 0 ? availableParallelism() : n;
}

function formatOption<T>(y: Argv<T>) {
  return y.option('format', { type: 'string', default: 'text', choices: [...OUTPUT_FORMATS], describe: 'text for people; json, jsonl (JSON Lines), ktap (KTAP version 1) or junit (JUnit XML) for CI systems: no colour, no progress' });
}

function askedProfile(name: string | undefined) {
  return name === undefined ? undefined : profileByName(name)!;
}

function capPages(mib: number | undefined): number | undefined {
  return mib === undefined ? undefined : Math.max(1, Math.floor((mib * 1024 * 1024) / 4096));
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let code: number | undefined;
  let failed = false;
  // --variant-file is loaded before the command runs, so its variants are known
  // to it, and forgotten after it, so one process can run main() again.
  const withVariants = async (files: readonly string[] | undefined, run: () => Promise<number>): Promise<number> => {
    const loaded: string[] = [];
    try {
      try {
        for (const f of files ?? []) loaded.push((await loadVariantFile(f, io.cwd)).name);
      } catch (e) {
        return reportError(e, io);
      }
      return await run();
    } finally {
      for (const n of loaded) unloadVariant(n);
    }
  };
  // yargs may still call a command's handler after its validation failed (exitProcess(false)): a failure wins.
  const set = (p: Promise<number> | number): Promise<void> => Promise.resolve(p).then((c) => { if (!failed) code = c; });
  const parser = yargs([...argv])
    .scriptName('smmu-replay')
    .usage('$0 <command> [options]\n\nReplay SMMUv3 traces through an architectural model (Arm IHI 0070) and diff the STE, fault and DMA streams against golden files.')
    .command('replay <trace..>', 'replay traces and print or write their STE, fault and DMA streams', (y) => jobsOption(commonReplayOptions(y))
      .positional('trace', { type: 'string', array: true, describe: 'trace files (.csv or .csv.gz)' })
      .option('out', { type: 'string', describe: 'write <out>/<trace-stem>/<variant>.<stream>.csv instead of printing the streams' })
      .option('json', { type: 'boolean', default: false, describe: 'print a machine-readable summary per trace x variant' }),
    (a) => {
      if (failed) return undefined;
      const jobs = jobCount(a.jobs);
      if (typeof jobs === 'string') { io.stderr(`smmu-replay: ${jobs}\n`); return set(EXIT_ERROR); }
      return set(withVariants(a['variant-file'], () => replayCommand({
        traces: a.trace as string[], variants: a.variant, profile: askedProfile(a.profile), caching: a.caching as CachingPolicy,
        out: a.out, json: a.json, ...(a['memory-cap'] !== undefined ? { memoryCapPages: capPages(a['memory-cap'])! } : {}),
        jobs, variantFiles: a['variant-file'] ?? [],
      }, io)));
    })
    .command('check [trace..]', 'compare the streams of traces (default: every trace under traces/) with golden/<trace>/<variant>.<stream>.csv', (y) => formatOption(jobsOption(commonReplayOptions(y)))
      .positional('trace', { type: 'string', array: true, describe: 'trace files; default: traces/*.csv and traces/*.csv.gz' })
      .option('update', { alias: 'u', type: 'boolean', default: false, describe: 'write the golden files (atomically) instead of comparing; review the result with git diff' })
      .option('shard', { type: 'string', describe: 'i/n: check only every n-th trace starting at the i-th (CI over n machines, like Jest --shard)' })
      .option('traces-dir', { type: 'string', default: 'traces', describe: 'where the bundled traces are' })
      .option('golden-dir', { type: 'string', default: 'golden', describe: 'where the golden files are' }),
    (a) => {
      if (failed) return undefined;
      const jobs = jobCount(a.jobs);
      const shard = a.shard === undefined ? undefined : parseShard(a.shard);
      for (const problem of [jobs, shard]) {
        if (typeof problem === 'string') { io.stderr(`smmu-replay: ${problem}\n`); return set(EXIT_ERROR); }
      }
      return set(withVariants(a['variant-file'], () => checkCommand({
        traces: (a.trace as string[] | undefined) ?? [], variants: a.variant, profile: askedProfile(a.profile), caching: a.caching as CachingPolicy,
        tracesDir: a['traces-dir'], goldenDir: a['golden-dir'], update: a.update, format: a.format as OutputFormat,
        ...(a['memory-cap'] !== undefined ? { memoryCapPages: capPages(a['memory-cap'])! } : {}),
        jobs: jobs as number, variantFiles: a['variant-file'] ?? [], ...(shard ? { shard: shard as Exclude<typeof shard, string> } : {}),
      }, io)));
    })
    .command('compare <trace> <variantA> <variantB>', 'replay a trace under two driver-policy variants and diff their streams', (y) => formatOption(commonReplayOptions(y))
      .positional('trace', { type: 'string', describe: 'a trace with op rows' })
      .positional('variantA', { type: 'string' })
      .positional('variantB', { type: 'string' })
      .option('semantic', { type: 'boolean', default: false, describe: 'compare STEs only on the bits each entry uses (the used-bits rule); the raw diff is shown too' }),
    (a) => failed ? undefined : set(withVariants(a['variant-file'], async () => (await import('../src/report/compare.js')).compareCommand({
      trace: a.trace!, a: a.variantA!, b: a.variantB!, semantic: a.semantic, format: a.format as OutputFormat, variantFiles: a['variant-file'] ?? [],
      profile: askedProfile(a.profile), caching: a.caching as CachingPolicy,
      ...(a['memory-cap'] !== undefined ? { memoryCapPages: capPages(a['memory-cap'])! } : {}),
    }, io))))
    .command('report <trace>', 'write a self-contained HTML report of a trace under several variants: summary table, side-by-side streams, STE field differences, hazards', (y) => commonReplayOptions(y)
      .positional('trace', { type: 'string', describe: 'a trace file' })
      .option('variants', { type: 'string', array: true, describe: 'variants to show, comma-separated, the first is the baseline (default: all, or hw for a trace without op rows)' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'the HTML file to write' }),
    (a) => failed ? undefined : set(withVariants(a['variant-file'], async () => (await import('../src/report/html.js')).reportCommand({
      trace: a.trace!, variants: a.variants ?? a.variant, out: a.out,
      profile: askedProfile(a.profile), caching: a.caching as CachingPolicy,
      ...(a['memory-cap'] !== undefined ? { memoryCapPages: capPages(a['memory-cap'])! } : {}),
    }, io))))
    .command('minimize <trace>', 'shrink a trace to the rows a failure needs (delta debugging): a failed expect, a difference from --against, or from the golden files', (y) => commonReplayOptions(y)
      .positional('trace', { type: 'string', describe: 'a trace file' })
      .option('against', { type: 'string', describe: 'keep the first difference between --variant and this variant' })
      .option('golden', { type: 'boolean', default: false, describe: 'keep the first difference between --variant and its golden files' })
      .option('golden-dir', { type: 'string', default: 'golden', describe: 'where the golden files are' })
      .option('stream', { type: 'string', choices: [...STREAMS], describe: 'the stream whose first difference to keep (default: dma, then faults, then ste)' })
      .option('max-tests', { type: 'number', default: 20000, describe: 'stop after this many candidate replays' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'the small trace to write' })
      .check((a) => {
        if (!a.variant || a.variant.length !== 1 || String(a.variant[0]).includes(',')) throw new Error('minimize needs exactly one --variant (the failing one)');
        return true;
      }),
    (a) => failed ? undefined : set(withVariants(a['variant-file'], async () => (await import('../src/report/minimize.js')).minimizeCommand({
      trace: a.trace!, variant: String(a.variant![0]), against: a.against, golden: a.golden, goldenDir: a['golden-dir'],
      stream: a.stream as StreamName | undefined, out: a.out, maxTests: a['max-tests'],
      profile: askedProfile(a.profile), caching: a.caching as CachingPolicy, variantFiles: a['variant-file'] ?? [],
      ...(a['memory-cap'] !== undefined ? { memoryCapPages: capPages(a['memory-cap'])! } : {}),
    }, io))))
    .command('decode <kind> [qword..]', 'print the fields of an STE, CD, command, event record, L1STD, L1CD or translation table descriptor', (y) => y
      .positional('kind', { type: 'string', choices: DECODE_KINDS as unknown as string[], describe: 'structure' })
      .positional('qword', { type: 'string', array: true, describe: '64-bit words, DW0 first (missing ones are zero)' })
      .option('profile', { type: 'string', default: 'default', choices: [...PROFILES.keys()] })
      .option('stage', { type: 'number', choices: [1, 2], describe: 'pte: translation stage' })
      .option('level', { type: 'number', choices: [0, 1, 2, 3], describe: 'pte: lookup level' })
      .option('granule', { type: 'string', choices: ['4K', '16K', '64K', '4k', '16k', '64k'], describe: 'pte: granule' }),
    (a) => {
      const words: bigint[] = [];
      for (const w of (a.qword as string[] | undefined) ?? []) {
        const v = parseNumber(String(w));
        if (typeof v === 'string') { io.stderr(`smmu-replay: decode: ${v}\n`); return set(EXIT_ERROR); }
        words.push(v);
      }
      try {
        const lines = decodeText(a.kind as DecodeKind, words, {
          profile: profileByName(a.profile)!,
          ...(a.stage !== undefined ? { stage: a.stage as 1 | 2 } : {}),
          ...(a.level !== undefined ? { level: a.level } : {}),
          ...(a.granule !== undefined ? { granule: a.granule.toUpperCase() as GranuleName } : {}),
        });
        io.stdout(lines.join('\n') + '\n');
        return set(0);
      } catch (e) {
        io.stderr(`smmu-replay: decode: ${(e as Error).message}\n`);
        return set(EXIT_ERROR);
      }
    })
    .command('encode <kind> [field..]', 'build an STE, CD, command, event record, L1STD, L1CD or descriptor from NAME=value fields (for writing traces by hand)', (y) => y
      .positional('kind', { type: 'string', choices: ENCODE_KINDS as unknown as string[] })
      .positional('field', { type: 'string', array: true, describe: 'NAME=value (spec field names; enum names accepted); cmd and event take the command/event name first' })
      .option('at', { type: 'string', describe: 'print mem_write rows for a structure at this address (DW0 and non-zero doublewords)' })
      .option('all', { type: 'boolean', default: false, describe: 'with --at: print every doubleword' })
      .option('stage', { type: 'number', choices: [1, 2], describe: 'pte: translation stage' })
      .option('level', { type: 'number', choices: [0, 1, 2, 3], describe: 'pte: lookup level (sets the output-address field)' })
      .option('granule', { type: 'string', choices: ['4K', '16K', '64K', '4k', '16k', '64k'] })
      .option('table', { type: 'boolean', default: false, describe: 'pte: a table descriptor instead of a block/page' }),
    (a) => {
      try {
        let at: bigint | undefined;
        if (a.at !== undefined) {
          const v = parseNumber(String(a.at));
          if (typeof v === 'string') throw new Error(`--at: ${v}`);
          at = v;
        }
        const lines = encodeText(a.kind as EncodeKind, ((a.field as string[] | undefined) ?? []).map(String), {
          ...(at !== undefined ? { at } : {}), all: a.all,
          ...(a.stage !== undefined ? { stage: a.stage as 1 | 2 } : {}),
          ...(a.level !== undefined ? { level: a.level } : {}),
          ...(a.granule !== undefined ? { granule: a.granule.toUpperCase() as GranuleName } : {}),
          pteKind: a.table ? 'table' : 'leaf',
        });
        io.stdout(lines.join('\n') + '\n');
        return set(0);
      } catch (e) {
        io.stderr(`smmu-replay: encode: ${(e as Error).message}\n`);
        return set(EXIT_ERROR);
      }
    })
    .command('import <format> <capture>', 'import a recorded capture as a trace v1 (qemu-log: a QEMU SMMUv3 trace log with memory snapshots; see docs/recording.md)', (y) => y
      .positional('format', { type: 'string', choices: ['qemu-log'], describe: 'what the capture is' })
      .positional('capture', { type: 'string', describe: 'the capture directory (trace.log[.gz], snapshots.json, mem-<snapshot>.txt[.gz] or the RAM images)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the trace to write: .csv, or .csv.gz to compress it (written only if the whole import succeeds)' })
      .option('qemu-version', { type: 'string', describe: "QEMU's version, major.minor (default: the capture's qemu-version.txt)" }),
    (a) => failed ? undefined : set((async () => (await import('../src/trace/importers/command.js')).importCommand({ format: 'qemu-log', capture: a.capture!, output: a.output, qemuVersion: a['qemu-version'] }, io))()))
    .command('oracle <oracle> [trace..]', 'oracle qemu: replay traces in QEMU\'s SMMUv3 (through qtest) and in the model under the matching profile, and compare every DMA and register read', (y) => formatOption(y)
      .positional('oracle', { type: 'string', choices: ['qemu'], describe: 'the emulator to cross-check against' })
      .positional('trace', { type: 'string', array: true, describe: 'trace files; default: every trace under traces/ that fits QEMU\'s address map' })
      .option('qemu-version', { type: 'string', default: '7.2', choices: QEMU_VERSIONS as unknown as string[], describe: '7.2: stage 1 only (Debian bookworm); 10.0: stage 1, stage 2 and nested (bookworm-backports); picks the model profile and the known-deviation list' })
      .option('qemu', { type: 'string', describe: 'QEMU binary (qemu-system-aarch64), e.g. your own build; default: the one scripts/install-qemu.sh installs for the version' })
      .option('variant', { type: 'string', array: true, describe: 'driver-policy variant(s) for traces with op rows (default: all)' })
      .option('variant-file', { type: 'string', array: true, describe: 'load a variant of your own (see docs/variants.md)' })
      .option('json', { type: 'boolean', default: false, describe: 'print every compared row and the totals as JSON' })
      .option('traces-dir', { type: 'string', default: 'traces', describe: 'where the bundled traces are' })
      .option('timeout', { type: 'number', default: 10000, describe: 'ms QEMU may take to start and to answer each qtest command before it is an error' })
      .option('show', { type: 'number', default: 5, describe: 'mismatched rows shown per trace' }),
    (a) => failed ? undefined : set(withVariants(a['variant-file'], async () => (await import('../src/oracle/qemu.js')).oracleCommand({
      traces: (a.trace as string[] | undefined) ?? [], version: a['qemu-version'] as QemuVersion, variants: a.variant,
      qemu: a.qemu, json: a.json, tracesDir: a['traces-dir'], timeoutMs: a.timeout, show: a.show, format: a.format as OutputFormat,
    }, io))))
    .demandCommand(1, 'give a command: replay, check, compare, report, minimize, decode, encode, import or oracle qemu')
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (!failed) io.stderr(`smmu-replay: ${msg ?? err?.message}\nRun 'smmu-replay --help' for usage.\n`);
      failed = true;
      code = EXIT_ERROR;
    });
  let helpText = '';
  try {
    await parser.parseAsync([...argv], {}, (_err, _argv, output) => { helpText = output; });
  } catch (e) {
    if (code === undefined) {
      io.stderr(`smmu-replay: ${(e as Error).message}\n`);
      code = EXIT_ERROR;
    }
  }
  if (helpText && code === undefined) {
    io.stdout(helpText + '\n');
    return 0;
  }
  if (helpText && code === EXIT_ERROR) return code;
  return code ?? 0;
}
