/**
 * Guest-memory snapshots of a QEMU capture: what memory held at a known
 * point of the trace log.
 *
 * A snapshot is either a sparse text dump (`mem-<name>.txt[.gz]`: regions
 * and their non-zero 64-byte lines, docs/recording.md) or a raw image of
 * guest RAM as the monitor's `pmemsave` writes it.  Either way the importer
 * asks one question: the 64-bit little-endian words at an address, or
 * "unknown" when the snapshot does not cover it.  Nothing here guesses: an
 * address outside every dumped region is unknown, not zero.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { TraceError } from '../format.js';

export interface SnapshotMemory {
  /** `count` little-endian qwords from `addr` (8-byte aligned), or undefined if any byte is not covered. */
  qwords(addr: bigint, count: number): bigint[] | undefined;
}

export interface SnapshotInfo {
  readonly name: string;
  /** Size of the trace log in bytes when the VM was stopped: the first log byte after the snapshot point. */
  readonly traceOffset: number;
  /** The RAM image file (pmemsave), its guest-physical base and size, if snapshots.json names one. */
  readonly ram: { readonly file: string; readonly base: bigint; readonly size: bigint } | undefined;
}

/** Parse snapshots.json (the harness's list of snapshots, in order). */
export function parseSnapshotsJson(text: string, file: string): SnapshotInfo[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TraceError(file, 1, `not valid JSON (${(e as Error).message})`);
  }
  const list = (doc as { snapshots?: unknown }).snapshots;
  if (!Array.isArray(list)) throw new TraceError(file, 1, "no 'snapshots' array");
  const out: SnapshotInfo[] = [];
  list.forEach((s: unknown, i: number) => {
    const o = s as Record<string, unknown>;
    const what = `snapshots[${i}]`;
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(o.name)) throw new TraceError(file, 1, `${what}: 'name' must be a plain file-name word`);
    if (typeof o.trace_offset !== 'number' || !Number.isSafeInteger(o.trace_offset) || o.trace_offset < 0) {
      throw new TraceError(file, 1, `${what} (${o.name}): 'trace_offset' must be a byte offset`);
    }
    let ram: SnapshotInfo['ram'];
    const r = o.ram as Record<string, unknown> | undefined;
    if (r && typeof r.file === 'string' && typeof r.base === 'number' && typeof r.size === 'number') {
      ram = { file: r.file, base: BigInt(r.base), size: BigInt(r.size) };
    }
    const prev = out[out.length - 1];
    if (prev && o.trace_offset < prev.traceOffset) throw new TraceError(file, 1, `${what} (${o.name}): trace_offset ${o.trace_offset} is before the previous snapshot's`);
    if (out.some((x) => x.name === o.name)) throw new TraceError(file, 1, `${what}: snapshot name '${o.name}' appears twice`);
    out.push({ name: o.name, traceOffset: o.trace_offset, ram });
  });
  return out;
}

/**
 * A sparse dump: `# region <name> base=0x.. size=0x..` headers and lines
 * `<PA, 16 hex digits>: 0x<qword> x8` (64 bytes at PA, little-endian
 * qwords); inside a region a missing line is zero, outside every region
 * memory is unknown.
 */
export class SparseDump implements SnapshotMemory {
  private readonly regions: { base: bigint; end: bigint }[] = [];
  private readonly lines = new Map<bigint, bigint[]>();

  constructor(text: string, file: string) {
    const rows = text.split('\n');
    let region: { base: bigint; end: bigint } | undefined;
    rows.forEach((raw, i) => {
      const l = raw.replace(/\r$/, '');
      const line = i + 1;
      if (l === '' && i === rows.length - 1) return;
      const h = /^# region (\S+) base=(0x[0-9a-fA-F]+) size=(0x[0-9a-fA-F]+)$/.exec(l);
      if (h) {
        region = { base: BigInt(h[2]!), end: BigInt(h[2]!) + BigInt(h[3]!) };
        this.regions.push(region);
        return;
      }
      if (l.startsWith('#')) return;
      const d = /^([0-9a-fA-F]{16}): ((?:0x[0-9a-fA-F]{16} ?){8})$/.exec(l);
      if (!d) throw new TraceError(file, line, `not a region header or a data line ('${l.slice(0, 40)}')`);
      const pa = BigInt('0x' + d[1]!);
      if (pa % 64n !== 0n) throw new TraceError(file, line, `data line address 0x${pa.toString(16)} is not 64-byte aligned`);
      if (!region || pa < region.base || pa + 64n > region.end) throw new TraceError(file, line, `data line 0x${pa.toString(16)} is outside the region declared before it`);
      this.lines.set(pa, d[2]!.trim().split(/ +/).map((x) => BigInt(x)));
    });
  }

  qwords(addr: bigint, count: number): bigint[] | undefined {
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const a = addr + BigInt(i) * 8n;
      if (!this.regions.some((r) => a >= r.base && a + 8n <= r.end)) return undefined;
      const l = this.lines.get(a & ~63n);
      out.push(l ? l[Number((a & 63n) / 8n)]! : 0n);
    }
    return out;
  }
}

/** A raw RAM image (pmemsave of [base, base+size)), read on demand. */
export class RamImage implements SnapshotMemory {
  constructor(private readonly path: string, private readonly base: bigint, private readonly size: bigint) {}

  qwords(addr: bigint, count: number): bigint[] | undefined {
    const len = BigInt(count * 8);
    if (addr < this.base || addr + len > this.base + this.size) return undefined;
    const buf = Buffer.alloc(count * 8);
    const fd = openSync(this.path, 'r');
    try {
      const n = readSync(fd, buf, 0, buf.length, Number(addr - this.base));
      if (n !== buf.length) return undefined;
    } finally {
      closeSync(fd);
    }
    const out: bigint[] = [];
    for (let i = 0; i < count; i++) out.push(buf.readBigUInt64LE(i * 8));
    return out;
  }
}
