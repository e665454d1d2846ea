/**
 * Driving QEMU's SMMUv3 through qtest: PCI set-up of the edu DMA engines,
 * register and memory accesses, commands published the way software does,
 * DMA through an edu, and reading back what QEMU did (its trace lines and
 * its event queue).
 */
import { encodeCommand } from '../model/commands.js';
import type { QemuInstance } from './process.js';
import { QtestError, type QtestClient } from './qtest.js';
import { ECAM_HIGH, ECAM_LOW, EDU_VENDOR_DEVICE, SMMU_BASE, type EduPlacement, type Topology } from './machine.js';
import { newQueueEntries, type QueueView } from './queues.js';

export const LOG_NAME = 'qemu.log';

/** What QEMU reported for one DMA, from its trace lines. */
export interface QemuTranslation {
  /** smmuv3_translate_* / "translation failed" lines seen during the DMA, in order. */
  readonly lines: readonly string[];
}

export interface QemuDmaResult {
  readonly lines: readonly string[];
  /** Event records (4 doublewords each) that appeared in the event queue during the DMA. */
  readonly records: readonly (readonly bigint[])[];
  readonly gerror: number;
  readonly eventqProd: number;
}

const EDU = { SRC: 0x80n, DST: 0x88n, COUNT: 0x90n, CMD: 0x98n } as const;
/** edu's DMA buffer, in its own DMA address space. */
const EDU_BUFFER = 0x40000n;
const OFF = { EVENTQ_BASE: 0xa0n, EVENTQ_PROD: 0x100a8n, GERROR: 0x60n, CMDQ_BASE: 0x90n, CMDQ_PROD: 0x98n, CMDQ_CONS: 0x9cn } as const;

export class QemuSmmu {
  private readonly q: QtestClient;
  private ecam = ECAM_HIGH;
  private readonly edus = new Map<number, EduPlacement>();
  private evtqSeen: number | undefined;
  /** DMAs issued, edu status polls, and the time spent in dma() (issue, completion, reading back), for rates. */
  dmas = 0;
  polls = 0;
  dmaMs = 0;

  constructor(private readonly inst: QemuInstance, private readonly dmaPollLimit = 10000) {
    this.q = inst.qtest;
  }

  get qtest(): QtestClient {
    return this.q;
  }

  private cfg(bus: number, devfn: number, off: number): bigint {
    return this.ecam + (BigInt(bus) << 20n) + (BigInt(devfn) << 12n) + BigInt(off);
  }

  /** Program bus numbers, bridge windows, BARs and COMMAND (MEM|BME) for every device of the topology. */
  async setupPci(t: Topology): Promise<void> {
    // The host bridge (1b36:0008) answers at the high ECAM with cortex-a57; probe the low one too.
    if ((await this.q.readl(ECAM_HIGH)) !== 0x0008_1b36n) {
      if ((await this.q.readl(ECAM_LOW)) !== 0x0008_1b36n) throw new QtestError('no PCIe host bridge found at either ECAM window');
      this.ecam = ECAM_LOW;
    }
    const cmds: string[] = [];
    const w = (a: bigint, v: bigint) => cmds.push(`writel 0x${a.toString(16)} 0x${v.toString(16)}`);
    for (const p of t.ports) {
      // Primary 0, secondary = subordinate = the bus the StreamIDs need.
      w(this.cfg(0, p.devfn, 0x18), BigInt(p.secondary) << 8n | BigInt(p.secondary) << 16n);
      w(this.cfg(0, p.devfn, 0x20), ((p.memBase >> 16n) & 0xfff0n) | (((p.memLimit >> 16n) & 0xfff0n) << 16n));
      w(this.cfg(0, p.devfn, 0x24), 0x0000_fff0n); // prefetchable window off (base > limit)
      w(this.cfg(0, p.devfn, 0x04), 0x6n);
    }
    await this.q.sendAll(cmds.splice(0));
    for (const e of t.edus) {
      const id = await this.q.readl(this.cfg(e.bus, e.devfn, 0));
      if (id !== EDU_VENDOR_DEVICE) throw new QtestError(`no edu at ${e.bus.toString(16)}:${(e.devfn >> 3).toString(16)}.${e.devfn & 7} (StreamID 0x${e.sid.toString(16)}): ID 0x${id.toString(16)}`);
      w(this.cfg(e.bus, e.devfn, 0x10), e.bar);
      w(this.cfg(e.bus, e.devfn, 0x04), 0x6n);
      this.edus.set(e.sid, e);
    }
    await this.q.sendAll(cmds);
  }

  async mmioWrite(offset: number, value: bigint, size: 4 | 8): Promise<void> {
    const a = SMMU_BASE + BigInt(offset);
    await (size === 8 ? this.q.writeq(a, value) : this.q.writel(a, value));
  }

  async mmioRead(offset: number, size: 4 | 8): Promise<bigint> {
    const a = SMMU_BASE + BigInt(offset);
    return size === 8 ? this.q.readq(a) : this.q.readl(a);
  }

  async memWrite(addr: bigint, size: 1 | 2 | 4 | 8, value: bigint): Promise<void> {
    switch (size) {
      case 1: return this.q.writeb(addr, value);
      case 2: return this.q.writew(addr, value);
      case 4: return this.q.writel(addr, value);
      case 8: return this.q.writeq(addr, value);
    }
  }

  /**
   * Put a command in the next free slot of QEMU's command queue, as software
   * does (from QEMU's own CMDQ_BASE/PROD/CONS), and publish it with a
   * CMDQ_PROD write; a full queue drops it.  Returns false when dropped.
   */
  async command(words: readonly [bigint, bigint], cmdqs: number): Promise<boolean> {
    const [base, prod, cons] = await Promise.all([
      this.q.readq(SMMU_BASE + OFF.CMDQ_BASE), this.q.readl(SMMU_BASE + OFF.CMDQ_PROD), this.q.readl(SMMU_BASE + OFF.CMDQ_CONS),
    ]);
    const log2 = Math.min(Number(base & 0x1fn), cmdqs);
    const view: QueueView = { base, log2, entryBytes: 16 };
    const p = Number(prod) & 0xfffff;
    const c = Number(cons) & 0xfffff;
    const mask = (1 << (log2 + 1)) - 1;
    if (((p ^ c) & mask) === 1 << log2) return false; // full: same index, wrap bits differ
    const slot = slotAddress(view, p);
    await this.q.sendAll([
      `writeq 0x${slot.toString(16)} 0x${words[0].toString(16)}`,
      `writeq 0x${(slot + 8n).toString(16)} 0x${words[1].toString(16)}`,
      `writel 0x${(SMMU_BASE + OFF.CMDQ_PROD).toString(16)} 0x${(((p & mask) + 1) & mask).toString(16)}`,
    ]);
    return true;
  }

  /** Start following the event queue from its current producer index. */
  async syncEventQueue(): Promise<void> {
    this.evtqSeen = Number(await this.q.readl(SMMU_BASE + OFF.EVENTQ_PROD));
  }

  hasEdu(sid: number): boolean {
    return this.edus.has(sid);
  }

  /**
   * One DMA of `size` bytes (at most 4096, inside one 4 KiB page) by the edu
   * with this StreamID, then the trace lines it produced, the event records
   * it added and GERROR.
   */
  async dma(sid: number, iova: bigint, size: number, write: boolean, eventqs: number): Promise<QemuDmaResult> {
    const e = this.edus.get(sid);
    if (!e) throw new QtestError(`no DMA engine for StreamID 0x${sid.toString(16)}`);
    if (size < 1 || size > 4096) throw new QtestError(`edu DMA size ${size} outside 1..4096`);
    const t0 = performance.now();
    try {
      return await this.dmaTimed(e, iova, size, write, eventqs);
    } finally {
      this.dmaMs += performance.now() - t0;
    }
  }

  private async dmaTimed(e: EduPlacement, iova: bigint, size: number, write: boolean, eventqs: number): Promise<QemuDmaResult> {
    const sid = e.sid;
    this.inst.readLog(LOG_NAME); // drop anything not caused by this DMA
    if (this.evtqSeen === undefined) await this.syncEventQueue();
    // Direction bit 1: 1 = edu buffer -> bus address (a device write), 0 = bus address -> buffer.
    const [src, dst] = write ? [EDU_BUFFER, iova] : [iova, EDU_BUFFER];
    await this.q.sendAll([
      `writeq 0x${(e.bar + EDU.SRC).toString(16)} 0x${src.toString(16)}`,
      `writeq 0x${(e.bar + EDU.DST).toString(16)} 0x${dst.toString(16)}`,
      `writeq 0x${(e.bar + EDU.COUNT).toString(16)} 0x${size.toString(16)}`,
      `writeq 0x${(e.bar + EDU.CMD).toString(16)} 0x${(write ? 3 : 1).toString(16)}`,
    ]);
    this.dmas++;
    for (let i = 0; ; i++) {
      this.polls++;
      if (((await this.q.readl(e.bar + EDU.CMD)) & 1n) === 0n) break;
      if (i >= this.dmaPollLimit) throw new QtestError(`the edu DMA of StreamID 0x${sid.toString(16)} did not complete after ${this.dmaPollLimit} polls`);
    }
    const [prod, gerror] = await Promise.all([this.q.readl(SMMU_BASE + OFF.EVENTQ_PROD), this.q.readl(SMMU_BASE + OFF.GERROR)]);
    const lines = this.inst.readLog(LOG_NAME);
    const records: bigint[][] = [];
    const from = this.evtqSeen!;
    this.evtqSeen = Number(prod);
    if ((Number(prod) & 0xfffff) !== (from & 0xfffff)) {
      const base = await this.q.readq(SMMU_BASE + OFF.EVENTQ_BASE);
      const view: QueueView = { base, log2: Math.min(Number(base & 0x1fn), eventqs), entryBytes: 32 };
      for (const i of newQueueEntries(from, Number(prod), view.log2)) {
        const bytes = await this.q.read(slotAddress(view, i), 32);
        const dv = new DataView(bytes.buffer, bytes.byteOffset, 32);
        records.push([0, 1, 2, 3].map((k) => dv.getBigUint64(8 * k, true)));
      }
    }
    return { lines, records, gerror: Number(gerror), eventqProd: Number(prod) };
  }

  /** Write bytes at a physical address (the data of a DMA write, as the model stored it). */
  async writeBytes(pa: bigint, bytes: Uint8Array): Promise<void> {
    await this.q.write(pa, bytes);
  }
}

/** Address of queue entry `index` (with or without its wrap bit), the way software computes it. */
export function slotAddress(v: QueueView, index: number): bigint {
  const bytes = BigInt(v.entryBytes);
  const qbase = v.base & 0x00ff_ffff_ffff_ffe0n & ~((bytes << BigInt(v.log2)) - 1n);
  return qbase + BigInt(index & ((1 << v.log2) - 1)) * bytes;
}

export { encodeCommand };
