/**
 * The parser's worker thread (src/trace/parallel.ts): reads and parses a
 * trace file and posts its rows in packed batches, at most a few batches
 * ahead of the thread replaying them (flat memory: the replay thread gives a
 * credit back for each batch it has taken).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TraceError } from './format.js';
import { readTraceInto } from './parse.js';
import { PackedCollector, transferList } from './rowCodec.js';
import type { ParseWorkerData, ParseWorkerMessage } from './parallel.js';

const data = workerData as ParseWorkerData;
const port = parentPort!;
let credits = data.window;
let wake: (() => void) | undefined;
port.on('message', () => {
  credits++;
  wake?.();
});

function post(m: ParseWorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

try {
  for await (const packed of readTraceInto(data.path, { displayName: data.displayName }, new PackedCollector(16384))) {
    while (credits === 0) await new Promise<void>((r) => { wake = r; });
    wake = undefined;
    credits--;
    post({ kind: 'rows', packed }, transferList(packed));
  }
  post({ kind: 'end' });
} catch (e) {
  if (e instanceof TraceError) post({ kind: 'error', trace: { file: e.file, line: e.line, problem: e.problem, column: e.column } });
  else post({ kind: 'error', message: String((e as Error)?.message ?? e), internal: !(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError });
}
port.close();
