/**
 * Reading a trace on a second thread: a worker thread reads and parses the
 * file (src/trace/parseWorker.ts) while this thread replays the rows it
 * has already sent, so on a machine with two cores parsing and replaying
 * overlap.  The rows, their order, their batches' contents and the errors
 * (with their file, line and column, raised after the rows before them) are
 * those of readTraceBatches; docs/performance.md has the measurements behind
 * using it for large files only.
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TraceError, type Row } from './format.js';
import { readTraceBatches, type ReadOptions } from './parse.js';
import { unpackRows, type PackedRows } from './rowCodec.js';

export interface ParseWorkerData {
  readonly path: string;
  readonly displayName: string;
  /** Batches the worker may send ahead of the replay. */
  readonly window: number;
}

export type ParseWorkerMessage =
  | { readonly kind: 'rows'; readonly packed: PackedRows }
  | { readonly kind: 'end' }
  | { readonly kind: 'error'; readonly trace: { file: string; line: number; problem: string; column: number | undefined } }
  | { readonly kind: 'error'; readonly message: string; readonly internal: boolean };

/** Batches (each the rows of 256 KiB of the file) the parser may run ahead: bounded memory. */
const WINDOW = 4;

/** Files from this size on are parsed on a worker thread (smaller ones finish before a thread has started). */
export const PARALLEL_MIN_BYTES = 4 << 20;

const WORKER = new URL('./parseWorker.js', import.meta.url);

/** Whether the worker can run here (it cannot where this module runs from TypeScript sources, as under Jest). */
export function parseThreadAvailable(): boolean {
  return WORKER.protocol === 'file:' && existsSync(fileURLToPath(WORKER));
}

/** How to read: 'auto' uses the parse thread for large files when it is available. */
export type ParseThread = 'auto' | 'on' | 'off';

/** Read a trace's rows in batches, on a worker thread when `mode` says so (see readTraceBatches). */
export function readTraceBatchesAuto(path: string, opts: ReadOptions, mode: ParseThread = 'auto'): AsyncGenerator<Row[]> {
  let use = mode === 'on';
  if (mode === 'auto' && parseThreadAvailable()) {
    try {
      use = statSync(path).size >= PARALLEL_MIN_BYTES;
    } catch {
      use = false; // the reader reports a missing file
    }
  }
  if (use && !parseThreadAvailable()) throw new Error('the parse thread is not available (running from TypeScript sources)');
  return use ? readTraceBatchesParallel(path, opts) : readTraceBatches(path, opts);
}

/** readTraceBatches, with the reading and parsing done by a worker thread. */
export async function* readTraceBatchesParallel(path: string, opts: ReadOptions = {}): AsyncGenerator<Row[]> {
  const data: ParseWorkerData = { path, displayName: opts.displayName ?? path, window: WINDOW };
  const worker = new Worker(WORKER, { workerData: data });
  const queue: ParseWorkerMessage[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  worker.on('message', (m: ParseWorkerMessage) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`the parse thread stopped (exit code ${code})`);
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((r) => { wake = r; });
        wake = undefined;
      }
      const m = queue.shift()!;
      if (m.kind === 'end') return;
      if (m.kind === 'error') {
        if ('trace' in m) throw new TraceError(m.trace.file, m.trace.line, m.trace.problem, m.trace.column);
        const err = m.internal ? new TypeError(m.message) : new Error(m.message);
        throw err;
      }
      worker.postMessage(1);
      yield unpackRows(m.packed);
    }
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}
