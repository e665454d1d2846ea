/**
 * Streams written to files as they are produced, so that a replay's memory
 * does not grow with its output: the canonical CSV text of each stream goes
 * through a small buffer into a file of a spool directory, and the commands
 * then copy, compare or print those files.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DmaOutcome, DmaStreamRow, FaultRow, SteRow, StreamName, StreamSink } from '../replay/streams.js';
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

/** Four hex digits of every 16-bit value, as the little-endian 32-bit word of their four ASCII bytes. */
const HEX4 = (() => {
  const t = new Uint32Array(65536);
  const d = Buffer.from('0123456789abcdef');
  for (let i = 0; i < 65536; i++) t[i] = d[(i >> 12) & 15]! | (d[(i >> 8) & 15]! << 8) | (d[(i >> 4) & 15]! << 16) | (d[i & 15]! << 24);
  return t;
})();

/**
 * A run of bytes to copy into a line (a cell and its commas), kept as
 * little-endian 32-bit words and the bytes after the last whole word:
 * copying a dozen bytes word by word through a DataView costs a fraction of
 * a TypedArray.set call.
 */
class Segment {
  readonly words: Uint32Array;
  readonly tail: Uint8Array;
  readonly length: number;

  constructor(text: string) {
    const bytes = Buffer.from(text);
    this.length = bytes.length;
    const whole = bytes.length >> 2;
    this.words = new Uint32Array(whole);
    for (let i = 0; i < whole; i++) this.words[i] = bytes.readUInt32LE(4 * i);
    this.tail = new Uint8Array(bytes.subarray(4 * whole));
  }

  /** Write at `at` (the DataView and the byte array are the same buffer); returns the new end. */
  put(dv: DataView, b: Uint8Array, at: number): number {
    const w = this.words;
    let p = at;
    for (let i = 0; i < w.length; i++, p += 4) dv.setUint32(p, w[i]!, true);
    const t = this.tail;
    for (let i = 0; i < t.length; i++) b[p++] = t[i]!;
    return p;
  }
}

/** 0x and 16 hex digits. */
function putHex64(dv: DataView, at: number, v: bigint): number {
  dv.setUint16(at, 0x7830, true); // "0x"
  let hi: number;
  let lo: number;
  const n = Number(v);
  if (n < 9007199254740992) {
    // Below 2^53 the conversion is exact (and a value at or above 2^53 never converts to less).
    hi = Math.floor(n / 0x1_0000_0000);
    lo = n >>> 0;
  } else {
    hi = Number(v >> 32n);
    lo = Number(v & 0xffff_ffffn);
  }
  dv.setUint32(at + 2, HEX4[hi >>> 16]!, true);
  dv.setUint32(at + 6, HEX4[hi & 0xffff]!, true);
  dv.setUint32(at + 10, HEX4[lo >>> 16]!, true);
  dv.setUint32(at + 14, HEX4[lo & 0xffff]!, true);
  return at + 18;
}

/** Rows of the first variant's DMA stream kept for the other variants to compare theirs with. */
const RING = 1024;

/**
 * The DMA stream of a trace's first variant (the leader), shared with the
 * sinks of its other variants.  Under several variants most DMA rows are the
 * same: a variant whose DMA stream is, so far, row for row the leader's
 * writes nothing; only when a row differs does it copy the leader's rows
 * before it into its own file and go on alone, and a stream that stayed the
 * same to the end is the leader's file.  The streams' bytes are those each
 * variant would have written.
 */
export class SharedDma {
  leader: LineFile | undefined;
  private readonly ring: (LeaderRow | undefined)[] = new Array<LeaderRow | undefined>(RING);
  /** DMA rows the leader has written. */
  count = 0;
  /** Sinks that started out following the leader (none: the leader keeps no rows). */
  followers = 0;

  push(r: LeaderRow): void {
    if (this.followers > 0) this.ring[this.count & (RING - 1)] = r;
    this.count++;
  }

  /** The leader's row `i` (0-based), while it is still kept. */
  rowAt(i: number): LeaderRow | undefined {
    return i < this.count && i >= this.count - RING ? this.ring[i & (RING - 1)] : undefined;
  }
}

/** A row of the leader's DMA stream; `delta` (pa - addr) and `deltaNum` when the translation memo gave it. */
type LeaderRow = DmaStreamRow & { readonly delta?: bigint | undefined; readonly deltaNum?: number | undefined };

/** Whether a leader's row has output address addr + delta (its own addr being the same). */
function sameOffset(k: LeaderRow, addr: bigint, delta: bigint, deltaNum: number): boolean {
  if (k.deltaNum !== undefined && !Number.isNaN(k.deltaNum) && !Number.isNaN(deltaNum)) return k.deltaNum === deltaNum;
  return k.delta !== undefined ? k.delta === delta : k.pa === addr + delta;
}

function sameDmaRow(k: DmaStreamRow, r: DmaStreamRow): boolean {
  return k.line === r.line && k.addr === r.addr && k.pa === r.pa && k.outcome === r.outcome && k.detail === r.detail
    && k.sid === r.sid && k.ssid === r.ssid && k.access === r.access;
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
  /** The same memory as a Buffer, to encode strings into, and as a DataView, to write words into. */
  private readonly bufText = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private readonly dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private pos = 0;
  bytes = 0;
  // Parts of the previous DMA row, as bytes: its line number's digits, and the segments
  // `,<sid>,<ssid>,`, `,<access>,<outcome>,` and `,<detail>\n` (the cells between them are the two addresses).
  private lineNo = -1;
  private readonly lineDigits = new Uint8Array(20);
  private lineLen = 0;
  private sid = -1;
  private ssid: number | undefined = -1;
  private sidSeg = new Segment('');
  private access = '';
  private outcome = '';
  private midSeg = new Segment('');
  private readonly midSegs = new Map<string, Segment>();
  private detail: string | undefined;
  private tailSeg = new Segment('');

  constructor(readonly path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.line(header);
  }

  /** A line given as text (the LF is added). */
  line(s: string): void {
    if (this.pos + 3 * s.length + 1 > this.buf.length) this.flush();
    if (3 * s.length + 1 > this.buf.length) {
      this.bytes += writeSync(this.fd, s + '\n');
      return;
    }
    this.pos += this.bufText.write(s, this.pos, 'utf8');
    this.buf[this.pos++] = 0x0a;
  }

  /** A row of the DMA stream: the bytes of dmaLine(r) and an LF. */
  dma(r: DmaStreamRow): void {
    if (r.detail !== this.detail) {
      this.detail = r.detail;
      this.tailSeg = new Segment(`,${cell(r.detail)}\n`);
    }
    if (this.pos + LINE_ROOM + this.tailSeg.length > this.buf.length) this.flush();
    if (LINE_ROOM + this.tailSeg.length > this.buf.length) {
      this.line(dmaLine(r));
      return;
    }
    const b = this.buf;
    const start = this.pos;
    if (r.sid !== this.sid || r.ssid !== this.ssid) {
      this.sid = r.sid;
      this.ssid = r.ssid;
      this.sidSeg = new Segment(`,${id(r.sid)},${id(r.ssid)},`);
    }
    if (r.access !== this.access || r.outcome !== this.outcome) {
      this.access = r.access;
      this.outcome = r.outcome;
      const key = `${r.access},${r.outcome}`;
      let seg = this.midSegs.get(key);
      if (!seg) {
        seg = new Segment(`,${cell(r.access)},${cell(r.outcome)},`);
        this.midSegs.set(key, seg);
      }
      this.midSeg = seg;
    }
    const dv = this.dv;
    let p = this.putLine(b, start, r.line);
    p = this.sidSeg.put(dv, b, p);
    p = putHex64(dv, p, r.addr);
    p = this.midSeg.put(dv, b, p);
    if (r.pa !== undefined) p = putHex64(dv, p, r.pa);
    this.pos = this.tailSeg.put(dv, b, p);
  }

  /** The decimal digits of a line number; a line number one above the previous is its digits plus one. */
  private putLine(b: Uint8Array, at: number, n: number): number {
    const d = this.lineDigits;
    if (n !== this.lineNo) {
      if (n === this.lineNo + 1) {
        let i = this.lineLen - 1;
        while (i >= 0 && d[i] === 0x39) d[i--] = 0x30;
        if (i >= 0) d[i]!++;
        else {
          d.copyWithin(1, 0, this.lineLen);
          d[0] = 0x31;
          this.lineLen++;
        }
      } else {
        const s = String(n);
        for (let i = 0; i < s.length; i++) d[i] = s.charCodeAt(i);
        this.lineLen = s.length;
      }
      this.lineNo = n;
    }
    let p = at;
    for (let i = 0; i < this.lineLen; i++) b[p++] = d[i]!;
    return p;
  }

  /**
   * Start the file over as the first `lines` lines of another file (a
   * variant's DMA stream leaving the leader's: the rows they had in common).
   */
  startAsPrefixOf(other: string, lines: number): void {
    this.pos = 0;
    ftruncateSync(this.fd, 0);
    this.bytes = 0;
    let left = lines;
    forEachBlock(other, (block) => {
      if (left === 0) return;
      let end = 0;
      while (left > 0) {
        const lf = block.indexOf(0x0a, end);
        if (lf < 0) { end = block.length; break; }
        end = lf + 1;
        left--;
      }
      this.bytes += writeSync(this.fd, block, 0, end);
    });
  }

  flush(): void {
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
  /** This sink's DMA rows are the leader's so far, and not written (see SharedDma). */
  private following = false;
  private followed = 0;

  /** `shared`: the sinks of one trace's variants share one, and write once the DMA rows they have in common. */
  constructor(dir: string, name: string, private readonly shared?: SharedDma) {
    this.files = {
      ste: new LineFile(join(dir, `${name}.ste.csv`), HEADERS.ste),
      faults: new LineFile(join(dir, `${name}.faults.csv`), HEADERS.faults),
      dma: new LineFile(join(dir, `${name}.dma.csv`), HEADERS.dma),
    };
    if (shared) {
      if (shared.leader) {
        this.following = true;
        shared.followers++;
      } else {
        shared.leader = this.files.dma;
      }
    }
  }

  ste(r: SteRow): void { this.files.ste.line(steLine(r)); }
  fault(r: FaultRow): void { this.files.faults.line(faultLine(r)); }

  dmaMemo(line: number, sid: number, ssid: number | undefined, addr: bigint, access: string, outcome: DmaOutcome, delta: bigint, deltaNum: number, detail: string): void {
    if (this.following) {
      // The common case under several variants: the same row as the leader's, found without making it.
      // (The same address is the same BigInt object, the row's; the offsets compare as numbers when exact.)
      const k = this.shared!.rowAt(this.followed);
      if (k !== undefined && k.line === line && k.outcome === outcome && k.detail === detail && k.sid === sid && k.ssid === ssid
        && k.access === access && (k.addr === addr) && sameOffset(k, addr, delta, deltaNum)) {
        this.followed++;
        return;
      }
    }
    const r: LeaderRow = { line, sid, ssid, addr, access, outcome, pa: addr + delta, detail, delta, deltaNum };
    this.dma(r);
  }

  dma(r: DmaStreamRow): void {
    const shared = this.shared;
    if (this.following) {
      const k = shared!.rowAt(this.followed);
      if (k !== undefined && sameDmaRow(k, r)) {
        this.followed++;
        return;
      }
      this.leave();
    }
    this.files.dma.dma(r);
    if (shared && shared.leader === this.files.dma) shared.push(r);
  }

  /** Stop following the leader: this stream's file gets the rows they had in common (and the header). */
  private leave(): void {
    this.following = false;
    const leader = this.shared!.leader!;
    leader.flush();
    this.files.dma.startAsPrefixOf(leader.path, this.followed + 1);
  }

  /** Write out what is buffered and close the files; the streams are then read through the SpoolFiles. */
  close(): SpoolFiles {
    let dma = this.files.dma.path;
    if (this.following) {
      if (this.followed === this.shared!.count) {
        // The same DMA stream as the leader's to the end: its file is this stream's.
        this.shared!.leader!.flush();
        dma = this.shared!.leader!.path;
      } else {
        this.leave();
      }
    }
    for (const f of Object.values(this.files)) f.close();
    return new SpoolFiles({ ste: this.files.ste.path, faults: this.files.faults.path, dma });
  }

  /** Close and delete the files (a replay that failed). */
  discard(): void {
    for (const f of Object.values(this.files)) {
      f.close();
      rmSync(f.path, { force: true });
    }
  }

  get(stream: StreamName): string {
    if (stream === 'dma' && this.following) this.leave();
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

/** Spool directories not yet removed (a signal handler removes them: see removeAllSpools). */
const LIVE = new Set<string>();

/**
 * Remove every spool directory of this process: for the CLI's handler of
 * SIGINT/SIGTERM/SIGHUP, so that an interrupted replay of a large trace does
 * not leave its streams in the temporary directory.
 */
export function removeAllSpools(): void {
  for (const p of LIVE) rmSync(p, { recursive: true, force: true });
  LIVE.clear();
}

/** Run `fn` with a fresh spool directory, removed afterwards whatever happens. */
export async function withSpool<T>(fn: (spool: SpoolDir) => Promise<T>): Promise<T> {
  const spool = new SpoolDir();
  try {
    return await fn(spool);
  } finally {
    spool.remove();
  }
}

/** A temporary directory for spooled streams, removed by `remove` (also after an error). */
export class SpoolDir {
  readonly path: string;
  private n = 0;

  /** A new temporary directory, or (in a worker thread) the one the main thread made. */
  constructor(existing?: string) {
    this.path = existing ?? mkdtempSync(join(tmpdir(), 'smmu-replay-'));
    if (!existing) LIVE.add(this.path);
  }

  /** A fresh SpoolStreams for one replay (trace x variant); `tag` keeps names apart between threads. */
  streams(tag = '', shared?: SharedDma): SpoolStreams {
    return new SpoolStreams(this.path, `${tag}${this.n++}`, shared);
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
    LIVE.delete(this.path);
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
