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
import { cell, dmaLine, HEADERS, faultLine, id, steLine } from './csv.js';

/** The text of a replay's three streams, however they are kept. */
export interface StreamTexts {
  /** The whole text of a stream (for small outputs: tests, compare). */
  get(stream: StreamName): string;
}

/** Size of a file's write buffer. */
const BUFFER = 1 << 16;
/** Room kept free for one line before it is written into the buffer. */
const LINE_ROOM = 512;

const HEX = new Uint8Array(Buffer.from('0123456789abcdef'));
const TWO_53 = 1n << 53n;

/** Copy bytes; returns the new end.  (TypedArray.set: Buffer.copy and subarray cost more than they move for a line.) */
function put(b: Uint8Array, at: number, src: Uint8Array): number {
  if (src.length <= 8) {
    let p = at;
    for (let i = 0; i < src.length; i++) b[p++] = src[i]!;
    return p;
  }
  b.set(src, at);
  return at + src.length;
}

/** The UTF-8 bytes of a string, as a plain Uint8Array. */
function utf8(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s));
}

/** A non-negative integer in decimal. */
function putDec(b: Uint8Array, at: number, n: number): number {
  const s = String(n);
  let p = at;
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  return p;
}

/** 0x and a non-negative integer below 2^53 in hex, without leading zeros. */
function putHex(b: Uint8Array, at: number, n: number): number {
  b[at] = 0x30;
  b[at + 1] = 0x78;
  let digits = 1;
  while (digits < 14 && n >= 16 ** digits) digits++;
  let v = n;
  for (let i = at + 1 + digits; i >= at + 2; i--) {
    b[i] = HEX[v % 16]!;
    v = Math.floor(v / 16);
  }
  return at + 2 + digits;
}

/** 0x and 16 hex digits. */
function putHex64(b: Uint8Array, at: number, v: bigint): number {
  b[at] = 0x30;
  b[at + 1] = 0x78;
  let hi: number;
  let lo: number;
  if (v < TWO_53) {
    const n = Number(v);
    hi = Math.floor(n / 0x1_0000_0000);
    lo = n >>> 0;
  } else {
    hi = Number(v >> 32n);
    lo = Number(v & 0xffff_ffffn);
  }
  for (let i = at + 9; i >= at + 2; i--) { b[i] = HEX[hi & 15]!; hi >>>= 4; }
  for (let i = at + 17; i >= at + 10; i--) { b[i] = HEX[lo & 15]!; lo >>>= 4; }
  return at + 18;
}

/**
 * The last DMA row written for a trace and where its bytes are, shared by
 * the sinks of the trace's variants.  The bytes stay in the buffer of the
 * file that wrote them, valid until that file writes again (its `writes`
 * count tells); every variant takes a row before any takes the next one, so
 * the other variants copy them first.
 */
export class SharedDmaLine {
  private row: DmaStreamRow | undefined;
  private owner: LineFile | undefined;
  private stamp = 0;
  src: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;

  /** Whether `r` has the same cells as the row kept and its bytes are still there. */
  matches(r: DmaStreamRow): boolean {
    const k = this.row;
    return k !== undefined && k.line === r.line && k.addr === r.addr && k.pa === r.pa && k.outcome === r.outcome && k.detail === r.detail
      && k.sid === r.sid && k.ssid === r.ssid && k.access === r.access && this.owner!.writes === this.stamp;
  }

  /** Keep `r`, whose line `owner` has just written at `src[start, end)`. */
  keep(r: DmaStreamRow, owner: LineFile, src: Uint8Array, start: number, end: number): void {
    this.row = r;
    this.owner = owner;
    this.stamp = owner.writes;
    this.src = src;
    this.start = start;
    this.end = end;
  }
}

/**
 * One output file written through a byte buffer.  Rows of the DMA stream,
 * the long one, are formatted straight into the buffer (digits written as
 * bytes, the repeated cells kept as bytes), which costs a fraction of
 * building each line as a string; other rows are written as strings.  The
 * bytes are exactly those of the canonical line (report/csv.ts); a test
 * checks that on random rows.
 */
export class LineFile {
  private fd: number;
  private readonly buf = new Uint8Array(BUFFER);
  /** The same memory as a Buffer, to encode strings into. */
  private readonly bufText = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private pos = 0;
  bytes = 0;
  /** Rows written so far (or flushes): bytes kept by a SharedDmaLine are valid while it is unchanged. */
  writes = 0;
  // Cells repeated from the previous DMA row, as bytes.
  private sid = -1;
  private sidBytes: Uint8Array = new Uint8Array(0);
  private detail: string | undefined;
  private detailBytes: Uint8Array = new Uint8Array(0);
  private readonly words = new Map<string, Uint8Array>();

  constructor(readonly path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.line(header);
  }

  /** A line given as text (the LF is added). */
  line(s: string): void {
    this.writes++;
    if (this.pos + 3 * s.length + 1 > this.buf.length) this.flush();
    if (3 * s.length + 1 > this.buf.length) {
      this.bytes += writeSync(this.fd, s + '\n');
      return;
    }
    this.pos += this.bufText.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = 0x0a;
  }

  /**
   * A row of the DMA stream: the bytes of dmaLine(r) and an LF.  With
   * `shared` (one per trace, shared by the sinks of its variants), a row
   * equal to the one another variant just wrote is copied as bytes instead
   * of formatted again: under several variants most DMA rows are the same.
   */
  dma(r: DmaStreamRow, shared?: SharedDmaLine): void {
    if (r.detail !== this.detail) {
      this.detail = r.detail;
      this.detailBytes = utf8(cell(r.detail));
    }
    if (this.pos + LINE_ROOM + this.detailBytes.length > this.buf.length) this.flush();
    if (LINE_ROOM + this.detailBytes.length > this.buf.length) {
      this.line(dmaLine(r));
      return;
    }
    const b = this.buf;
    const start = this.pos;
    if (shared && shared.matches(r)) {
      b.set(shared.src.subarray(shared.start, shared.end), start);
      this.pos = start + shared.end - shared.start;
      this.writes++;
      return;
    }
    if (r.sid !== this.sid) {
      this.sid = r.sid;
      this.sidBytes = utf8(id(r.sid));
    }
    let p = putDec(b, start, r.line);
    b[p++] = 0x2c;
    p = put(b, p, this.sidBytes);
    b[p++] = 0x2c;
    if (r.ssid !== undefined) p = putHex(b, p, r.ssid);
    b[p++] = 0x2c;
    p = putHex64(b, p, r.addr);
    b[p++] = 0x2c;
    p = put(b, p, this.word(r.access));
    b[p++] = 0x2c;
    p = put(b, p, this.word(r.outcome));
    b[p++] = 0x2c;
    if (r.pa !== undefined) p = putHex64(b, p, r.pa);
    b[p++] = 0x2c;
    p = put(b, p, this.detailBytes);
    b[p++] = 0x0a;
    this.pos = p;
    this.writes++;
    shared?.keep(r, this, b, start, p);
  }

  private word(w: string): Uint8Array {
    let bytes = this.words.get(w);
    if (!bytes) {
      bytes = utf8(cell(w));
      this.words.set(w, bytes);
    }
    return bytes;
  }

  flush(): void {
    this.writes++;
    if (this.pos === 0) return;
    let off = 0;
    while (off < this.pos) off += writeSync(this.fd, this.buf, off, this.pos - off);
    this.bytes += this.pos;
    this.pos = 0;
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

  /** `shared`: the sinks of one trace's variants may share one, to copy the DMA rows they have in common. */
  constructor(dir: string, name: string, private readonly shared?: SharedDmaLine) {
    this.files = {
      ste: new LineFile(join(dir, `${name}.ste.csv`), HEADERS.ste),
      faults: new LineFile(join(dir, `${name}.faults.csv`), HEADERS.faults),
      dma: new LineFile(join(dir, `${name}.dma.csv`), HEADERS.dma),
    };
  }

  ste(r: SteRow): void { this.files.ste.line(steLine(r)); }
  fault(r: FaultRow): void { this.files.faults.line(faultLine(r)); }
  dma(r: DmaStreamRow): void { this.files.dma.dma(r, this.shared); }

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
  streams(tag = '', shared?: SharedDmaLine): SpoolStreams {
    return new SpoolStreams(this.path, `${tag}${this.n++}`, shared);
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
