/**
 * Streams written to files as they are produced, so that a replay's memory
 * does not grow with its output: the canonical CSV text of each stream goes
 * through a small buffer into a file of a spool directory, and the commands
 * then copy, compare or print those files.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DmaStreamRow, FaultRow, SteRow, StreamName, StreamSink } from '../replay/streams.js';
import { DmaLineFormatter, HEADERS, faultLine, steLine } from './csv.js';

/** The text of a replay's three streams, however they are kept. */
export interface StreamTexts {
  /** The whole text of a stream (for small outputs: tests, compare). */
  get(stream: StreamName): string;
}

/** Bytes collected before a write to the file. */
const FLUSH_AT = 1 << 16;

/** One output file written through a buffer. */
class LineFile {
  private fd: number;
  private buf = '';
  bytes = 0;

  constructor(readonly path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.line(header);
  }

  line(s: string): void {
    this.buf += s + '\n';
    if (this.buf.length >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.buf === '') return;
    this.bytes += writeSync(this.fd, this.buf);
    this.buf = '';
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** A StreamSink writing the three canonical streams to `<dir>/<name>.<stream>.csv`. */
export class SpoolStreams implements StreamSink, StreamTexts {
  private readonly files: Record<StreamName, LineFile>;
  private readonly dmaFormat = new DmaLineFormatter();

  constructor(dir: string, name: string) {
    this.files = {
      ste: new LineFile(join(dir, `${name}.ste.csv`), HEADERS.ste),
      faults: new LineFile(join(dir, `${name}.faults.csv`), HEADERS.faults),
      dma: new LineFile(join(dir, `${name}.dma.csv`), HEADERS.dma),
    };
  }

  ste(r: SteRow): void { this.files.ste.line(steLine(r)); }
  fault(r: FaultRow): void { this.files.faults.line(faultLine(r)); }
  dma(r: DmaStreamRow): void { this.files.dma.line(this.dmaFormat.line(r)); }

  /** Write out what is buffered and close the files; the streams are then read through the SpoolFiles. */
  close(): SpoolFiles {
    for (const f of Object.values(this.files)) f.close();
    return new SpoolFiles({ ste: this.files.ste.path, faults: this.files.faults.path, dma: this.files.dma.path });
  }

  /** Close and delete the files (a replay that failed). */
  discard(): void {
    for (const f of Object.values(this.files)) {
      f.close();
      rmSync(f.path, { force: true });
    }
  }

  path(stream: StreamName): string {
    return this.files[stream].path;
  }

  get(stream: StreamName): string {
    this.files[stream].flush();
    return readFileSync(this.files[stream].path, 'utf8');
  }
}

/** The three stream files of a finished replay. */
export class SpoolFiles implements StreamTexts {
  constructor(readonly paths: Readonly<Record<StreamName, string>>) {}

  path(stream: StreamName): string {
    return this.paths[stream];
  }

  get(stream: StreamName): string {
    return readFileSync(this.paths[stream], 'utf8');
  }
}

/** A temporary directory for spooled streams, removed by `remove` (also after an error). */
export class SpoolDir {
  readonly path: string;
  private n = 0;

  /** A new temporary directory, or (in a worker thread) the one the main thread made. */
  constructor(existing?: string) {
    this.path = existing ?? mkdtempSync(join(tmpdir(), 'smmu-replay-'));
  }

  /** A fresh SpoolStreams for one replay (trace x variant); `tag` keeps names apart between threads. */
  streams(tag = ''): SpoolStreams {
    return new SpoolStreams(this.path, `${tag}${this.n++}`);
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Read a file in blocks (flat memory): `each` gets every block in order. */
export function forEachBlock(path: string, each: (block: Buffer) => void, blockSize = 1 << 20): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(blockSize);
    for (;;) {
      const n = readSync(fd, buf, 0, blockSize, null);
      if (n === 0) break;
      each(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether two files have the same bytes, read in blocks. */
export function sameBytes(a: string, b: string, blockSize = 1 << 20): boolean {
  const fa = openSync(a, 'r');
  try {
    const fb = openSync(b, 'r');
    try {
      const ba = Buffer.allocUnsafe(blockSize);
      const bb = Buffer.allocUnsafe(blockSize);
      for (;;) {
        const na = readFull(fa, ba);
        const nb = readFull(fb, bb);
        if (na !== nb || ba.compare(bb, 0, nb, 0, na) !== 0) return false;
        if (na === 0) return true;
      }
    } finally {
      closeSync(fb);
    }
  } finally {
    closeSync(fa);
  }
}

function readFull(fd: number, buf: Buffer): number {
  let n = 0;
  while (n < buf.length) {
    const k = readSync(fd, buf, n, buf.length - n, null);
    if (k === 0) break;
    n += k;
  }
  return n;
}
