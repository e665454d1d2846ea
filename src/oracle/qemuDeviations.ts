/**
 * The deviations of QEMU's SMMUv3 (7.2 and 10.0) from the architecture that
 * the QEMU cross-check (`smmu-replay oracle qemu`) found, one entry per
 * version, each with its spec section and a recogniser.  Documented with
 * evidence in docs/qemu-deviations.md.  Entries that hold for both versions
 * are made once per version (`forBoth`), so each version's list is complete
 * on its own.
 */
import { decodeCd } from '../model/cd.js';
import { decodeCommand } from '../model/commands.js';
import { fieldByName, fieldMask } from '../model/fields.js';
import { EABT } from '../model/memory.js';
import { CMDQ_CONS, EVENTQ_PROD, GERROR } from '../model/registers.js';
import { decodeSte } from '../model/ste.js';
import type { Smmu } from '../model/smmu.js';
import { queueLevels, type Deviation, type DeviationCase, type DifferenceKind, type OracleName, type ReadDeviationCase, type RegisterCase } from './deviations.js';

const TRANSLATION_FAULTS = new Set(['F_TRANSLATION', 'F_ADDR_SIZE', 'F_ACCESS', 'F_PERMISSION']);

interface Entry {
  readonly what: string;
  readonly spec: string;
  readonly summary: string;
  readonly aspects?: readonly DifferenceKind[];
  matches?(c: DeviationCase): boolean;
  matchesRegister?(c: RegisterCase): boolean;
  matchesRead?(c: ReadDeviationCase): boolean;
  readonly followsFrom?: Deviation['followsFrom'];
}

function make(oracle: OracleName, e: Entry): Deviation {
  return {
    id: `${oracle}/${e.what}`, oracles: [oracle], spec: e.spec, summary: e.summary,
    ...(e.aspects ? { aspects: e.aspects } : {}),
    matches: e.matches ?? (() => false),
    ...(e.matchesRegister ? { matchesRegister: e.matchesRegister } : {}),
    ...(e.matchesRead ? { matchesRead: e.matchesRead } : {}),
    ...(e.followsFrom ? { followsFrom: e.followsFrom } : {}),
  };
}

const forBoth = (e: Entry): Deviation[] => [make('qemu-7.2', e), make('qemu-10.0', e)];

/** The CD the model holds for a StreamID (cached, SubstreamID 0), for recognisers that need its fields. */
function cdOf(s: Smmu | undefined, sid: number): ReturnType<typeof decodeCd> | undefined {
  const q = s?.config.getCd(sid, 0)?.qwords;
  return q ? decodeCd(q) : undefined;
}

/** The STE the model holds for a StreamID (cached), for recognisers that need its fields. */
function steOf(s: Smmu | undefined, sid: number): ReturnType<typeof decodeSte> | undefined {
  const q = s?.config.getSte(sid)?.qwords;
  return q ? decodeSte(q) : undefined;
}

const field = (c: DeviationCase, name: string) => (c.difference?.kind === 'event-field' && c.difference.field === name ? c.difference : undefined);

const PNU: Entry = {
  what: 'event-pnu-zero',
  spec: 'IHI 0070 §7.3.13 (PnU: the privilege of the transaction)',
  summary: 'event records never set PnU: QEMU treats every DMA as a privileged access but records PnU=0 (unprivileged)',
  aspects: ['event-field'],
  matches: (c) => { const d = field(c, 'PnU'); return !!d && d.model === 1n && d.reference === 0n; },
};

const SPLIT: Entry = {
  what: 'event-per-4-bytes',
  spec: 'IHI 0070 §3.12 (one event record per faulting transaction), §7.3',
  summary: 'a faulting DMA of N bytes is retried by QEMU\'s memory core in 4-byte pieces, each translated and recorded: ceil(N/4) records whose InputAddr steps by 4',
  aspects: ['event-count'],
  matches: (c) => {
    const d = c.difference;
    if (d?.kind !== 'event-count' || d.model !== 1 || !c.size || d.reference !== Math.ceil(c.size / 4)) return false;
    const r = c.referenceEvents ?? [];
    const first = r[0];
    return !!first && r.every((e, i) => e.type === first.type && e.sid === first.sid && e.fields.InputAddr === c.addr + BigInt(4 * i));
  },
};

const CD_FETCH_ADDR: Entry = {
  what: 'cd-fetch-address-in-dw2',
  spec: 'IHI 0070 §7.3.10 (F_CD_FETCH: FetchAddr in DW3[55:3])',
  summary: 'F_CD_FETCH carries the fetch address in DW2 (the InputAddr slot) and leaves DW3, the FetchAddr field, zero',
  aspects: ['event-field'],
  matches: (c) => { const d = field(c, 'FetchAddr'); return !!d && d.event === 'F_CD_FETCH' && d.reference === 0n && d.model !== 0n; },
};

const RECINVSID: Entry = {
  what: 'recinvsid-ignored',
  spec: 'IHI 0070 §6.3.12 (SMMU_CR2.RECINVSID), §7.3.3',
  summary: 'C_BAD_STREAMID is recorded for an out-of-range StreamID although SMMU_CR2.RECINVSID=0 (QEMU never reads CR2)',
  matches: (c) => c.model.kind === 'abort' && /RECINVSID=0/.test(c.modelDetail) && c.reference.kind === 'fault' && c.reference.event === 'C_BAD_STREAMID',
};

const CR2_WHILE_ENABLED: Entry = {
  what: 'cr2-writable-while-enabled',
  spec: 'IHI 0070 §6.3.12 (SMMU_CR2 is read-only while SMMU_CR0.SMMUEN=1)',
  summary: 'a write to SMMU_CR2 while SMMUEN=1 is stored (the architecture ignores it)',
  matchesRegister: (c) => c.register === 'CR2' && c.smmu !== undefined && (c.smmu.reg('CR0') & 1n) === 1n,
};

const mask = (layout: Parameters<typeof fieldByName>[0], name: string) => fieldMask(fieldByName(layout, name)!);
const EVENTQ_ABT_ERR = Number(mask(GERROR, 'EVENTQ_ABT_ERR'));
const OVFLG = mask(EVENTQ_PROD, 'OVFLG');

/**
 * The event queue full: the architecture loses the record and toggles
 * EVENTQ_PROD.OVFLG; QEMU loses it and activates GERROR.EVENTQ_ABT_ERR.
 * Recognised only where QEMU's queue was full: OVFLG set in the model alone
 * while QEMU's queue was already full before the piece (so QEMU lost the
 * record too), EVENTQ_ABT_ERR set in QEMU alone while its queue is full.
 * From then on the two flags stay apart until software acknowledges them, so
 * later differences in exactly those two flags (in a DMA row, in a GERROR or
 * EVENTQ_PROD read) follow from it, and nothing else does.
 */
const EVENTQ_FULL: Entry = {
  what: 'eventq-full-abort-error',
  spec: 'IHI 0070 §7.4 (event queue overflow: OVFLG toggles, records are lost), §7.2',
  summary: 'with the event queue full, QEMU activates GERROR.EVENTQ_ABT_ERR instead of toggling EVENTQ_PROD.OVFLG',
  aspects: ['gerror', 'ovflg'],
  matches: (c) => {
    const d = c.difference;
    if (!c.eventq) return false;
    const l = queueLevels(c.eventq);
    if (d?.kind === 'ovflg') return d.model && !d.reference && l.referenceBefore === c.eventq.entries;
    if (d?.kind === 'gerror') return d.bit === EVENTQ_ABT_ERR && (d.reference & EVENTQ_ABT_ERR) !== 0 && (d.model & EVENTQ_ABT_ERR) === 0 && l.referenceAfter === c.eventq.entries;
    return false;
  },
  followsFrom: {
    dma: (c) => c.difference?.kind === 'ovflg' || (c.difference?.kind === 'gerror' && c.difference.bit === EVENTQ_ABT_ERR),
    register: (c) => (c.register === 'GERROR' && c.bits === BigInt(EVENTQ_ABT_ERR)) || (c.register === 'EVENTQ_PROD' && c.bits === OVFLG),
  },
};

/**
 * Differences that follow from the rows already judged: the event records of
 * rows that were known deviations or were not replayed in QEMU (the drift)
 * moved the two producer indexes apart.  A register read of EVENTQ_PROD whose
 * index differs by exactly the drift; and a DMA at which one side's queue was
 * full and the other's was not, by exactly the drift: the full side lost its
 * records (event-count), and where that was the model, toggled OVFLG, which
 * then stays set (later OVFLG differences follow from it).
 */
const CARRIED: Entry = {
  what: 'carried-event-count',
  spec: 'IHI 0070 §3.5 (queue indexes), §7.4 (overflow); follows from the rows already reported',
  summary: 'EVENTQ_PROD, and which side\'s event queue is full, differ by exactly the records of earlier rows that were known deviations or not replayed in QEMU',
  aspects: ['event-count', 'ovflg'],
  matches: (c) => {
    const q = c.eventq;
    const d = c.difference;
    if (!q || q.drift === 0) return false;
    const l = queueLevels(q);
    if (l.referenceBefore - l.modelBefore !== q.drift) return false;
    const modelOnlyFull = l.modelBefore === q.entries && l.referenceBefore < q.entries;
    const referenceOnlyFull = l.referenceBefore === q.entries && l.modelBefore < q.entries;
    if (d?.kind === 'event-count') {
      return (modelOnlyFull && d.model === 0 && d.reference > 0) || (referenceOnlyFull && d.reference === 0 && d.model > 0);
    }
    if (d?.kind === 'ovflg') return modelOnlyFull && d.model && !d.reference;
    return false;
  },
  matchesRegister: (c) => {
    if (c.register !== 'EVENTQ_PROD' || c.extraReferenceEvents === 0 || !c.smmu || (c.bits & OVFLG) !== 0n) return false;
    const log2 = Math.min(Number(c.smmu.reg('EVENTQ_BASE') & 0x1fn), c.smmu.features.eventqs);
    const mask = (1 << (log2 + 1)) - 1;
    return ((Number(c.model & 0xfffffn) + c.extraReferenceEvents) & mask) === (Number(c.reference) & mask);
  },
  followsFrom: {
    dma: (c) => c.difference?.kind === 'ovflg' && c.difference.model && !c.difference.reference,
    register: (c) => c.register === 'EVENTQ_PROD' && c.bits === OVFLG && (c.model & OVFLG) !== 0n,
  },
};

const S1CDMAX: Entry = {
  what: 's1cdmax-without-substreams',
  spec: 'IHI 0070 §5.2 (STE.S1CDMax is ignored when SMMU_IDR1.SSIDSIZE=0)',
  summary: 'an STE with S1CDMax != 0 is C_BAD_STE although the SMMU has no substreams (SSIDSIZE=0), where the field is ignored',
  matches: (c) => c.reference.kind === 'fault' && c.reference.event === 'C_BAD_STE' && c.smmu?.features.ssidSize === 0 && (steOf(c.smmu, c.sid)?.S1CDMax ?? 0n) !== 0n,
};

// QEMU 7.2 only.  Shown both by the cross-check (the record QEMU wrote for a DMA) and by the imported
// capture traces/linux-6.1-qemu-7.2 (doubleword 1 of a record the driver read back).
const CLASS_ZERO: Entry = {
  what: 'event-class-cd',
  spec: 'IHI 0070 §7.3.13 (CLASS: IN for a fault on the input address, TT on a table walk)',
  summary: 'QEMU 7.2 never fills CLASS: a stage-1 F_TRANSLATION, F_ADDR_SIZE, F_ACCESS or F_PERMISSION record says CLASS=CD (0b00) where the architecture says CLASS=IN (0b10)',
  aspects: ['event-field'],
  matches: (c) => { const d = field(c, 'CLASS'); return !!d && TRANSLATION_FAULTS.has(d.event) && d.reference === 0n && d.model !== 0n; },
  // The driver read doubleword 1 of an event record the model wrote for a stage-1 fault with CLASS=IN,
  // and the emulator's doubleword differs from the model's in CLASS alone, which is 0b00 there.
  matchesRead: (c) => {
    const e = c.record?.event;
    if (!c.record || c.record.qword !== 1 || c.size !== 8 || (c.addr & 7n) !== 0n || !e) return false;
    if (!TRANSLATION_FAULTS.has(e.type)) return false;
    const CLASS = 3n << 40n;
    return e.fields.S2 === 0n && e.fields.CLASS === 2n && c.reference === (c.model & ~CLASS);
  },
};

const IOVA_48: Entry = {
  what: 'iova-beyond-48-bits',
  spec: 'IHI 0070 §3.4.1 (an input address beyond the VA range is a translation fault)',
  summary: 'QEMU 7.2\'s IOMMU region is 2^48 bytes: a DMA to an address at or above 2^48 never reaches the SMMU (no translation, no record)',
  matches: (c) => c.addr >= 1n << 48n && c.reference.kind === 'abort',
};

/** The command the model's queue stopped at with CERROR_ILL, by name, if it did. */
export function stoppedAtIllegal(s: Smmu | undefined): string | undefined {
  if (!s || (Number(s.reg('GERROR') ^ s.reg('GERRORN')) & 1) === 0) return undefined;
  const cons = Number(s.reg('CMDQ_CONS'));
  if (((cons >> 24) & 0x7f) !== 1) return undefined;
  const base = s.reg('CMDQ_BASE');
  const log2 = Math.min(Number(base & 0x1fn), s.features.cmdqs);
  const qbase = base & 0x00ff_ffff_ffff_ffe0n & ~((16n << BigInt(log2)) - 1n);
  const w = s.memory.readQwords(qbase + BigInt(cons & ((1 << log2) - 1)) * 16n, 2);
  if (w === EABT) return undefined;
  return decodeCommand(w[0]!, w[1]!).def?.name;
}

/** Commands QEMU consumes without checking that the SMMU has the feature they need. */
function silentlyAccepted(name: string | undefined, s2p: boolean): boolean {
  if (!name) return false;
  if (/^TLBI_EL[23]_|^ATC_INV$|^PRI_RESP$|^RESUME$|^STALL_TERM$/.test(name)) return true;
  return !s2p && /^TLBI_S12_VMALL$|^TLBI_S2_IPA$/.test(name);
}

/** The model's command queue is stopped (CERROR_ILL) at a command QEMU consumes silently. */
const stoppedAtAccepted = (s: Smmu | undefined) => silentlyAccepted(stoppedAtIllegal(s), s?.features.s2p ?? false);
const CMDQ_ERR = Number(mask(GERROR, 'CMDQ_ERR'));
const CMDQ_CONS_ERR = mask(CMDQ_CONS, 'ERR');
const CERROR_ILL = 1n;

/**
 * Recognised while the model's queue is stopped at such a command: GERROR's
 * CMDQ_ERR bit set in the model alone, and CMDQ_CONS.  Once software has
 * acknowledged the error (GERRORN) the model's queue runs again, but the
 * CMDQ_ERR bit stays toggled once more than QEMU's, and the model's
 * CMDQ_CONS.ERR keeps CERROR_ILL: those two, and nothing else, follow from it.
 */
const ILL_ACCEPTED: Entry = {
  what: 'commands-accepted-without-feature',
  spec: 'IHI 0070 §4.1.3, §4.4 (a command for a feature the SMMU does not implement is CERROR_ILL)',
  summary: 'commands for features QEMU lacks (stage-2 TLBIs without S2P in 7.2, EL2/EL3 TLBIs, ATC_INV, PRI_RESP, RESUME, STALL_TERM) are consumed silently where the architecture stops the queue with CERROR_ILL; from then on the two command queues differ',
  aspects: ['gerror'],
  matches: (c) => {
    const d = c.difference;
    return d?.kind === 'gerror' && d.bit === CMDQ_ERR && (d.model & CMDQ_ERR) !== 0 && (d.reference & CMDQ_ERR) === 0 && stoppedAtAccepted(c.smmu);
  },
  matchesRegister: (c) => ((c.register === 'GERROR' && c.bits === BigInt(CMDQ_ERR) && (c.model & BigInt(CMDQ_ERR)) !== 0n) || c.register === 'CMDQ_CONS') && stoppedAtAccepted(c.smmu),
  followsFrom: {
    dma: (c) => c.difference?.kind === 'gerror' && c.difference.bit === CMDQ_ERR,
    register: (c) => (c.register === 'GERROR' && c.bits === BigInt(CMDQ_ERR))
      || (c.register === 'CMDQ_CONS' && (c.bits & ~CMDQ_CONS_ERR) === 0n && (c.model & CMDQ_CONS_ERR) >> BigInt(fieldByName(CMDQ_CONS, 'ERR')!.lo) === CERROR_ILL),
  },
};

// QEMU 10.0: stage 2 and nesting.
const config = (c: DeviationCase) => steOf(c.smmu, c.sid)?.Config;

const S2_ON_TABLE: Entry = {
  what: 'nested-table-s2-fault-as-stage-1',
  spec: 'IHI 0070 §7.3.13, §7.3.16, §3.12 (a stage-2 fault on a stage-1 table IPA has S2=1, CLASS=TT)',
  summary: 'a stage-2 fault while translating a stage-1 table IPA during the walk is recorded with S2=0 (and follows CD.R instead of STE.S2R)',
  aspects: ['event-field'],
  matches: (c) => {
    const d = field(c, 'S2');
    return !!d && d.model === 1n && d.reference === 0n && c.modelEvents?.[d.index]?.fields.CLASS === 1n;
  },
};

const EPD_NESTED: Entry = {
  what: 'nested-disabled-ttb-translated',
  spec: 'IHI 0070 §5.4 (CD.EPD0/EPD1: a walk that would use a disabled TTB is a stage-1 F_TRANSLATION, CLASS=IN)',
  summary: 'in nested mode QEMU translates the TTB0 IPA through stage 2 when the CD is decoded even with EPD0=1, and records that stage-2 fault (S2=1, CLASS=CD, RnW=1, the TTB IPA) instead of the stage-1 translation fault',
  aspects: ['event-field'],
  matches: (c) => {
    const d = c.difference;
    if (d?.kind !== 'event-field' || !['S2', 'CLASS', 'IPA', 'RnW'].includes(d.field)) return false;
    return /TTB\d disabled \(EPD\d=1\)/.test(c.modelDetail) && config(c) === 7n && c.referenceEvents?.[d.index]?.fields.S2 === 1n;
  },
};

const CONFIG_RNW: Entry = {
  what: 'config-fault-rnw-read',
  spec: 'IHI 0070 §7.3.13, §7.3.16 (RnW: the direction of the incoming transaction)',
  summary: 'a fault raised while fetching the CD (CLASS=CD) or translating the TTB0 IPA through stage 2 carries RnW=1 (read) for a write: QEMU makes those translations as reads',
  aspects: ['event-field'],
  matches: (c) => {
    const d = field(c, 'RnW');
    const ev = d ? c.modelEvents?.[d.index] : undefined;
    if (!d || !ev || c.access !== 'w' || d.model !== 0n || d.reference !== 1n) return false;
    if (ev.fields.CLASS === 0n) return true;
    // The first stage-1 table: a stage-2 fault (S2=1, CLASS=TT) on exactly the CD's TTB0 IPA.
    const ttb0 = cdOf(c.smmu, c.sid)?.TTB0;
    return ev.fields.S2 === 1n && ev.fields.CLASS === 1n && ttb0 !== undefined && ev.fields.IPA === (ttb0 & ~0xfffn);
  },
};

const S1_BYPASS_ADDR_SIZE: Entry = {
  what: 's1-bypass-addr-size-not-recorded',
  spec: 'IHI 0070 §3.4, §3.12, §7.3.14 (an input beyond the IAS with stage 1 bypassed is a stage-1 F_ADDR_SIZE, always recorded)',
  summary: 'with stage 1 bypassed (Config=0b110) an input address at or above 2^IAS is aborted without a record',
  matches: (c) => c.model.kind === 'fault' && c.model.event === 'F_ADDR_SIZE' && /stage-1 bypass address beyond the IAS/.test(c.modelDetail) && c.reference.kind === 'abort',
};

/** Whether the stage-2 start level of this STE is a set of concatenated tables and `ipa` is beyond the first one. */
function beyondFirstConcatenatedTable(s: Smmu | undefined, sid: number, ipa: bigint): boolean {
  const f = steOf(s, sid);
  if (!f) return false;
  const g = f.S2TG === 0n ? 12 : f.S2TG === 2n ? 14 : f.S2TG === 1n ? 16 : 0;
  if (g === 0) return false;
  const stride = g - 3;
  const sl0 = Number(f.S2SL0);
  // Start level for S2SL0 (Arm ARM VTCR_EL2.SL0): 4K: 2 - SL0; 16K/64K: 3 - SL0.
  const start = g === 12 ? 2 - sl0 : 3 - sl0;
  const shift = g + (3 - start) * stride;
  const oneTable = shift + stride;
  return 64 - Number(f.S2T0SZ) > oneTable && ipa >= 1n << BigInt(oneTable);
}

const S2_CONCAT: Entry = {
  what: 's2-concatenated-tables',
  spec: 'Arm ARM D8.2.7 (concatenated translation tables at the stage-2 initial lookup level); IHI 0070 §5.2 STE.S2SL0',
  summary: 'with concatenated stage-2 start tables QEMU indexes only the first table: an IPA beyond it aliases into it',
  matches: (c) => config(c) === 6n && beyondFirstConcatenatedTable(c.smmu, c.sid, c.addr),
};

export const QEMU_CROSSCHECK_DEVIATIONS: Deviation[] = [
  ...forBoth(PNU),
  ...forBoth(SPLIT),
  ...forBoth(RECINVSID),
  ...forBoth(CD_FETCH_ADDR),
  ...forBoth(CR2_WHILE_ENABLED),
  ...forBoth(EVENTQ_FULL),
  ...forBoth(S1CDMAX),
  ...forBoth(CARRIED),
  ...forBoth(ILL_ACCEPTED),
  make('qemu-7.2', CLASS_ZERO),
  make('qemu-10.0', S2_ON_TABLE),
  make('qemu-10.0', EPD_NESTED),
  make('qemu-10.0', CONFIG_RNW),
  make('qemu-10.0', S1_BYPASS_ADDR_SIZE),
  make('qemu-10.0', S2_CONCAT),
  make('qemu-7.2', IOVA_48),
];
