/**
 * The benchmark's inputs, generated the same way on every run: fixed
 * seeds, a small linear congruential generator, rows written straight to a
 * file (the 10,000,000-row trace is never held in memory).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** A 31-bit LCG (the classic ANSI C constants): deterministic and fast; quality is not the point. */
export class Lcg {
  constructor(private x: number) {}
  next(): number {
    this.x = (Math.imul(this.x, 1103515245) + 12345) & 0x7fffffff;
    return this.x;
  }
  /** 0 .. n-1 (n below 2^31). */
  below(n: number): number {
    // Two draws for 30 useful bits (the low bits of an LCG are weak).
    return Math.floor(((this.next() >>> 8) * 2 ** 23 + (this.next() >>> 8)) / 2 ** 46 * n);
  }
}

/** Rows to a file through a buffer. */
export class RowWriter {
  private readonly fd: number;
  private buf = '';
  rows = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  row(s: string): void {
    this.buf += s + '\n';
    this.rows++;
    if (this.buf.length >= 1 << 20) this.flush();
  }

  comment(s: string): void {
    this.buf += `# ${s}\n`;
  }

  private flush(): void {
    writeSync(this.fd, this.buf);
    this.buf = '';
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

/** The driver set-up of the DMA traces: one stage-1 domain, StreamID 0x10, `size` bytes of IOVA 0x1000_0000 mapped to `pa`. */
function s1Setup(w: RowWriter, size: number, pa: bigint): void {
  w.row('op,probe');
  w.row('op,domain_alloc,id=d,type=s1');
  w.row('op,attach,sid=0x10,domain=d');
  w.row(`op,map,domain=d,iova=0x1000_0000,pa=${hex(pa)},size=${hex(size)},prot=rw`);
}

/**
 * Measurement 1 and 4: `dmas` DMA rows that hit the TLB: reads and writes
 * (no data) to 16 pages of a 64 KiB mapping (IOVA 0x1000_0000 -> PA
 * 0x4000_0000, one domain, linux-current and every other variant alike).
 */
export function dmaTrace(path: string, dmas: number, seed = 1): number {
  const w = new RowWriter(path);
  w.comment(`bench: ${dmas} DMAs hitting the TLB (16 pages), seed ${seed}`);
  s1Setup(w, 0x1_0000, 0x4000_0000n);
  const r = new Lcg(seed);
  for (let i = 0; i < dmas; i++) {
    const x = r.next();
    const addr = 0x1000_0000 + (x % 16) * 4096 + ((x >>> 8) & 0xff8);
    w.row(`dma,0x10,${hex(addr)},${(x & 0x10000) !== 0 ? 'w' : 'r'}`);
  }
  w.close();
  return w.rows;
}

/**
 * Measurement 2, stage 1: 1 GiB of IOVA (0x4000_0000) mapped with 4 KiB
 * pages (the PA is offset by 4 KiB, so no block fits), then `dmas` reads at
 * random addresses in it.  With dmas = 0, the set-up alone.
 */
export function tlbMissS1Trace(path: string, dmas: number, seed = 2): number {
  const w = new RowWriter(path);
  w.comment(`bench: 1 GiB of 4 KiB stage-1 pages, ${dmas} DMAs at random addresses, seed ${seed}`);
  w.row('op,probe');
  w.row('op,domain_alloc,id=d,type=s1');
  w.row('op,attach,sid=0x10,domain=d');
  w.row('op,map,domain=d,iova=0x4000_0000,pa=0x2_0000_1000,size=0x4000_0000,prot=rw');
  const r = new Lcg(seed);
  for (let i = 0; i < dmas; i++) w.row(`dma,0x10,${hex(0x4000_0000 + r.below(0x4000_0000))},r`);
  w.close();
  return w.rows;
}

/**
 * Measurement 2, nested: a nested domain whose stage 2 maps guest IPA
 * 0x4000_0000 (2 GiB, 1 GiB blocks) to PA 0x8000_0000, and a guest stage 1
 * (CD at IPA 0x4000_0000, written by the trace like a guest's tables) mapping
 * VA 0x4000_0000 (1 GiB) with 4 KiB pages to IPA 0x8000_0000; then `dmas`
 * reads at random VAs.  Each TLB miss is a stage-1 walk whose every
 * descriptor fetch is itself translated by stage 2.
 */
export function tlbMissNestedTrace(path: string, dmas: number, seed = 3): number {
  const w = new RowWriter(path);
  w.comment(`bench: nested, 1 GiB of 4 KiB guest stage-1 pages over stage-2 blocks, ${dmas} DMAs at random VAs, seed ${seed}`);
  w.row('op,probe');
  w.row('op,domain_alloc,id=vm,type=nested,ias=40');
  w.row('op,attach,sid=0x10,domain=vm');
  w.row('op,map,domain=vm,iova=0x4000_0000,pa=0x8000_0000,size=0x8000_0000,prot=rw');
  const ipaToPa = (ipa: bigint): bigint => ipa + 0x4000_0000n;
  // The guest's CD at IPA 0x4000_0000: T0SZ=16 TG0=4K EPD1=1 IPS=40 AA64 R A ASET ASID=3, TTB0 = IPA 0x4000_1000.
  w.row(`mem_write,${hex(ipaToPa(0x4000_0000n))},0x0003e202c0000010`);
  w.row(`mem_write,${hex(ipaToPa(0x4000_0008n))},0x0000000040001000`);
  // L0 at IPA 0x4000_1000, L1 at 0x4000_2000, L2 at 0x4000_3000, 512 L3 tables from 0x4000_4000.
  w.row(`mem_write,${hex(ipaToPa(0x4000_1000n))},0x0000000040002003`);
  w.row(`mem_write,${hex(ipaToPa(0x4000_2000n + 8n))},0x0000000040003003`); // L1[1]: VA 0x4000_0000..0x7fff_ffff
  for (let i = 0n; i < 512n; i++) {
    const l3 = 0x4000_4000n + i * 0x1000n;
    w.row(`mem_write,${hex(ipaToPa(0x4000_3000n + i * 8n))},${hex(l3 | 3n)}`);
    for (let j = 0n; j < 512n; j++) {
      // Page: OA = IPA 0x8000_0000 + (i * 512 + j) * 4 KiB; AF, SH=ISH, AP[1], nG; type 0b11.
      const oa = 0x8000_0000n + (i * 512n + j) * 0x1000n;
      w.row(`mem_write,${hex(ipaToPa(l3 + j * 8n))},${hex(oa | 0xf43n)}`);
    }
  }
  w.row('op,set_pasid_table,domain=vm,config=translate,base=0x4000_0000');
  const r = new Lcg(seed);
  for (let i = 0; i < dmas; i++) w.row(`dma,0x10,${hex(0x4000_0000 + r.below(0x4000_0000))},r`);
  w.close();
  return w.rows;
}

/**
 * Measurement 3: `ops` driver operations: probe, 16 stage-1 domains attached
 * to StreamIDs 0x10-0x1f, then map (4 or 64 KiB), unmap (of something
 * mapped) and re-attach (a StreamID moves to another domain) in the
 * proportions 45 : 45 : 10.
 */
export function driverOpsTrace(path: string, ops: number, seed = 4): number {
  const w = new RowWriter(path);
  w.comment(`bench: ${ops} driver operations (map, unmap, attach), seed ${seed}`);
  const DOMAINS = 16;
  w.row('op,probe');
  for (let d = 0; d < DOMAINS; d++) w.row(`op,domain_alloc,id=d${d},type=s1`);
  for (let d = 0; d < DOMAINS; d++) w.row(`op,attach,sid=${hex(0x10 + d)},domain=d${d}`);
  const r = new Lcg(seed);
  // Per domain, the mapped 64 KiB slots (IOVA 0x1000_0000 + slot * 64 KiB) and their sizes.
  const mapped: Map<number, number>[] = Array.from({ length: DOMAINS }, () => new Map());
  let pa = 0x2_0000_0000n;
  while (w.rows < ops) {
    const d = r.below(DOMAINS);
    const roll = r.below(100);
    const m = mapped[d]!;
    if (roll < 10) {
      w.row(`op,attach,sid=${hex(0x10 + r.below(DOMAINS))},domain=d${d}`);
    } else if (roll < 55 || m.size === 0) {
      let slot = r.below(4096);
      while (m.has(slot)) slot = (slot + 1) % 4096;
      const size = r.below(2) === 0 ? 0x1000 : 0x1_0000;
      m.set(slot, size);
      w.row(`op,map,domain=d${d},iova=${hex(0x1000_0000 + slot * 0x1_0000)},pa=${hex(pa)},size=${hex(size)},prot=rw`);
      pa += 0x1_0000n;
    } else {
      const slots = [...m.keys()];
      const slot = slots[r.below(slots.length)]!;
      w.row(`op,unmap,domain=d${d},iova=${hex(0x1000_0000 + slot * 0x1_0000)},size=${hex(m.get(slot)!)}`);
      m.delete(slot);
    }
  }
  w.close();
  return w.rows;
}
