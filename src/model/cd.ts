/**
 * CD, the Context Descriptor (IHI0070 §5.4), and the L1CD of 2-level CD
 * tables (§5.3): layouts, decode, and the ILLEGAL rules that make a CD
 * produce C_BAD_CD (§5.4, the ILLEGAL notes under each field).
 */
import { decode, dw, type Decoded, type Layout } from './fields.js';
import { GRANULES, levelShift, stage1StartLevel, type Granule } from './granule.js';
import { oasBits, type Features } from './profiles.js';
import { granuleSupported, type StreamWorld } from './ste.js';

const S = 'IHI0070 §5.4';
const IRGN = { 0: 'NC', 1: 'WBRAWA', 2: 'WTRA', 3: 'WBRAnWA' } as const;
const SHARE = { 0: 'NSH', 2: 'OSH', 3: 'ISH' } as const;

const cdFields = [
  dw('T0SZ', 0, 5, 0, S, { dec: true }),
  dw('TG0', 0, 7, 6, S, { enum: { 0: '4K', 1: '64K', 2: '16K' } }),
  dw('IR0', 0, 9, 8, S, { enum: IRGN }),
  dw('OR0', 0, 11, 10, S, { enum: IRGN }),
  dw('SH0', 0, 13, 12, S, { enum: SHARE }),
  dw('EPD0', 0, 14, 14, S),
  dw('ENDI', 0, 15, 15, S),
  dw('T1SZ', 0, 21, 16, S, { dec: true }),
  // TG1 uses a different encoding from TG0 (as TCR_EL1.TG1 does).
  dw('TG1', 0, 23, 22, S, { enum: { 1: '16K', 2: '4K', 3: '64K' } }),
  dw('IR1', 0, 25, 24, S, { enum: IRGN }),
  dw('OR1', 0, 27, 26, S, { enum: IRGN }),
  dw('SH1', 0, 29, 28, S, { enum: SHARE }),
  dw('EPD1', 0, 30, 30, S),
  dw('V', 0, 31, 31, S),
  dw('IPS', 0, 34, 32, S, { enum: { 0: '32', 1: '36', 2: '40', 3: '42', 4: '44', 5: '48', 6: '52', 7: '56' } }),
  dw('AFFD', 0, 35, 35, S),
  dw('WXN', 0, 36, 36, S),
  dw('UWXN', 0, 37, 37, S),
  dw('TBI0', 0, 38, 38, S),
  dw('TBI1', 0, 39, 39, S),
  dw('PAN', 0, 40, 40, S),
  dw('AA64', 0, 41, 41, S),
  dw('HD', 0, 42, 42, S),
  dw('HA', 0, 43, 43, S),
  dw('S', 0, 44, 44, S),
  dw('R', 0, 45, 45, S),
  dw('A', 0, 46, 46, S),
  dw('ASET', 0, 47, 47, S),
  dw('ASID', 0, 63, 48, S),
  dw('NSCFG0', 1, 0, 0, S),
  dw('HAD0', 1, 1, 1, S),
  dw('E0PD0', 1, 2, 2, S),
  dw('HAFT', 1, 3, 3, S),
  dw('TTB0', 1, 51, 4, S, { addr: true }),
  dw('PnCH', 1, 58, 58, S),
  dw('EPAN', 1, 59, 59, S),
  dw('HWU0', 1, 63, 60, S),
  dw('NSCFG1', 2, 0, 0, S),
  dw('HAD1', 2, 1, 1, S),
  dw('E0PD1', 2, 2, 2, S),
  dw('AIE', 2, 3, 3, S),
  dw('TTB1', 2, 51, 4, S, { addr: true }),
  dw('DS', 2, 58, 58, S),
  dw('PIE', 2, 59, 59, S),
  dw('HWU1', 2, 63, 60, S),
  dw('MAIR0', 3, 31, 0, S),
  dw('MAIR1', 3, 63, 32, S),
  dw('AMAIR0', 4, 31, 0, S),
  dw('AMAIR1', 4, 63, 32, S),
  dw('IMPDEF', 5, 31, 0, S),
  dw('PARTID', 5, 47, 32, S),
  dw('PMG', 5, 55, 48, S),
  dw('PIIU', 6, 47, 0, S),
  dw('PIIP', 7, 47, 0, S),
] as const;

export type CdField = (typeof cdFields)[number]['name'];
export const CD_LAYOUT: Layout<CdField> = { name: 'CD', qwords: 8, fields: cdFields as unknown as Layout<CdField>['fields'] };
export type CdFields = Decoded<CdField>;

const l1cdFields = [
  dw('V', 0, 0, 0, 'IHI0070 §5.3'),
  dw('L2Ptr', 0, 55, 12, 'IHI0070 §5.3', { addr: true }),
] as const;
export type L1cdField = (typeof l1cdFields)[number]['name'];
export const L1CD_LAYOUT: Layout<L1cdField> = { name: 'L1CD', qwords: 1, fields: l1cdFields as unknown as Layout<L1cdField>['fields'] };

export function decodeCd(qwords: readonly bigint[]): CdFields {
  return decode(CD_LAYOUT, qwords);
}

/** One translation table of a CD (TTB0 or TTB1) as the stage-1 walk needs it. */
export interface TtbParams {
  readonly index: 0 | 1;
  readonly granule: Granule;
  /** Size of the region in bits: 64 - TxSZ. */
  readonly inputBits: number;
  readonly startLevel: number;
  /** Base of the start table, aligned to its size (lower bits treated as zero). */
  readonly ttb: bigint;
  readonly tbi: boolean;
  /** Hierarchical attribute disable (APTable/XNTable ignored), CD.HADx with SMMU_IDR3.HAD. */
  readonly had: boolean;
}

export interface CdParams {
  readonly asid: number;
  /** undefined when EPDx=1 (walks through that half disabled) or the half does not exist in this regime. */
  readonly ttb0: TtbParams | undefined;
  readonly ttb1: TtbParams | undefined;
  /** Two VA ranges (EL1, EL2-E2H) or one (EL2). */
  readonly twoRanges: boolean;
  /** Effective output size MIN(IPS, OAS) for address-size checks (§5.4 IPS). */
  readonly outputBits: number;
  readonly affd: boolean;
  readonly wxn: boolean;
  readonly pan: boolean;
  /** CD.R: record stage-1 translation-related faults (§3.12.2). */
  readonly record: boolean;
  /** CD.A: terminate with an abort (1) or RAZ/WI (0). */
  readonly abort: boolean;
  readonly stall: boolean;
  readonly mair: bigint;
}

export type CdVerdict =
  | { readonly kind: 'ok'; readonly cd: CdParams }
  | { readonly kind: 'illegal'; readonly reason: string }
  | { readonly kind: 'unsupported'; readonly reason: string };

export interface CdContext {
  readonly features: Features;
  readonly world: StreamWorld;
  /** STE.S1STALLD of the stream. */
  readonly s1stalld: boolean;
}

const TG0_GRANULE: Readonly<Record<number, Granule>> = { 0: GRANULES['4K'], 1: GRANULES['64K'], 2: GRANULES['16K'] };
const TG1_GRANULE: Readonly<Record<number, Granule>> = { 1: GRANULES['16K'], 2: GRANULES['4K'], 3: GRANULES['64K'] };

/**
 * Decide whether a CD is usable and extract what the walk needs.  Checks follow
 * the field order of §5.4; the first ILLEGAL condition found is reported.
 */
export function interpretCd(f: CdFields, ctx: CdContext): CdVerdict {
  const feat = ctx.features;
  if (f.V === 0n) return { kind: 'illegal', reason: 'CD.V=0' };
  if (f.AA64 === 0n) {
    if (!feat.ttfAArch32) return { kind: 'illegal', reason: 'AA64=0 without AArch32 table support (SMMU_IDR0.TTF)' };
    return { kind: 'unsupported', reason: 'AA64=0: AArch32 LPAE stage-1 tables are not modelled' };
  }
  if (!feat.ttfAArch64) return { kind: 'illegal', reason: 'AA64=1 without AArch64 table support (SMMU_IDR0.TTF)' };
  // §5.4 S, A, and the STE's S1STALLD (§5.2).
  if (f.S === 1n && ctx.s1stalld) return { kind: 'illegal', reason: 'CD.S=1 while STE.S1STALLD=1' };
  if (f.S === 1n && feat.stallModel === 1) return { kind: 'illegal', reason: 'CD.S=1 with SMMU_IDR0.STALL_MODEL=0b01 (terminate only)' };
  if (f.S === 0n && feat.stallModel === 2) return { kind: 'illegal', reason: 'CD.S=0 with SMMU_IDR0.STALL_MODEL=0b10 (stall forced)' };
  if (f.A === 0n && feat.termModel) return { kind: 'illegal', reason: 'CD.A=0 with SMMU_IDR0.TERM_MODEL=1 (abort only)' };
  // §5.4 HA/HD: {HD,HA} = 0b10 is reserved; either needs HTTU.
  if ((f.HA === 1n || f.HD === 1n) && feat.httu === 0) return { kind: 'illegal', reason: 'CD.HA/HD set with SMMU_IDR0.HTTU=0' };
  if (f.HD === 1n && (feat.httu === 1 || f.HA === 0n)) return { kind: 'illegal', reason: 'CD.HD=1 needs HA=1 and SMMU_IDR0.HTTU >= 0b10' };
  // §5.4 ASID: 8-bit ASIDs when SMMU_IDR0.ASID16=0 (ignored in the EL2 world without E2H).
  const asidUsed = ctx.world !== 'NS-EL2';
  if (asidUsed && !feat.asid16 && (f.ASID >> 8n) !== 0n) return { kind: 'illegal', reason: 'ASID[15:8] non-zero without SMMU_IDR0.ASID16' };

  const twoRanges = ctx.world !== 'NS-EL2';
  const outputBits = Math.min(oasBits(Number(f.IPS)), feat.oas);
  const ttbs: (TtbParams | undefined)[] = [];
  for (const idx of [0, 1] as const) {
    if (idx === 1 && !twoRanges) { ttbs.push(undefined); continue; }
    // §5.4 EPDx: in the single-range EL2 regime EPD0 is ignored (TTB0 always walks).
    const epd = idx === 0 ? (twoRanges && f.EPD0 === 1n) : f.EPD1 === 1n;
    if (epd) { ttbs.push(undefined); continue; }
    const tsz = Number(idx === 0 ? f.T0SZ : f.T1SZ);
    const g = (idx === 0 ? TG0_GRANULE : TG1_GRANULE)[Number(idx === 0 ? f.TG0 : f.TG1)];
    if (!g) return { kind: 'illegal', reason: `TG${idx} holds a reserved encoding` };
    if (!granuleSupported(feat, g)) return { kind: 'illegal', reason: `TG${idx} selects the unsupported ${g.name} granule` };
    const maxTsz = feat.stt ? (g.name === '64K' ? 47 : 48) : 39;
    const minTsz = feat.vaBits > 48 && (g.name === '64K' || f.DS === 1n) ? 12 : 16;
    if (tsz < minTsz || tsz > maxTsz) return { kind: 'illegal', reason: `T${idx}SZ=${tsz} outside [${minTsz}, ${maxTsz}]` };
    // §5.4 ENDI against SMMU_IDR0.TTENDIAN, checked for each enabled TTBx.
    if (f.ENDI === 1n && feat.ttendian === 2) return { kind: 'illegal', reason: 'ENDI=1 (big-endian) on a little-endian-only SMMU' };
    if (f.ENDI === 0n && feat.ttendian === 3) return { kind: 'illegal', reason: 'ENDI=0 on a big-endian-only SMMU' };
    const rawTtb = idx === 0 ? f.TTB0 : f.TTB1;
    // §5.4 TTBx: an address beyond the effective IPS, or above 48 bits for 4K/16K without DS, is ILLEGAL.
    if (rawTtb >= 1n << BigInt(outputBits)) return { kind: 'illegal', reason: `TTB${idx} 0x${rawTtb.toString(16)} exceeds the effective IPS (${outputBits} bits)` };
    if (g.name !== '64K' && f.DS === 0n && rawTtb >= 1n << 48n) return { kind: 'illegal', reason: `TTB${idx} above 48 bits without DS` };
    const n = 64 - tsz;
    const start = stage1StartLevel(g, n);
    const bytes = BigInt(8 << Math.min(n - levelShift(g, start), g.stride));
    ttbs.push({
      index: idx,
      granule: g,
      inputBits: n,
      startLevel: start,
      ttb: rawTtb & ~(bytes - 1n),
      tbi: (idx === 0 ? f.TBI0 : f.TBI1) === 1n,
      had: feat.had && (idx === 0 ? f.HAD0 : f.HAD1) === 1n,
    });
  }
  return {
    kind: 'ok',
    cd: {
      asid: asidUsed ? Number(f.ASID) : 0,
      ttb0: ttbs[0],
      ttb1: ttbs[1],
      twoRanges,
      outputBits,
      affd: f.AFFD === 1n,
      wxn: f.WXN === 1n,
      pan: f.PAN === 1n,
      record: f.R === 1n,
      abort: f.A === 1n,
      stall: f.S === 1n,
      mair: (f.MAIR1 << 32n) | f.MAIR0,
    },
  };
}

/** Fields the SMMU consults in a valid CD (summaries, semantic diffs). */
export function cdUsedFields(f: CdFields): CdField[] {
  if (f.V === 0n) return ['V'];
  const used: CdField[] = ['V', 'AA64', 'IPS', 'AFFD', 'WXN', 'PAN', 'HD', 'HA', 'S', 'R', 'A', 'ASET', 'ASID', 'ENDI', 'MAIR0', 'MAIR1'];
  if (f.EPD0 === 0n) used.push('T0SZ', 'TG0', 'IR0', 'OR0', 'SH0', 'TBI0', 'HAD0', 'TTB0');
  used.push('EPD0');
  if (f.EPD1 === 0n) used.push('T1SZ', 'TG1', 'IR1', 'OR1', 'SH1', 'TBI1', 'HAD1', 'TTB1');
  used.push('EPD1');
  return used;
}
