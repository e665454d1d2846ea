/**
 * VMSAv8-64 translation table walks for stage 1 and stage 2 (Arm ARM D8,
 * IHI0070 §3.4 and §7.3.12-§7.3.15), and the permission checks applied to a
 * completed translation.
 *
 * The walk is a pure function of (parameters, descriptor reader, input
 * address).  The reader decides where a descriptor comes from: plain physical
 * memory for stage 2 and non-nested stage 1, or "translate this IPA through
 * stage 2, then read" for nested stage 1.  A reader may return a fault, which
 * the walk passes up untouched (a stage-2 fault met while fetching a stage-1
 * descriptor is reported as such, IHI0070 §3.4.2).
 *
 * Fault checks within one lookup run in the architecture's priority order
 * (Arm ARM D8.x "Prioritization of aborts", IHI0070 §7.3): the order of the
 * statements below is deliberate.
 */
import { levelShift, type Granule } from './granule.js';

export type StageNo = 1 | 2;

export type WalkFaultType = 'F_TRANSLATION' | 'F_ADDR_SIZE' | 'F_ACCESS' | 'F_PERMISSION' | 'F_WALK_EABT';

/** A translation-related fault found by a walk or a permission check. */
export interface WalkFault {
  readonly fault: WalkFaultType;
  readonly stage: StageNo;
  /** CLASS of the event (§7.3.12): IN for the input address, TT for a stage-1 descriptor fetch, CD for a CD fetch. */
  readonly class: 'CD' | 'TT' | 'IN';
  readonly level?: number;
  /** PA of the descriptor whose fetch aborted (F_WALK_EABT). */
  readonly fetchAddr?: bigint;
  /** For stage-2 faults: the IPA being translated when the fault occurred. */
  readonly ipa?: bigint;
  /** F_PERMISSION with CLASS=TT: 1 if the descriptor access was a read. */
  readonly ttrnw?: boolean;
}

export function isWalkFault(x: unknown): x is WalkFault {
  return typeof x === 'object' && x !== null && 'fault' in x;
}

/** Reads a 64-bit descriptor at an address (PA, or IPA for nested stage 1). */
export type DescriptorReader = (addr: bigint) => bigint | WalkFault;

export interface WalkParams {
  readonly stage: StageNo;
  readonly granule: Granule;
  /** Input region size in bits (64 - TxSZ / S2T0SZ). */
  readonly inputBits: number;
  readonly startLevel: number;
  /** Concatenated start tables (stage 2 only; 1 otherwise). */
  readonly concat: number;
  /** Start table base, already aligned. */
  readonly ttb: bigint;
  /** Effective output address size (IPS or S2PS, capped at OAS). */
  readonly outputBits: number;
  /** AFFD / S2AFFD: never raise an Access flag fault (AF treated as 1). */
  readonly affd: boolean;
  /** Hierarchical attributes (APTable, XNTable, PXNTable) disabled: CD.HADx (stage 1 only). */
  readonly had: boolean;
}

/** Attributes accumulated from table descriptors (stage 1 only, Arm ARM D8.4 hierarchical controls). */
export interface TableAttrs {
  /** APTable bits [62:61]. */
  readonly apTable: number;
  /** UXNTable / XNTable, bit 60. */
  readonly uxnTable: boolean;
  /** PXNTable, bit 59. */
  readonly pxnTable: boolean;
}

export const NO_TABLE_ATTRS: TableAttrs = { apTable: 0, uxnTable: false, pxnTable: false };

/** A table descriptor met on the way down, as a walk cache may keep it. */
export interface TableStep {
  readonly level: number;
  /** The input address bits above this level's shift, i.e. what the descriptor covers. */
  readonly iaBase: bigint;
  /** log2 of the range the descriptor covers. */
  readonly coverShift: number;
  /** Address of the next-level table. */
  readonly next: bigint;
  /** Attributes in force below this descriptor. */
  readonly attrs: TableAttrs;
}

/** Where a walk starts when a walk cache supplies an intermediate table. */
export interface WalkStart {
  readonly level: number;
  readonly table: bigint;
  readonly attrs: TableAttrs;
}

/** A completed walk: the leaf descriptor and everything a TLB entry needs. */
export interface Translation {
  readonly stage: StageNo;
  readonly level: number;
  /** log2 of the mapped block or page size. */
  readonly sizeShift: number;
  /** Input address of the block's first byte. */
  readonly iaBase: bigint;
  /** Output address of the block's first byte. */
  readonly oaBase: bigint;
  readonly desc: bigint;
  readonly descAddr: bigint;
  readonly attrs: TableAttrs;
}

export interface WalkOutcome {
  readonly result: Translation | WalkFault;
  /** Table descriptors read, outermost first (for walk caches and for explaining a result). */
  readonly steps: readonly TableStep[];
}

/**
 * Highest output-address bit a descriptor carries without FEAT_LPA/LPA2: with a
 * 48-bit PA, descriptor bits [51:48] are not address bits (RES0, GP, DBM;
 * Arm ARM D8.3), so the output address is bits [47:shift].
 */
const ADDR_BITS_TOP = 47;

function mask(hi: number, lo: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** Output address field of a descriptor at a level: bits [51:shift]. */
function outputAddress(desc: bigint, shift: number): bigint {
  return desc & mask(ADDR_BITS_TOP, shift);
}

/**
 * Walk one stage for an input address that is already known to be inside the
 * region (the caller checks TxSZ / TTB selection, which differ by stage).
 */
export function walk(p: WalkParams, read: DescriptorReader, ia: bigint, start?: WalkStart): WalkOutcome {
  const g = p.granule;
  const steps: TableStep[] = [];
  const inClass = 'IN' as const;
  let level = start?.level ?? p.startLevel;
  let table = start?.table ?? p.ttb;
  let attrs = start?.attrs ?? NO_TABLE_ATTRS;
  const outLimit = 1n << BigInt(p.outputBits);

  // Bounded by construction: level increases by one per iteration and stops at 3.
  for (;;) {
    const shift = levelShift(g, level);
    // Index bits at this level: up to the input size for the start level (which may be concatenated).
    const top = level === p.startLevel ? p.inputBits : shift + g.stride;
    const index = (ia & mask(top - 1, shift)) >> BigInt(shift);
    const descAddr = table + 8n * index;
    const d = read(descAddr);
    if (typeof d !== 'bigint') return { result: d, steps };
    const type = Number(d & 3n);
    // Priority within a lookup: invalid descriptor (translation fault) first.
    if ((type & 1) === 0) return { result: fault('F_TRANSLATION', p.stage, inClass, level), steps };
    if (type === 1 && (level === 3 || !g.blockLevels.includes(level))) {
      // A block where blocks are not permitted, and 0b01 at level 3, are invalid encodings.
      return { result: fault('F_TRANSLATION', p.stage, inClass, level), steps };
    }
    if (type === 3 && level < 3) {
      // Table descriptor.  Address size fault if the next-level table is beyond the output size.
      const next = outputAddress(d, g.shift);
      if (next >= outLimit) return { result: fault('F_ADDR_SIZE', p.stage, inClass, level), steps };
      if (p.stage === 1 && !p.had) {
        attrs = {
          apTable: attrs.apTable | Number((d >> 61n) & 3n),
          uxnTable: attrs.uxnTable || ((d >> 60n) & 1n) === 1n,
          pxnTable: attrs.pxnTable || ((d >> 59n) & 1n) === 1n,
        };
      }
      steps.push({ level, iaBase: ia & ~((1n << BigInt(shift)) - 1n), coverShift: shift, next, attrs });
      table = next;
      level += 1;
      continue;
    }
    // Block (type 1 at a permitted level) or page (type 3 at level 3).
    const oaBase = outputAddress(d, shift);
    if (oaBase >= outLimit) return { result: fault('F_ADDR_SIZE', p.stage, inClass, level), steps };
    // Access flag (bit 10): checked after address size, before permission (Arm ARM D8.x priority).
    if (((d >> 10n) & 1n) === 0n && !p.affd) return { result: fault('F_ACCESS', p.stage, inClass, level), steps };
    return {
      result: {
        stage: p.stage,
        level,
        sizeShift: shift,
        iaBase: ia & ~((1n << BigInt(shift)) - 1n),
        oaBase,
        desc: d,
        descAddr,
        attrs,
      },
      steps,
    };
  }
}

function fault(type: WalkFaultType, stage: StageNo, cls: 'CD' | 'TT' | 'IN', level?: number): WalkFault {
  return level === undefined ? { fault: type, stage, class: cls } : { fault: type, stage, class: cls, level };
}

// ---------------------------------------------------------------------------
// Permissions.

/** The access being checked, after the STE's PRIVCFG/INSTCFG overrides. */
export interface AccessKind {
  readonly write: boolean;
  /** Instruction fetch (only for reads: InD on a write is treated as data, IHI0070 §13.1.3). */
  readonly instr: boolean;
  readonly priv: boolean;
}

export type Stage1Regime = 'EL1' | 'EL2' | 'EL2-E2H';

export interface Stage1PermContext {
  readonly regime: Stage1Regime;
  readonly wxn: boolean;
  readonly pan: boolean;
}

/**
 * Stage-1 permission check (Arm ARM D8.4.1, two privilege levels for EL1&0
 * and EL2&0, one for EL2).  Returns true when the access is permitted.
 */
export function stage1Permits(t: Translation, ctx: Stage1PermContext, a: AccessKind): boolean {
  const d = t.desc;
  const ap2 = ((d >> 7n) & 1n) === 1n || (t.attrs.apTable & 2) !== 0; // read-only
  const single = ctx.regime === 'EL2';
  // AP[1] grants unprivileged access; APTable[0] withdraws it.  The EL2 regime has one privilege level.
  const ap1 = !single && ((d >> 6n) & 1n) === 1n && (t.attrs.apTable & 1) === 0;
  const uxn = ((d >> 54n) & 1n) === 1n || t.attrs.uxnTable;
  const pxn = single ? false : ((d >> 53n) & 1n) === 1n || t.attrs.pxnTable;
  const privileged = single || a.priv;
  const writable = !ap2;
  if (a.instr && !a.write) {
    // Instruction fetches need execute permission only (execute-only pages are valid, Arm ARM D8.4.1).
    // WXN works per privilege level: writable at that level means not executable at that level.
    if (single) return !uxn && !(ctx.wxn && writable);
    if (privileged) return !(pxn || (ap1 && writable) || (ctx.wxn && writable));
    return !(uxn || (ctx.wxn && ap1 && writable));
  }
  if (privileged) {
    // PAN: privileged data accesses to unprivileged-accessible memory fault.
    if (!single && ctx.pan && ap1) return false;
    return a.write ? writable : true;
  }
  if (!ap1) return false;
  return a.write ? writable : true;
}

/**
 * Stage-2 permission check (Arm ARM D8.4.3): S2AP[1:0] at bits [7:6] (bit 6
 * read, bit 7 write); XN at bit 54, or XN[1:0] at bits [54:53] with XNX.
 */
export function stage2Permits(t: Translation, xnx: boolean, a: AccessKind): boolean {
  const d = t.desc;
  const r = ((d >> 6n) & 1n) === 1n;
  const w = ((d >> 7n) & 1n) === 1n;
  if (a.instr && !a.write) {
    // Execute permission is independent of S2AP: stage-2 execute-only is valid (Arm ARM D8.4.3).
    const xn = Number((d >> 53n) & 3n);
    if (!xnx) return (xn & 2) === 0;
    // XN[1:0]: 00 executable, 01 not at EL1 (privileged), 10 not at all, 11 not at EL0 (unprivileged).
    if (xn === 2) return false;
    if (xn === 1) return !a.priv;
    if (xn === 3) return a.priv;
    return true;
  }
  return a.write ? w : r;
}

/** Stage-2 MemAttr[3:2] = 0b00 is Device memory (without FWB), which S2PTW forbids for stage-1 walks. */
export function stage2IsDevice(t: Translation): boolean {
  return ((t.desc >> 4n) & 3n) === 0n;
}
