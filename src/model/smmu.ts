/**
 * The SMMU: the Non-secure programming interface with its register side
 * effects (IHI0070 §6.3), the command queue consumer (§4, §7.1), the event
 * queue producer (§7.2, §7.4), the caches (§16.2), and the translation of an
 * incoming transaction through the stream table, CD and table walks (§3).
 *
 * Design choices the architecture leaves open, made once here:
 * - Register updates complete at once: CR0ACK, IRQ_CTRLACK and GBPA.Update
 *   follow a write immediately.
 * - Commands are consumed synchronously, inside the write that makes them
 *   visible (CMDQ_PROD, CR0.CMDQEN, GERRORN), in queue order.  So every
 *   command, including CMD_SYNC, has completed before the next trace row.
 * - RES0 fields of commands are not checked (the architecture allows either
 *   ignoring them or CERROR_ILL).
 * - A CONSTRAINED UNPREDICTABLE register access takes the "ignored" choice
 *   and is reported through the observer as a model note.
 */
import { decodeCd, interpretCd, L1CD_LAYOUT, type CdParams, type CdVerdict } from './cd.js';
import { ConfigCache, Tlb, type AddressScope, type CachingPolicy, type TagMatch, type TlbEntry, type TlbKind } from './caches.js';
import { decodeCommand, effectiveTtl, formatCommand, illegalReason, type Command, type CommandName } from './commands.js';
import { encodeEvent, eventType, type EventFieldName, type EventRecord, type EventName } from './events.js';
import { getField, MASK64 } from './fields.js';
import { GRANULES } from './granule.js';
import { EABT, PhysicalMemory } from './memory.js';
import { featuresOf, type Features, type Profile } from './profiles.js';
import { qEmpty, qFull, qInc, qIndex } from './queue.js';
import { GERROR, REGISTERS, resolveOffset, type GerrorBit, type RegDef } from './registers.js';
import { decodeSte, interpretSte, type S1Params, type S2Params, type SteVerdict, type StreamWorld } from './ste.js';
import { locateSte, strtabGeometry, type StrtabGeometry } from './streamTable.js';
import {
  isWalkFault, stage1Permits, stage2IsDevice, stage2Permits, walk,
  type AccessKind, type DescriptorReader, type Stage1Regime, type Translation, type WalkFault, type WalkParams,
} from './walk.js';

/** An incoming transaction (§3.2, §13.1): untranslated, as a device presents it. */
export interface Transaction {
  readonly sid: number;
  readonly ssid?: number | undefined;
  readonly addr: bigint;
  readonly write: boolean;
  /** Instruction fetch (InD); ignored on writes. */
  readonly instr: boolean;
  /** Privileged (PnU). */
  readonly priv: boolean;
  /**
   * Skip permission checks: the access direction is unknown (an imported
   * capture that does not say whether a DMA read or wrote).  Translation,
   * address-size and access-flag checks still apply.
   */
  readonly noPermissionCheck?: boolean;
}

/** What happened to a transaction. */
export type TxnResult =
  | { readonly outcome: 'translated'; readonly pa: bigint; readonly detail: string }
  | { readonly outcome: 'bypass'; readonly pa: bigint; readonly detail: string }
  /** Terminated and no event record generated. */
  | { readonly outcome: 'abort'; readonly detail: string }
  /** Terminated with an event record (written or lost: see the observer). */
  | { readonly outcome: 'fault'; readonly event: EventRecord; readonly detail: string }
  | { readonly outcome: 'unsupported'; readonly detail: string };

export type EventLoss = 'queue-disabled' | 'queue-full' | 'queue-abort' | 'abort-error-active';

export interface SmmuObserver {
  /** An STE was read from memory (a configuration-cache fill or an uncached use). */
  steFetched?(sid: number, addr: bigint, qwords: readonly bigint[], verdict: SteVerdict): void;
  /** A CFGI command covering these StreamIDs was consumed (count may be 2^32 for CFGI_ALL). */
  configInvalidated?(name: CommandName, firstSid: number, count: number): void;
  commandConsumed?(cmd: Command): void;
  eventWritten?(e: EventRecord, index: number): void;
  eventLost?(e: EventRecord, why: EventLoss): void;
  gerrorActivated?(bit: GerrorBit, detail: string): void;
  interrupt?(source: 'eventq' | 'gerror' | 'cmd-sync', how: 'wired' | 'msi' | 'sev', addr?: bigint): void;
  /** An architecturally UNPREDICTABLE or ignored access, or something the model does not implement. */
  note?(kind: 'ignored' | 'unpredictable' | 'unsupported', text: string): void;
}

interface Regs {
  CR0: number; CR0ACK: number; CR1: number; CR2: number; GBPA: number; AGBPA: number;
  IRQ_CTRL: number; IRQ_CTRLACK: number; GERROR: number; GERRORN: number;
  GERROR_IRQ_CFG0: bigint; GERROR_IRQ_CFG1: number; GERROR_IRQ_CFG2: number;
  STRTAB_BASE: bigint; STRTAB_BASE_CFG: number;
  CMDQ_BASE: bigint; CMDQ_PROD: number; CMDQ_CONS: number;
  EVENTQ_BASE: bigint; EVENTQ_PROD: number; EVENTQ_CONS: number;
  EVENTQ_IRQ_CFG0: bigint; EVENTQ_IRQ_CFG1: number; EVENTQ_IRQ_CFG2: number;
}

const CR0_SMMUEN = 1, CR0_EVENTQEN = 4, CR0_CMDQEN = 8;
const IRQ_GERROR = 1, IRQ_EVENTQ = 4;
const ERR = { CERROR_NONE: 0, CERROR_ILL: 1, CERROR_ABT: 2, CERROR_ATC_INV_SYNC: 3 } as const;
const ERR_NAMES = ['CERROR_NONE', 'CERROR_ILL', 'CERROR_ABT', 'CERROR_ATC_INV_SYNC'];

function gerrorMask(bit: GerrorBit): number {
  const f = GERROR.fields.find((x) => x.name === bit)!;
  return 1 << f.lo;
}

/** A stage-1 configuration ready to walk: the CD and the STE facts it is used with. */
interface Stage1Ctx {
  readonly cd: CdParams;
  readonly regime: Stage1Regime;
}

export interface SmmuOptions {
  readonly caching?: CachingPolicy;
  readonly memory?: PhysicalMemory;
  readonly observer?: SmmuObserver;
}

export class Smmu {
  readonly features: Features;
  readonly memory: PhysicalMemory;
  readonly config: ConfigCache;
  readonly tlb: Tlb;
  observer: SmmuObserver;
  private readonly r: Regs;
  /** Command processing re-entrancy guard: an MSI write from CMD_SYNC cannot recurse into the queue. */
  private consuming = false;
  /**
   * Interrupts raised and not yet serviced, per source: set when the SMMU
   * signals (wired or MSI), cleared when software has consumed what caused it
   * (event queue: CONS catches up with PROD; GERROR: no error left active).
   * The architecture's outputs are edge-triggered (§3.18); this is the
   * "interrupt pending" indication a driver's handler would act on.
   */
  readonly irqPending = new Set<'eventq' | 'gerror' | 'cmd-sync'>();

  constructor(readonly profile: Profile, opts: SmmuOptions = {}) {
    this.features = featuresOf(profile);
    this.memory = opts.memory ?? new PhysicalMemory();
    const policy = opts.caching ?? 'max';
    this.config = new ConfigCache(policy);
    this.tlb = new Tlb(policy);
    this.observer = opts.observer ?? {};
    this.r = {
      CR0: 0, CR0ACK: 0, CR1: 0, CR2: 0, GBPA: profile.gbpaReset, AGBPA: 0,
      IRQ_CTRL: 0, IRQ_CTRLACK: 0, GERROR: 0, GERRORN: 0,
      GERROR_IRQ_CFG0: 0n, GERROR_IRQ_CFG1: 0, GERROR_IRQ_CFG2: 0,
      STRTAB_BASE: 0n, STRTAB_BASE_CFG: 0,
      CMDQ_BASE: 0n, CMDQ_PROD: 0, CMDQ_CONS: 0,
      EVENTQ_BASE: 0n, EVENTQ_PROD: 0, EVENTQ_CONS: 0,
      EVENTQ_IRQ_CFG0: 0n, EVENTQ_IRQ_CFG1: 0, EVENTQ_IRQ_CFG2: 0,
    };
  }

  get caching(): CachingPolicy {
    return this.tlb.policy;
  }

  // -------------------------------------------------------------------------
  // Register interface (§6.2, §6.3).

  /** MMIO read at a byte offset of the 128 KiB frame; size 4 or 8. */
  mmioRead(offset: number, size: 4 | 8): bigint {
    const hit = this.resolve(offset, size);
    if (!hit) return 0n;
    const v = this.regValue(hit.reg);
    if (size === 8) return v & MASK64;
    return hit.upper ? (v >> 32n) & 0xffffffffn : v & 0xffffffffn;
  }

  /** MMIO write at a byte offset; a 32-bit write to one half of a 64-bit register merges with the other half. */
  mmioWrite(offset: number, value: bigint, size: 4 | 8): void {
    const hit = this.resolve(offset, size);
    if (!hit) return;
    const reg = hit.reg;
    let v = value;
    if (reg.width === 64 && size === 4) {
      const old = this.regValue(reg);
      v = hit.upper ? (old & 0xffffffffn) | ((value & 0xffffffffn) << 32n) : (old & ~0xffffffffn) | (value & 0xffffffffn);
    }
    this.writeReg(reg, v);
  }

  /** Value of a register by name (for tests and reports). */
  reg(name: string): bigint {
    const def = REG_BY_NAME.get(name);
    if (!def) throw new Error(`no register ${name}`);
    return this.regValue(def);
  }

  private resolve(offset: number, size: 4 | 8): { reg: RegDef; upper: boolean } | undefined {
    let off = offset;
    // §6.2: Page-0 0xA8/0xAC may alias the Page-1 event queue pointers (profile choice), else RAZ/WI.
    if (this.profile.page0QueueAliases && (off === 0xa8 || off === 0xac)) off += 0x10000;
    const hit = resolveOffset(off);
    if (!hit) {
      this.observer.note?.('ignored', `access to offset 0x${offset.toString(16)}: no register there (RAZ/WI, §6.2)`);
      return undefined;
    }
    if (size === 8 && (hit.reg.width !== 64 || hit.upper)) {
      this.observer.note?.('unpredictable', `64-bit access to ${hit.reg.name}${hit.upper ? ' (upper half)' : ''}: only 32-bit accesses are permitted there (§6.2); treated as RAZ/WI`);
      return undefined;
    }
    if (offset % size !== 0) {
      this.observer.note?.('unpredictable', `unaligned access at 0x${offset.toString(16)} (§6.2); treated as RAZ/WI`);
      return undefined;
    }
    if (hit.reg.name.startsWith('PRIQ') && !this.features.pri) {
      return undefined; // PRI queue registers are RES0 without SMMU_IDR0.PRI (§6.3.33)
    }
    return hit;
  }

  private regValue(reg: RegDef): bigint {
    const p = this.profile;
    switch (reg.name) {
      case 'IDR0': return BigInt(p.IDR0);
      case 'IDR1': return BigInt(p.IDR1);
      case 'IDR2': return BigInt(p.IDR2);
      case 'IDR3': return BigInt(p.IDR3);
      case 'IDR4': return BigInt(p.IDR4);
      case 'IDR5': return BigInt(p.IDR5);
      case 'IIDR': return BigInt(p.IIDR);
      case 'AIDR': return BigInt(p.AIDR);
      case 'STATUSR': return 0n;
      default: {
        const v = (this.r as unknown as Record<string, number | bigint>)[reg.name];
        return v === undefined ? 0n : BigInt(v);
      }
    }
  }

  private ignored(reg: string, why: string): void {
    this.observer.note?.('ignored', `write to ${reg} ignored: ${why}`);
  }

  private writeReg(reg: RegDef, v: bigint): void {
    this.regGeneration++;
    const r = this.r;
    const n32 = Number(v & 0xffffffffn);
    const smmuOff = (r.CR0 & CR0_SMMUEN) === 0 && (r.CR0ACK & CR0_SMMUEN) === 0;
    switch (reg.name) {
      case 'CR0': {
        // §6.3.9: fields for features that are absent are RES0.
        let mask = 0x1 | 0x4 | 0x8;
        if (this.features.ats) mask |= 0x10;
        if (this.features.vmw) mask |= 0x1c0;
        if (this.features.pri) mask |= 0x2;
        const old = r.CR0;
        r.CR0 = n32 & mask;
        r.CR0ACK = r.CR0; // updates complete immediately
        if ((old & CR0_CMDQEN) === 0 && (r.CR0 & CR0_CMDQEN) !== 0) this.consumeCommands();
        return;
      }
      case 'CR1': {
        // §6.3.11: TABLE_* are writable only while SMMUEN is 0; QUEUE_* only while every queue is disabled.
        const queuesOff = ((r.CR0 | r.CR0ACK) & (CR0_CMDQEN | CR0_EVENTQEN | 0x2)) === 0;
        const TABLE = 0xfc0, QUEUE = 0x3f;
        let next = r.CR1;
        if (smmuOff) next = (next & ~TABLE) | (n32 & TABLE);
        else if ((n32 & TABLE) !== (r.CR1 & TABLE)) this.ignored('CR1.TABLE_*', 'read-only while SMMU_CR0.SMMUEN=1 (§6.3.11)');
        if (queuesOff) next = (next & ~QUEUE) | (n32 & QUEUE);
        else if ((n32 & QUEUE) !== (r.CR1 & QUEUE)) this.ignored('CR1.QUEUE_*', 'read-only while a queue is enabled (§6.3.11)');
        r.CR1 = next;
        return;
      }
      case 'CR2': {
        if (!smmuOff) return this.ignored('CR2', 'read-only while SMMU_CR0.SMMUEN=1 (§6.3.12)');
        let mask = 0x2 | 0x4;
        if (this.features.hyp) mask |= 0x1;
        r.CR2 = n32 & mask;
        return;
      }
      case 'GBPA':
        // §6.3.14: software writes the whole register with Update=1; the update completes at once and Update reads 0.
        if ((n32 & 0x80000000) === 0) return this.ignored('GBPA', 'Update=0 (§6.3.14: a write must set Update)');
        r.GBPA = n32 & 0x1f3f1f;
        return;
      case 'AGBPA':
        r.AGBPA = n32;
        return;
      case 'IRQ_CTRL':
        r.IRQ_CTRL = n32 & (0x1 | 0x4 | (this.features.pri ? 0x2 : 0));
        r.IRQ_CTRLACK = r.IRQ_CTRL;
        return;
      case 'GERRORN': {
        r.GERRORN = n32 & 0x1fd;
        if (((r.GERROR ^ r.GERRORN) & 0x1fd) === 0) this.irqPending.delete('gerror');
        // §7.1: acknowledging CMDQ_ERR lets consumption restart from CMDQ_CONS without a PROD write.
        if (!this.gerrorActive('CMDQ_ERR')) this.consumeCommands();
        return;
      }
      case 'GERROR_IRQ_CFG0': case 'GERROR_IRQ_CFG1': case 'GERROR_IRQ_CFG2':
      case 'EVENTQ_IRQ_CFG0': case 'EVENTQ_IRQ_CFG1': case 'EVENTQ_IRQ_CFG2':
        return this.writeIrqCfg(reg.name, v);
      case 'STRTAB_BASE':
        if (!smmuOff) return this.ignored(reg.name, 'read-only while SMMU_CR0.SMMUEN=1 (§6.3.24)');
        r.STRTAB_BASE = v & 0x40ffffffffffffc0n; // RA [62], ADDR [55:6]
        return;
      case 'STRTAB_BASE_CFG':
        if (!smmuOff) return this.ignored(reg.name, 'read-only while SMMU_CR0.SMMUEN=1 (§6.3.25)');
        r.STRTAB_BASE_CFG = n32 & 0x307ff;
        return;
      case 'CMDQ_BASE':
        if ((r.CR0 & CR0_CMDQEN) || (r.CR0ACK & CR0_CMDQEN)) return this.ignored(reg.name, 'read-only while CMDQEN=1 (§6.3.26)');
        r.CMDQ_BASE = v & 0x40ffffffffffffffn;
        return;
      case 'CMDQ_PROD':
        r.CMDQ_PROD = n32 & 0xfffff;
        this.consumeCommands();
        return;
      case 'CMDQ_CONS':
        if ((r.CR0 & CR0_CMDQEN) || (r.CR0ACK & CR0_CMDQEN)) return this.ignored(reg.name, 'SMMU-owned while CMDQEN=1 (§6.3.28)');
        r.CMDQ_CONS = n32 & 0x7f0fffff;
        return;
      case 'EVENTQ_BASE':
        if ((r.CR0 & CR0_EVENTQEN) || (r.CR0ACK & CR0_EVENTQEN)) return this.ignored(reg.name, 'read-only while EVENTQEN=1 (§6.3.29)');
        r.EVENTQ_BASE = v & 0x40ffffffffffffffn;
        return;
      case 'EVENTQ_PROD':
        if ((r.CR0 & CR0_EVENTQEN) || (r.CR0ACK & CR0_EVENTQEN)) return this.ignored(reg.name, 'SMMU-owned while EVENTQEN=1 (§6.3.95)');
        r.EVENTQ_PROD = n32 & 0x800fffff;
        return;
      case 'EVENTQ_CONS':
        r.EVENTQ_CONS = n32 & 0x800fffff;
        if ((r.EVENTQ_CONS & 0xfffff) === (r.EVENTQ_PROD & 0xfffff)) this.irqPending.delete('eventq');
        return;
      default:
        if (reg.access === 'RO') return this.ignored(reg.name, 'read-only register');
        this.observer.note?.('unsupported', `${reg.name} is not modelled; the write has no effect`);
    }
  }

  /**
   * The MSI configuration registers (§6.3.21-23, §6.3.30-32): RES0 without
   * SMMU_IDR0.MSI, and read-only while their interrupt is enabled.
   */
  private writeIrqCfg(name: string, v: bigint): void {
    if (!this.features.msi) return;
    const r = this.r as unknown as Record<string, number | bigint>;
    const gerror = name.startsWith('GERROR');
    if (this.r.IRQ_CTRLACK & (gerror ? IRQ_GERROR : IRQ_EVENTQ)) {
      return this.ignored(name, `read-only while ${gerror ? 'GERROR_IRQEN' : 'EVENTQ_IRQEN'}=1 (§${gerror ? '6.3.21' : '6.3.30'})`);
    }
    if (name.endsWith('CFG0')) r[name] = v & 0x00fffffffffffffcn; // ADDR [55:2]
    else if (name.endsWith('CFG1')) r[name] = Number(v & 0xffffffffn); // DATA
    else r[name] = Number(v & 0x3fn); // SH [5:4], MemAttr [3:0]
  }

  // -------------------------------------------------------------------------
  // Global errors (§7.5): an error is active while GERROR and GERRORN differ in its bit.

  gerrorActive(bit: GerrorBit): boolean {
    const m = gerrorMask(bit);
    return (this.r.GERROR & m) !== (this.r.GERRORN & m);
  }

  private raiseGerror(bit: GerrorBit, detail: string): void {
    // A further occurrence of an already-active error is not logged (§7.5).
    if (this.gerrorActive(bit)) return;
    this.r.GERROR ^= gerrorMask(bit);
    this.observer.gerrorActivated?.(bit, detail);
    if ((this.r.IRQ_CTRLACK & IRQ_GERROR) && bit !== 'MSI_GERROR_ABT_ERR') {
      this.signal('gerror', this.r.GERROR_IRQ_CFG0, this.r.GERROR_IRQ_CFG1, 'MSI_GERROR_ABT_ERR');
    }
  }

  /** Raise an interrupt: an MSI when supported and configured (address != 0), else the wired line. */
  private signal(source: 'eventq' | 'gerror' | 'cmd-sync', addr: bigint, data: number, abortBit: GerrorBit): void {
    if (this.features.msi && addr !== 0n) {
      // An MSI is a 32-bit write of the data to the address (§6.3.21, §4.7.3).
      const res = this.memory.write(addr, 4, BigInt(data >>> 0));
      this.irqPending.add(source);
      this.observer.interrupt?.(source, 'msi', addr);
      if (res === EABT) this.raiseGerror(abortBit, `MSI write to 0x${addr.toString(16)} aborted`);
      return;
    }
    this.irqPending.add(source);
    this.observer.interrupt?.(source, 'wired');
  }

  // -------------------------------------------------------------------------
  // Command queue (§4, §7.1).

  private cmdqLog2(): number {
    return Math.min(Number(this.r.CMDQ_BASE & 0x1fn), this.features.cmdqs);
  }

  private consumeCommands(): void {
    const r = this.r;
    if (this.consuming) return;
    if ((r.CR0ACK & CR0_CMDQEN) === 0 || this.gerrorActive('CMDQ_ERR')) return;
    this.consuming = true;
    try {
      const log2 = this.cmdqLog2();
      const base = r.CMDQ_BASE & 0x00ffffffffffffe0n & ~((16n << BigInt(log2)) - 1n);
      // Bounded: at most one pass over the queue (2^log2 entries) per call.
      for (let n = 0; n <= 2 ** log2; n++) {
        if (qEmpty(r.CMDQ_PROD, r.CMDQ_CONS, log2)) break;
        const slot = base + BigInt(qIndex(r.CMDQ_CONS, log2)) * 16n;
        const dw0 = this.memory.read(slot, 8);
        const dw1 = this.memory.read(slot + 8n, 8);
        if (dw0 === EABT || dw1 === EABT) {
          this.commandError(ERR.CERROR_ABT, `command fetch at 0x${slot.toString(16)} aborted`);
          break;
        }
        const cmd = decodeCommand(dw0, dw1);
        const ill = illegalReason(cmd, this.features);
        if (ill) {
          this.commandError(ERR.CERROR_ILL, ill);
          break;
        }
        this.execute(cmd);
        this.observer.commandConsumed?.(cmd);
        // CONS advances past a command once it has been consumed; ERR is kept (§6.3.28).
        r.CMDQ_CONS = (r.CMDQ_CONS & 0x7f000000) | qInc(r.CMDQ_CONS & 0xfffff, log2);
      }
    } finally {
      this.consuming = false;
    }
  }

  /** §7.1: CONS.ERR gets the reason, then GERROR.CMDQ_ERR is activated; CONS stays on the failing command. */
  private commandError(code: number, detail: string): void {
    this.r.CMDQ_CONS = (this.r.CMDQ_CONS & 0x000fffff) | (code << 24);
    this.raiseGerror('CMDQ_ERR', `${ERR_NAMES[code]}: ${detail}`);
  }

  private geometry(): StrtabGeometry {
    const cfg = this.r.STRTAB_BASE_CFG;
    return strtabGeometry({
      base: this.r.STRTAB_BASE & 0x00ffffffffffffc0n,
      fmt: (cfg >> 16) & 3,
      log2size: cfg & 0x3f,
      split: (cfg >> 6) & 0x1f,
    }, this.features);
  }

  /** Stream table as the SMMU currently sees it (for the replay's STE stream). */
  streamTable(): StrtabGeometry {
    return this.geometry();
  }

  private execute(cmd: Command): void {
    const f = cmd.f;
    const name = cmd.def!.name;
    const geo = this.geometry();
    const split = geo.twoLevel ? geo.split : undefined;
    const vmidTag = (v: bigint | undefined): number | undefined => (this.features.s2p ? Number(v ?? 0n) : undefined);
    switch (name) {
      case 'PREFETCH_CONFIG':
      case 'PREFETCH_ADDR':
        // §4.2: prefetches are hints; not performing them is always correct.
        return;
      case 'CFGI_STE': {
        const sid = Number(f.sid);
        this.config.invalidateSte(sid, f.leaf === 1n, split);
        this.observer.configInvalidated?.(name, sid, 1);
        return;
      }
      case 'CFGI_STE_RANGE': {
        // §4.3.2: an aligned block of 2^(Range+1) StreamIDs; the low Range+1 bits of StreamID are ignored.
        const count = 2 ** (Number(f.range) + 1);
        const first = Math.floor(Number(f.sid) / count) * count;
        this.config.invalidateSteRange(first, count, split);
        this.observer.configInvalidated?.(name, first, count);
        return;
      }
      case 'CFGI_ALL':
        this.config.invalidateAll();
        this.observer.configInvalidated?.(name, 0, 2 ** 32);
        return;
      case 'CFGI_CD':
        this.config.invalidateCd(Number(f.sid), Number(f.ssid), f.leaf === 1n);
        return;
      case 'CFGI_CD_ALL':
        this.config.invalidateCdAll(Number(f.sid));
        return;
      case 'TLBI_NH_ALL':
        // §4.4.2: all NS-EL1 stage-1 information (including combined entries) of the VMID.
        this.tlbi({ regimes: ['EL1'], vmid: vmidTag(f.vmid), includeGlobal: true, kinds: ['S1', 'S12'] }, undefined, [1]);
        return;
      case 'TLBI_NH_ASID':
        // §4.4.3: non-global stage-1 entries of ASID (and VMID); global entries stay.
        this.tlbi({ regimes: ['EL1'], vmid: vmidTag(f.vmid), asid: Number(f.asid), includeGlobal: false, kinds: ['S1', 'S12'] }, undefined, [1]);
        return;
      case 'TLBI_NH_VA':
        // §4.4.4: entries for the VA with the ASID, and global entries for the VA.
        this.tlbi({ regimes: ['EL1'], vmid: vmidTag(f.vmid), asid: Number(f.asid), includeGlobal: true, kinds: ['S1', 'S12'] }, this.addrScope(f, 64), [1]);
        return;
      case 'TLBI_NH_VAA':
        this.tlbi({ regimes: ['EL1'], vmid: vmidTag(f.vmid), includeGlobal: true, kinds: ['S1', 'S12'] }, this.addrScope(f, 64), [1]);
        return;
      case 'TLBI_EL2_ALL':
        // §4.4.2.7: every NS-EL2 entry, with or without ASID.
        this.tlbi({ regimes: ['EL2', 'EL2-E2H'], includeGlobal: true, kinds: ['S1'] }, undefined, [1]);
        return;
      case 'TLBI_EL2_ASID':
        // §4.4.2.10: non-global EL2-E2H entries of the ASID; plain EL2 entries need not be hit.
        this.tlbi({ regimes: ['EL2-E2H'], asid: Number(f.asid), includeGlobal: false, kinds: ['S1'] }, undefined, [1]);
        return;
      case 'TLBI_EL2_VA':
        // §4.4.2.8: with CR2.E2H=1, EL2-E2H entries of the VA with the ASID or global; with E2H=0, plain EL2 entries of the VA.
        if (this.e2h()) this.tlbi({ regimes: ['EL2-E2H'], asid: Number(f.asid), includeGlobal: true, kinds: ['S1'] }, this.addrScope(f, 64), [1]);
        else this.tlbi({ regimes: ['EL2'], includeGlobal: true, kinds: ['S1'] }, this.addrScope(f, 64), [1]);
        return;
      case 'TLBI_EL2_VAA':
        // §4.4.2.9: all ASIDs; the regime follows CR2.E2H as for TLBI_EL2_VA.
        this.tlbi({ regimes: [this.e2h() ? 'EL2-E2H' : 'EL2'], includeGlobal: true, kinds: ['S1'] }, this.addrScope(f, 64), [1]);
        return;
      case 'TLBI_S12_VMALL':
        // §4.4.12: everything tagged with the VMID, both stages.
        this.tlbi({ regimes: ['EL1'], vmid: Number(f.vmid), includeGlobal: true, kinds: ['S1', 'S2', 'S12'] }, undefined, [1, 2]);
        return;
      case 'TLBI_S2_IPA':
        // §4.4.13: stage-2-only entries by IPA; combined stage 1+2 entries need not be removed (and are kept).
        this.tlbi({ regimes: ['EL1'], vmid: Number(f.vmid), includeGlobal: true, kinds: ['S2'] }, this.addrScope(f, 56), [2]);
        return;
      case 'TLBI_NSNH_ALL':
        // §4.4.14: every Non-secure non-EL2 entry.
        this.tlbi({ regimes: ['EL1'], includeGlobal: true, kinds: ['S1', 'S2', 'S12'] }, undefined, [1, 2]);
        return;
      case 'TLBI_EL3_ALL': case 'TLBI_EL3_VA':
        return; // illegal on the NS queue, rejected before execution
      case 'ATC_INV':
        // §4.5.1: forwarded to the device's ATC; this model has no ATS translation requests, so no ATC to clean.
        return;
      case 'PRI_RESP': case 'RESUME': case 'STALL_TERM':
        return; // only reachable on profiles with PRI/stalls, which are not modelled (rejected as CERROR_ILL)
      case 'CMD_SYNC':
        this.sync(cmd);
        return;
    }
  }

  private tlbi(m: TagMatch, scope: AddressScope | undefined, walkStages: (1 | 2)[]): void {
    this.tlb.invalidate(m, scope, walkStages);
  }

  private e2h(): boolean {
    return (this.r.CR2 & 1) === 1;
  }

  /**
   * Address scope of a TLBI (§4.4.1.1): TG=0 is one address (entries of any
   * granule containing it); TG!=0 the range [Address, Address + (NUM+1) *
   * 2^SCALE * granule), entries of that granule only, and with TTL!=0 only
   * leaves of that level.
   */
  private addrScope(f: Readonly<Record<string, bigint>>, addrBits: number): AddressScope {
    const tg = this.features.ril ? Number(f.tg ?? 0n) : 0;
    const addr = (f.addr ?? 0n) & ((1n << BigInt(addrBits)) - 1n);
    const leaf = f.leaf === 1n;
    if (tg === 0) return { start: addr, end: addr + 1n, leaf, ttl: 0, tgShift: 0 };
    const gshift = tg === 1 ? 12 : tg === 2 ? 14 : 16;
    // SCALE is DW0[25:20] with SMMU_IDR5.DS, else DW0[24:20] (bit 25 RES0); values above 39 are treated as 39.
    const raw = this.features.ds ? f.scale! : f.scale! & 0x1fn;
    const scale = raw > 39n ? 39n : raw;
    const len = (f.num! + 1n) << (scale + BigInt(gshift));
    return { start: addr, end: addr + len, leaf, ttl: effectiveTtl(tg, Number(f.ttl ?? 0n), this.features), tgShift: gshift };
  }

  /** CMD_SYNC (§4.7.3): every earlier command has completed (they do, synchronously); then signal. */
  private sync(cmd: Command): void {
    const cs = Number(cmd.f.cs);
    if (cs === 1) {
      const addr = cmd.f.msiaddr ?? 0n;
      if (this.features.msi && addr !== 0n) {
        this.signal('cmd-sync', addr, Number(cmd.f.msidata), 'MSI_CMDQ_ABT_ERR');
      } else {
        this.irqPending.add('cmd-sync');
        this.observer.interrupt?.('cmd-sync', 'wired');
      }
    } else if (cs === 2 && this.features.sev) {
      // SIG_SEV without SMMU_IDR0.SEV behaves as SIG_NONE (§4.7.3).
      this.observer.interrupt?.('cmd-sync', 'sev');
    }
  }

  // -------------------------------------------------------------------------
  // Event queue (§7.2, §7.4).

  private recordEvent(e: EventRecord): void {
    const r = this.r;
    // §7.4: records are written only while EVENTQEN=1; records generated otherwise are discarded, not an overflow.
    if ((r.CR0ACK & CR0_EVENTQEN) === 0) return this.observer.eventLost?.(e, 'queue-disabled');
    if (this.gerrorActive('EVENTQ_ABT_ERR')) return this.observer.eventLost?.(e, 'abort-error-active');
    const log2 = Math.min(Number(r.EVENTQ_BASE & 0x1fn), this.features.eventqs);
    const prod = r.EVENTQ_PROD & 0xfffff;
    const cons = r.EVENTQ_CONS & 0xfffff;
    if (qFull(prod, cons, log2)) {
      // §7.4: overflow toggles EVENTQ_PROD.OVFLG unless an overflow is already pending (OVFLG != OVACKFLG).
      const ovflg = (r.EVENTQ_PROD >>> 31) & 1;
      const ovack = (r.EVENTQ_CONS >>> 31) & 1;
      if (ovflg === ovack) r.EVENTQ_PROD = (r.EVENTQ_PROD ^ 0x80000000) >>> 0;
      return this.observer.eventLost?.(e, 'queue-full');
    }
    const base = r.EVENTQ_BASE & 0x00ffffffffffffe0n & ~((32n << BigInt(log2)) - 1n);
    const wasEmpty = qEmpty(prod, cons, log2);
    const idx = qIndex(prod, log2);
    const slot = base + BigInt(idx) * 32n;
    const q = encodeEvent(e);
    for (let i = 0; i < 4; i++) {
      if (this.memory.write(slot + BigInt(8 * i), 8, q[i]!) === EABT) {
        this.raiseGerror('EVENTQ_ABT_ERR', `event queue write at 0x${(slot + BigInt(8 * i)).toString(16)} aborted`);
        return this.observer.eventLost?.(e, 'queue-abort');
      }
    }
    r.EVENTQ_PROD = ((r.EVENTQ_PROD & 0x80000000) | qInc(prod, log2)) >>> 0;
    this.observer.eventWritten?.(e, idx);
    // §3.18.2: the event queue interrupt is raised when the queue goes from empty to non-empty.
    if ((r.IRQ_CTRLACK & IRQ_EVENTQ) && wasEmpty) this.signal('eventq', r.EVENTQ_IRQ_CFG0, r.EVENTQ_IRQ_CFG1, 'MSI_EVENTQ_ABT_ERR');
  }

  // -------------------------------------------------------------------------
  // Translation (§3).

  /** Translate one transaction; records any event and returns what happened to it. */
  translate(t: Transaction): TxnResult {
    const hit = this.memoLookup(t);
    if (hit) return hit;
    const gens = this.regGeneration + this.config.generation + this.tlb.generation;
    const reads = this.memory.reads;
    const res = this.translateInner(t);
    if (res.outcome === 'fault') this.recordEvent(res.event);
    else if ((res.outcome === 'translated' || res.outcome === 'bypass')
      && reads === this.memory.reads && gens === this.regGeneration + this.config.generation + this.tlb.generation) {
      this.memoStore(t, res);
    }
    return res;
  }

  // -------------------------------------------------------------------------
  // Translation memo (a simulator shortcut, not an architectural cache).
  //
  // A translation that read no memory and changed no state (a TLB hit, or a
  // bypass, with the STE and CD in the configuration cache) depends only on
  // the transaction, the registers and the caches.  While none of those
  // change, the same transaction in the same 4 KiB page gets the same outcome,
  // with the output address at the same offset from the input (TLB entries and
  // bypass cover whole, aligned pages of at least 4 KiB; an address-size limit
  // is a page boundary).  So the result is kept, for the StreamID, SubstreamID,
  // access kind and page, until a register write, a cache fill or an
  // invalidation changes a generation counter; a hit then costs a few
  // comparisons instead of the configuration and TLB lookups.  Faults are not
  // kept (their records name the exact address), nor pages at or above 2^53
  // (the page number is computed as a double, exact only below that).

  /** Changes with every register write (translation reads SMMUEN, GBPA and CR2). */
  private regGeneration = 0;

  /** A count that changes whenever a register is written (lets callers cache what they derive from registers). */
  get registerGeneration(): number {
    return this.regGeneration;
  }
  private readonly memo: (MemoEntry | undefined)[] = new Array<MemoEntry | undefined>(MEMO_SIZE);

  /** The memo slot of a transaction in a page (the memo keeps pages of addresses below 2^53 only; memoFind hashes alike). */
  private static memoSlot(page: number, t: Transaction, access: number): number {
    return ((page * 16 + access) ^ (t.sid * 257) ^ ((t.ssid ?? 0) * 65537)) & (MEMO_SIZE - 1);
  }

  private memoLookup(t: Transaction): TxnResult | undefined {
    const m = this.memoFind(t.sid, t.ssid, t.addr, accessBits(t));
    if (!m) return undefined;
    return m.outcome === 'translated'
      ? { outcome: 'translated', pa: t.addr + m.delta, detail: m.detail }
      : { outcome: 'bypass', pa: t.addr + m.delta, detail: m.detail };
  }

  /**
   * The memo's answer for a transaction, if it has one: what `translate`
   * returns for it is then `{ outcome, pa: addr + delta, detail }` (and it
   * records nothing).  For the replay's DMA loop, which can take the answer
   * without building a Transaction and a result for each of millions of
   * rows.  `access` is accessBits() of the transaction.
   */
  memoFind(sid: number, ssid: number | undefined, addr: bigint, access: number, n = Number(addr)): Readonly<MemoEntry> | undefined {
    // (`n`: Number(addr), when the caller has it already.)
    if (!(n < 9007199254740992)) return undefined;
    const page = Math.floor(n / 4096);
    const m = this.memo[(((page * 16 + access) ^ (sid * 257) ^ ((ssid ?? 0) * 65537)) & (MEMO_SIZE - 1))];
    if (!m || m.page !== page || m.sid !== sid || m.ssid !== ssid || m.access !== access) return undefined;
    if (m.gens !== this.regGeneration + this.config.generation + this.tlb.generation) return undefined;
    return m;
  }

  private memoStore(t: Transaction, r: TxnResult & { pa: bigint }): void {
    const n = Number(t.addr);
    if (!(n < 9007199254740992)) return;
    const page = Math.floor(n / 4096);
    const access = accessBits(t);
    const delta = r.pa - t.addr;
    this.memo[Smmu.memoSlot(page, t, access)] = {
      sid: t.sid, ssid: t.ssid, page, access,
      gens: this.regGeneration + this.config.generation + this.tlb.generation,
      outcome: r.outcome as 'translated' | 'bypass', delta, deltaNum: exactNumber(delta), detail: r.detail,
    };
  }

  private translateInner(t: Transaction): TxnResult {
    const r = this.r;
    const feat = this.features;
    // §3.9 / §6.3.14: with SMMUEN=0 every transaction follows GBPA.
    if ((r.CR0ACK & CR0_SMMUEN) === 0) {
      if (r.GBPA & (1 << 20)) return { outcome: 'abort', detail: 'SMMUEN=0 and GBPA.ABORT=1' };
      if (t.addr >= 1n << BigInt(feat.oas)) return { outcome: 'abort', detail: `SMMUEN=0 bypass: address beyond the ${feat.oas}-bit OAS` };
      return { outcome: 'bypass', pa: t.addr, detail: 'SMMUEN=0 (GBPA)' };
    }
    // Configuration lookup.  The priority of configuration errors is that of §7.3 (C_BAD_STREAMID,
    // F_STE_FETCH, C_BAD_STE, C_BAD_SUBSTREAMID, F_STREAM_DISABLED, CD fetch, C_BAD_CD): the order
    // of the steps below is deliberate.
    const ste = this.steFor(t);
    if ('outcome' in ste) return ste;
    const v = ste.verdict;
    switch (v.kind) {
      case 'invalid': return this.configFault(t, 'C_BAD_STE', 'STE.V=0');
      case 'illegal': return this.configFault(t, 'C_BAD_STE', v.reason);
      case 'unsupported': return { outcome: 'unsupported', detail: v.reason };
      case 'abort': return { outcome: 'abort', detail: 'STE.Config=abort' };
      case 'bypass':
        // §5.2 S1CDMax: a SubstreamID with stage 1 disabled (Config 0b1x0, bypass included) is C_BAD_SUBSTREAMID.
        if (t.ssid !== undefined) return this.configFault(t, 'C_BAD_SUBSTREAMID', 'SubstreamID on a bypass STE (stage 1 disabled)');
        // §5.2 Config=0b100: an address beyond the OAS faults as a stage-1 address size fault.
        if (t.addr >= 1n << BigInt(feat.oas)) return this.xlateFault(t, { fault: 'F_ADDR_SIZE', stage: 1, class: 'IN' }, undefined, undefined, 'bypass address beyond the OAS');
        return { outcome: 'bypass', pa: t.addr, detail: 'STE.Config=bypass' };
      case 'translate':
        return this.translateStream(t, v.s1, v.s2, v.vmid);
    }
  }

  /** STE of a transaction's stream: from the configuration cache, or fetched (and cached). */
  private steFor(t: Transaction): { verdict: SteVerdict } | TxnResult {
    const cached = this.config.getSte(t.sid);
    if (cached) return { verdict: cached.verdict };
    const geo = this.geometry();
    const loc = locateSte(geo, t.sid, (index, addr) => {
      const c = this.config.getL1std(index);
      if (c !== undefined) return c;
      const d = this.memory.read(addr, 8);
      if (d === EABT) return undefined;
      this.config.putL1std(index, d);
      return d;
    });
    if (loc.kind === 'bad-streamid') {
      // §7.3.3: C_BAD_STREAMID is recorded only when CR2.RECINVSID=1; the transaction is aborted either way.
      if ((this.r.CR2 & 2) === 0) return { outcome: 'abort', detail: `${loc.reason} (C_BAD_STREAMID not recorded: CR2.RECINVSID=0)` };
      return this.configFault(t, 'C_BAD_STREAMID', loc.reason);
    }
    if (loc.kind === 'fetch-abort') return this.configFault(t, 'F_STE_FETCH', 'L1STD fetch aborted', { FetchAddr: loc.fetchAddr });
    const q = this.memory.readQwords(loc.addr, 8);
    if (q === EABT) return this.configFault(t, 'F_STE_FETCH', 'STE fetch aborted', { FetchAddr: loc.addr });
    const verdict = interpretSte(decodeSte(q), { features: this.features, e2h: (this.r.CR2 & 1) === 1 });
    this.observer.steFetched?.(t.sid, loc.addr, q, verdict);
    this.config.putSte(t.sid, { qwords: q, verdict, addr: loc.addr });
    return { verdict };
  }

  private configFault(t: Transaction, type: EventName, detail: string, fields: Partial<Record<EventFieldName, bigint>> = {}): TxnResult {
    // C_BAD_SUBSTREAMID always carries the SubstreamID being looked up: 0 for traffic without one that
    // S1DSS=substream0 sends to CD 0 (§7.3.9).
    const ssid = t.ssid ?? (type === 'C_BAD_SUBSTREAMID' ? 0 : undefined);
    const ev: EventRecord = { type, sid: t.sid, ...(ssid !== undefined ? { ssid } : {}), fields };
    return { outcome: 'fault', event: ev, detail: `${type}: ${detail}` };
  }

  private translateStream(t: Transaction, s1: S1Params | undefined, s2: S2Params | undefined, vmidField: number): TxnResult {
    const feat = this.features;
    const vmid = s2 ? s2.vmid : (feat.s2p && s1?.world === 'NS-EL1' ? vmidField : undefined);
    const access = this.accessOf(t);
    // Substream checks (§3.10.2, §5.2 S1DSS).
    if (!s1) {
      if (t.ssid !== undefined) return this.configFault(t, 'C_BAD_SUBSTREAMID', 'SubstreamID on a stream without stage 1');
      return this.stage2Only(t, s2!, t.addr, access, 'IN');
    }
    let ssid = t.ssid;
    if (ssid !== undefined) {
      if (s1.cdMax === 0) return this.configFault(t, 'C_BAD_SUBSTREAMID', 'SubstreamID while S1CDMax=0 (substreams disabled)');
      if (ssid >= 2 ** s1.cdMax) return this.configFault(t, 'C_BAD_SUBSTREAMID', `SubstreamID 0x${ssid.toString(16)} >= 2^S1CDMax`);
      if (s1.dss === 2 && ssid === 0) return this.configFault(t, 'F_STREAM_DISABLED', 'SubstreamID 0 with S1DSS=substream0');
    } else if (s1.cdMax !== 0) {
      if (s1.dss === 1) {
        // S1DSS=bypass: stage 1 is skipped for traffic without a SubstreamID.
        if (t.addr >= 1n << BigInt(feat.ias)) return this.xlateFault(t, { fault: 'F_ADDR_SIZE', stage: 1, class: 'IN' }, undefined, undefined, 'stage-1 bypass address beyond the IAS');
        if (s2) return this.stage2Only(t, s2, t.addr, access, 'IN');
        return { outcome: 'bypass', pa: t.addr, detail: 'S1DSS=bypass' };
      }
      if (s1.dss !== 2) return this.configFault(t, 'F_STREAM_DISABLED', 'no SubstreamID with S1DSS=terminate');
      ssid = 0;
    }
    const cdr = this.cdFor(t, s1, s2, ssid ?? 0);
    if ('outcome' in cdr) return cdr;
    switch (cdr.kind) {
      case 'illegal': return this.configFault(t, 'C_BAD_CD', cdr.reason);
      case 'unsupported': return { outcome: 'unsupported', detail: cdr.reason };
      case 'ok': break;
    }
    const regime: Stage1Regime = s1.world === 'NS-EL2' ? 'EL2' : s1.world === 'NS-EL2-E2H' ? 'EL2-E2H' : 'EL1';
    return this.stage1(t, { cd: cdr.cd, regime }, s2, vmid, access);
  }

  private accessOf(t: Transaction): AccessKind {
    // §13.1.3: InD applies to reads only; a write with InD set is a data write.
    return { write: t.write, instr: t.instr && !t.write, priv: t.priv };
  }

  /** Find, fetch and interpret the CD for a SubstreamID (§3.10, §5.3, §5.4); stage-2 translation of CD addresses when nested. */
  private cdFor(t: Transaction, s1: S1Params, s2: S2Params | undefined, ssid: number): CdVerdict | TxnResult {
    const cached = this.config.getCd(t.sid, ssid);
    if (cached) return cached.verdict;
    // A fetch gives the doublewords, a stage-2 fault (CLASS=CD), or the PA whose read aborted.
    const readCdMem = (ipa: bigint, size: 8 | 64): bigint[] | WalkFault | { eabt: bigint } => {
      let pa = ipa;
      if (s2) {
        const r = this.s2Translate(s2, ipa, { write: false, instr: false, priv: true }, 'CD', true);
        if (isWalkFault(r)) return r;
        pa = r;
      }
      const q = this.memory.readQwords(pa, size / 8);
      return q === EABT ? { eabt: pa } : q;
    };
    // §7.3.10: F_CD_FETCH's FetchAddr is the physical address whose read aborted (after stage 2 when nested).
    const faultOf = (x: WalkFault | { eabt: bigint }): TxnResult => ('eabt' in x
      ? this.configFault(t, 'F_CD_FETCH', 'CD fetch aborted', { FetchAddr: x.eabt })
      : this.xlateFault(t, x, undefined, s2, 'stage-2 fault on the CD fetch'));
    let cdAddr = s1.contextPtr;
    if (s1.cdMax !== 0) {
      if (s1.fmt === 0) {
        // Linear CD table aligned to its size (§5.2 S1ContextPtr).
        cdAddr = (s1.contextPtr & ~((64n << BigInt(s1.cdMax)) - 1n)) + BigInt(ssid) * 64n;
      } else {
        const leafBits = s1.fmt === 1 ? 6 : 10;
        const l1Count = Math.max(1, 2 ** (s1.cdMax - leafBits));
        const l1Base = s1.contextPtr & ~(BigInt(Math.max(64, 8 * l1Count)) - 1n);
        const l1i = Math.floor(ssid / 2 ** leafBits);
        let l1 = this.config.getL1cd(t.sid, l1i, leafBits);
        if (l1 === undefined) {
          const addr = l1Base + BigInt(l1i) * 8n;
          const d = readCdMem(addr, 8);
          if (!Array.isArray(d)) return faultOf(d);
          l1 = d[0]!;
          // Fetched configuration may be cached whether valid or not (§3.21.3); only failed fetches are not.
          this.config.putL1cd(t.sid, l1i, leafBits, l1);
        }
        // §5.3: an L1CD with V=0 makes the SubstreamID unreachable: C_BAD_SUBSTREAMID.
        if ((l1 & 1n) === 0n) return this.configFault(t, 'C_BAD_SUBSTREAMID', `L1CD[${l1i}].V=0`);
        const l2 = getField(L1CD_LAYOUT.fields[1]!, [l1]) & ~((64n << BigInt(leafBits)) - 1n);
        // §3.4.3 (v3.1+): an L2Ptr beyond the OAS (or IAS when it is an IPA) makes the SubstreamID unreachable.
        if (l2 >= 1n << BigInt(s2 ? this.features.ias : this.features.oas)) return this.configFault(t, 'C_BAD_SUBSTREAMID', `L1CD[${l1i}].L2Ptr 0x${l2.toString(16)} out of range`);
        cdAddr = l2 + BigInt(ssid % 2 ** leafBits) * 64n;
      }
    }
    const q = readCdMem(cdAddr, 64);
    if (!Array.isArray(q)) return faultOf(q);
    const verdict = interpretCd(decodeCd(q), { features: this.features, world: s1.world, s1stalld: s1.s1stalld });
    this.config.putCd(t.sid, ssid, { qwords: q, verdict, addr: cdAddr });
    return verdict;
  }

  /** Stage 1 (and, when nested, stage 2 of every descriptor and of the output). */
  private stage1(t: Transaction, c: Stage1Ctx, s2: S2Params | undefined, vmid: number | undefined, access: AccessKind): TxnResult {
    const cd = c.cd;
    const va = t.addr;
    const asid = c.regime === 'EL2' ? undefined : cd.asid;
    const kind: TlbKind = s2 ? 'S12' : 'S1';
    const hit = this.tlb.lookup(kind, c.regime, vmid, asid, va);
    if (hit) return this.finish(t, hit, c, s2, access, true);
    // §3.4.1, Arm ARM D8.2: select TTB0/TTB1 by VA[55] in two-range regimes and check the unused upper bits.
    const upper = ((va >> 55n) & 1n) === 1n && cd.twoRanges;
    const ttb = upper ? cd.ttb1 : cd.ttb0;
    if (!ttb) return this.xlateFault(t, { fault: 'F_TRANSLATION', stage: 1, class: 'IN' }, cd, s2, `TTB${upper ? 1 : 0} disabled (EPD${upper ? 1 : 0}=1)`);
    const top = ttb.tbi ? 55 : 63;
    const n = ttb.inputBits;
    const hiBits = (va >> BigInt(n)) & ((1n << BigInt(top - n + 1)) - 1n);
    const want = upper ? (1n << BigInt(top - n + 1)) - 1n : 0n;
    if (hiBits !== want) return this.xlateFault(t, { fault: 'F_TRANSLATION', stage: 1, class: 'IN' }, cd, s2, `VA outside the TTB${upper ? 1 : 0} region (T${upper ? 1 : 0}SZ=${64 - n})`);
    const ia = va & ((1n << BigInt(n)) - 1n) | (upper ? ~((1n << BigInt(n)) - 1n) & ((1n << 64n) - 1n) : 0n);
    const params: WalkParams = {
      stage: 1, granule: ttb.granule, inputBits: n, startLevel: ttb.startLevel, concat: 1, ttb: ttb.ttb,
      outputBits: cd.outputBits, affd: cd.affd, had: ttb.had,
    };
    const reader: DescriptorReader = s2
      ? (ipa) => {
        const pa = this.s2Translate(s2, ipa, { write: false, instr: false, priv: true }, 'TT', true);
        if (isWalkFault(pa)) return pa;
        const d = this.memory.read(pa, 8);
        return d === EABT ? { fault: 'F_WALK_EABT', stage: 1, class: 'TT', fetchAddr: pa } : d;
      }
      : (pa) => {
        const d = this.memory.read(pa, 8);
        return d === EABT ? { fault: 'F_WALK_EABT', stage: 1, class: 'TT', fetchAddr: pa } : d;
      };
    const cachedWalk = this.tlb.lookupWalk(1, c.regime, vmid, asid, ttb.ttb, ia);
    const start = cachedWalk ? { level: cachedWalk.level + 1, table: cachedWalk.next, attrs: cachedWalk.attrs } : undefined;
    const out = walk(params, reader, ia, start);
    const via = start ? ` (walk cache: level ${start.level} table 0x${start.table.toString(16)})` : '';
    for (const st of out.steps) {
      this.tlb.insertWalk({ stage: 1, regime: c.regime, vmid, asid, level: st.level, iaBase: st.iaBase, coverShift: st.coverShift, next: st.next, attrs: st.attrs, granuleShift: ttb.granule.shift, root: ttb.ttb });
    }
    if (isWalkFault(out.result)) return this.xlateFault(t, out.result, cd, s2, `stage-1 walk${via}`);
    const s1t = out.result;
    // Stage-1 permission before the stage-2 translation of the output (a stage-1 fault has priority).
    if (!t.noPermissionCheck && !stage1Permits(s1t, { regime: c.regime, wxn: cd.wxn, pan: cd.pan }, access)) {
      return this.xlateFault(t, { fault: 'F_PERMISSION', stage: 1, class: 'IN', level: s1t.level }, cd, s2, 'stage-1 permission');
    }
    // nG (bit 11) makes the entry ASID-specific; global entries match every ASID (Arm ARM D8.15).
    const global = ((s1t.desc >> 11n) & 1n) === 0n && c.regime !== 'EL2';
    const entryAsid = c.regime === 'EL2' || global ? undefined : asid;
    const ipa = s1t.oaBase | (va & ((1n << BigInt(s1t.sizeShift)) - 1n));
    if (!s2) {
      const e: TlbEntry = { kind: 'S1', regime: c.regime, vmid, asid: entryAsid, iaBase: s1t.iaBase, sizeShift: s1t.sizeShift, oaBase: s1t.oaBase, s1: s1t, s1Granule: ttb.granule.shift };
      this.tlb.insert(e);
      return this.finish(t, e, c, undefined, access, false, via);
    }
    const s2r = this.s2Walk(s2, ipa, 'IN');
    if (isWalkFault(s2r)) return this.xlateFault(t, s2r, cd, s2, 'stage-2 translation of the stage-1 output');
    const size = Math.min(s1t.sizeShift, s2r.sizeShift);
    const e: TlbEntry = {
      kind: 'S12', regime: c.regime, vmid, asid: entryAsid,
      iaBase: va & ~((1n << BigInt(size)) - 1n) & ((1n << 64n) - 1n), sizeShift: size,
      oaBase: (s2r.oaBase | (ipa & ((1n << BigInt(s2r.sizeShift)) - 1n))) & ~((1n << BigInt(size)) - 1n),
      s1: s1t, s2: s2r, s1Granule: ttb.granule.shift, s2Granule: s2.granule.shift,
      ipaBase: ipa & ~((1n << BigInt(size)) - 1n),
    };
    this.tlb.insert(e);
    return this.finish(t, e, c, s2, access, false, via);
  }

  /** Permission re-check on a TLB entry and the final output address. */
  private finish(t: Transaction, e: TlbEntry, c: Stage1Ctx | undefined, s2: S2Params | undefined, access: AccessKind, hit: boolean, via = ''): TxnResult {
    if (!t.noPermissionCheck) {
      if (hit && e.s1 && c && !stage1Permits(e.s1, { regime: c.regime, wxn: c.cd.wxn, pan: c.cd.pan }, access)) {
        return this.xlateFault(t, { fault: 'F_PERMISSION', stage: 1, class: 'IN', level: e.s1.level }, c.cd, s2, 'stage-1 permission (TLB hit)');
      }
      if (e.s2 && !stage2Permits(e.s2, this.features.xnx, access)) {
        const ipa = (e.ipaBase ?? e.iaBase) | (t.addr & ((1n << BigInt(e.sizeShift)) - 1n));
        return this.xlateFault(t, { fault: 'F_PERMISSION', stage: 2, class: 'IN', level: e.s2.level, ipa }, c?.cd, s2, 'stage-2 permission');
      }
    }
    const pa = e.oaBase | (t.addr & ((1n << BigInt(e.sizeShift)) - 1n));
    const stages = e.kind === 'S12' ? 'stage 1+2' : e.kind === 'S1' ? 'stage 1' : 'stage 2';
    return { outcome: 'translated', pa, detail: `${stages}${hit ? ' (TLB hit)' : via}` };
  }

  /** A stream with stage 1 bypassed: the input address is an IPA for stage 2 (§3.4). */
  private stage2Only(t: Transaction, s2: S2Params, ipa: bigint, access: AccessKind, cls: 'IN'): TxnResult {
    // Stage-1 bypass: an input beyond the IAS is a stage-1 address size fault (§3.4.1).
    if (ipa >= 1n << BigInt(this.features.ias)) return this.xlateFault(t, { fault: 'F_ADDR_SIZE', stage: 1, class: 'IN' }, undefined, s2, 'stage-1 bypass address beyond the IAS');
    const hit = this.tlb.lookup('S2', 'EL1', s2.vmid, undefined, ipa);
    if (hit) return this.finish(t, hit, undefined, s2, access, true);
    const r = this.s2Walk(s2, ipa, cls);
    if (isWalkFault(r)) return this.xlateFault(t, r, undefined, s2, 'stage-2 walk');
    const e: TlbEntry = { kind: 'S2', regime: 'EL1', vmid: s2.vmid, asid: undefined, iaBase: r.iaBase, sizeShift: r.sizeShift, oaBase: r.oaBase, s2: r, s2Granule: s2.granule.shift };
    this.tlb.insert(e);
    return this.finish(t, e, undefined, s2, access, false);
  }

  /** Stage-2 walk of an IPA, using and filling the stage-2 TLB and walk cache. */
  private s2Walk(s2: S2Params, ipa: bigint, cls: 'CD' | 'TT' | 'IN'): Translation | WalkFault {
    const hit = this.tlb.lookup('S2', 'EL1', s2.vmid, undefined, ipa);
    if (hit?.s2) {
      // Rebase the cached leaf so callers see the block containing this IPA.
      return hit.s2;
    }
    // §5.2 S2T0SZ: an IPA beyond the stage-2 input range is a stage-2 translation fault.
    if (ipa >= 1n << BigInt(s2.inputBits)) return { fault: 'F_TRANSLATION', stage: 2, class: cls, ipa };
    const params: WalkParams = {
      stage: 2, granule: s2.granule, inputBits: s2.inputBits, startLevel: s2.startLevel, concat: s2.concat,
      ttb: s2.ttb, outputBits: s2.outputBits, affd: s2.affd, had: true,
    };
    const reader: DescriptorReader = (pa) => {
      const d = this.memory.read(pa, 8);
      return d === EABT ? { fault: 'F_WALK_EABT', stage: 2, class: cls, fetchAddr: pa, ipa } : d;
    };
    const cachedWalk = this.tlb.lookupWalk(2, 'EL1', s2.vmid, undefined, s2.ttb, ipa);
    const start = cachedWalk ? { level: cachedWalk.level + 1, table: cachedWalk.next, attrs: cachedWalk.attrs } : undefined;
    const out = walk(params, reader, ipa, start);
    for (const st of out.steps) {
      this.tlb.insertWalk({ stage: 2, regime: 'EL1', vmid: s2.vmid, asid: undefined, level: st.level, iaBase: st.iaBase, coverShift: st.coverShift, next: st.next, attrs: st.attrs, granuleShift: s2.granule.shift, root: s2.ttb });
    }
    const res = out.result;
    if (isWalkFault(res)) return { ...res, class: res.fault === 'F_WALK_EABT' ? res.class : cls, ipa };
    this.tlb.insert({ kind: 'S2', regime: 'EL1', vmid: s2.vmid, asid: undefined, iaBase: res.iaBase, sizeShift: res.sizeShift, oaBase: res.oaBase, s2: res, s2Granule: s2.granule.shift });
    return res;
  }

  /**
   * Stage-2 translation of a structure address (a CD or a stage-1 table):
   * the walk plus the read-permission check, and S2PTW's Device check (§5.2).
   */
  private s2Translate(s2: S2Params, ipa: bigint, access: AccessKind, cls: 'CD' | 'TT', isDescriptor: boolean): bigint | WalkFault {
    const r = this.s2Walk(s2, ipa, cls);
    if (isWalkFault(r)) return r;
    if (!stage2Permits(r, this.features.xnx, access) || (isDescriptor && s2.ptw && stage2IsDevice(r))) {
      return { fault: 'F_PERMISSION', stage: 2, class: cls, level: r.level, ipa, ttrnw: true };
    }
    return r.oaBase | (ipa & ((1n << BigInt(r.sizeShift)) - 1n));
  }

  /**
   * Turn a translation-related fault into the transaction's result (§3.12,
   * §7.3.12): stage-1 faults follow CD.R/CD.A, stage-2 faults STE.S2R (and
   * always abort); F_WALK_EABT and stage-1 address-size faults on bypass
   * are always recorded.
   */
  private xlateFault(t: Transaction, f: WalkFault, cd: CdParams | undefined, s2: S2Params | undefined, detail: string): TxnResult {
    const access = this.accessOf(t);
    const fields: Partial<Record<EventFieldName, bigint>> = {
      STAG: 0n, Stall: 0n,
      PnU: access.priv ? 1n : 0n,
      InD: access.instr ? 1n : 0n,
      RnW: access.write ? 0n : 1n,
      S2: f.stage === 2 ? 1n : 0n,
      CLASS: BigInt(['CD', 'TT', 'IN'].indexOf(f.class)),
      InputAddr: t.addr & MASK64,
    };
    if (f.fault === 'F_WALK_EABT') fields.FetchAddr = (f.fetchAddr ?? 0n) & 0x00fffffffffffff8n;
    else if (f.stage === 2 && f.ipa !== undefined) fields.IPA = f.ipa & 0x00fffffffffff000n;
    if (f.fault === 'F_PERMISSION' && f.class !== 'IN') fields.TTRnW = f.ttrnw ? 1n : 0n;
    // Keep only the fields this event type has (F_WALK_EABT has no STAG/Stall, §7.3.12).
    const own = eventType(f.fault).fields;
    for (const k of Object.keys(fields) as EventFieldName[]) if (!own.includes(k)) delete fields[k];
    const ev: EventRecord = { type: f.fault, sid: t.sid, ...(t.ssid !== undefined ? { ssid: t.ssid } : {}), fields };
    const what = `${f.fault} S2=${f.stage === 2 ? 1 : 0} CLASS=${f.class}${f.level !== undefined ? ` level=${f.level}` : ''}: ${detail}`;
    let record = true;
    let abort = true;
    if (f.fault !== 'F_WALK_EABT') {
      if (f.stage === 2) record = s2?.record ?? true;
      else if (cd) { record = cd.record; abort = cd.abort; }
    }
    if (record) return { outcome: 'fault', event: ev, detail: what };
    return { outcome: 'abort', detail: `${what}; not recorded (${f.stage === 2 ? 'STE.S2R=0' : 'CD.R=0'})${abort ? '' : '; RAZ/WI (CD.A=0)'}` };
  }
}

const REG_BY_NAME = new Map(REGISTERS.map((d) => [d.name, d]));

/** Slots of the translation memo (a power of two). */
const MEMO_SIZE = 1024;

/** A translation the memo keeps (see Smmu.memoFind). */
export interface MemoEntry {
  readonly sid: number;
  readonly ssid: number | undefined;
  /** The 4 KiB page of input addresses (address / 4096; addresses below 2^53 only, where that is exact). */
  readonly page: number;
  readonly access: number;
  /** Sum of the register, configuration-cache and TLB generations when kept. */
  readonly gens: number;
  readonly outcome: 'translated' | 'bypass';
  /** Output address minus input address. */
  readonly delta: bigint;
  /** delta as a number where that is exact (|delta| < 2^53), else NaN: compared without a BigInt comparison. */
  readonly deltaNum: number;
  readonly detail: string;
}

/** A BigInt as a number where the conversion is exact (|v| < 2^53), else NaN (which equals nothing). */
function exactNumber(v: bigint): number {
  return v < 9007199254740992n && v > -9007199254740992n ? Number(v) : NaN;
}

/** The memo's key bits for a transaction's access: write 1, instruction 2, privileged 4, no permission check 8. */
export function accessBits(t: Pick<Transaction, 'write' | 'instr' | 'priv' | 'noPermissionCheck'>): number {
  return (t.write ? 1 : 0) | (t.instr ? 2 : 0) | (t.priv ? 4 : 0) | (t.noPermissionCheck ? 8 : 0);
}

/** Granule by TG encoding in commands (§4.4.1), for tests. */
export const TG_GRANULE = { 1: GRANULES['4K'], 2: GRANULES['16K'], 3: GRANULES['64K'] } as const;
export { formatCommand, REGISTERS };
export type { StreamWorld };
