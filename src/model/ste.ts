/**
 * STE, the Stream Table Entry (IHI0070 §5.2): its field layout, its decode
 * into the configuration the translation pipeline uses, and every ILLEGAL
 * rule of the Non-secure programming interface (§5.2, "ILLEGAL" notes under
 * each field).
 */
import { decode, dw, type Decoded, type Layout } from './fields.js';
import { GRANULES, levelShift, stage2Concatenation, stage2StartLevel, type Granule } from './granule.js';
import { oasBits, type Features } from './profiles.js';

const S = 'IHI0070 §5.2';

export const CONFIG_NAMES = { 0: 'abort', 4: 'bypass', 5: 'S1', 6: 'S2', 7: 'nested' } as const;
const ATTR_CACHE = { 0: 'NC', 1: 'WBRA', 2: 'WTRA', 3: 'WBnRA' } as const;
const S2_CACHE = { 0: 'NC', 1: 'WBRAWA', 2: 'WTRA', 3: 'WBRAnWA' } as const;
const SHARE = { 0: 'NSH', 2: 'OSH', 3: 'ISH' } as const;
const PS = { 0: '32', 1: '36', 2: '40', 3: '42', 4: '44', 5: '48', 6: '52', 7: '56' } as const;

const steFields = [
  dw('V', 0, 0, 0, S),
  dw('Config', 0, 3, 1, S, { enum: CONFIG_NAMES }),
  dw('S1Fmt', 0, 5, 4, S, { enum: { 0: 'linear', 1: '2lvl-4K', 2: '2lvl-64K' } }),
  dw('S1ContextPtr', 0, 55, 6, S, { addr: true }),
  dw('S1CDMax', 0, 63, 59, S, { dec: true }),
  dw('S1DSS', 1, 1, 0, S, { enum: { 0: 'terminate', 1: 'bypass', 2: 'substream0' } }),
  dw('S1CIR', 1, 3, 2, S, { enum: ATTR_CACHE }),
  dw('S1COR', 1, 5, 4, S, { enum: ATTR_CACHE }),
  dw('S1CSH', 1, 7, 6, S, { enum: SHARE }),
  dw('S2HWU59', 1, 8, 8, S), dw('S2HWU60', 1, 9, 9, S), dw('S2HWU61', 1, 10, 10, S), dw('S2HWU62', 1, 11, 11, S),
  dw('DRE', 1, 12, 12, S),
  dw('CONT', 1, 16, 13, S, { dec: true }),
  dw('DCP', 1, 17, 17, S),
  dw('PPAR', 1, 18, 18, S),
  dw('MEV', 1, 19, 19, S),
  dw('SW_RESERVED', 1, 23, 20, S),
  dw('S1PIE', 1, 24, 24, S),
  dw('S2FWB', 1, 25, 25, S),
  dw('S1MPAM', 1, 26, 26, S),
  dw('S1STALLD', 1, 27, 27, S),
  dw('EATS', 1, 29, 28, S, { enum: { 0: 'abort', 1: 'full', 2: 'split', 3: 'full+DPT' } }),
  dw('STRW', 1, 31, 30, S, { enum: { 0: 'EL1', 2: 'EL2' } }),
  dw('MemAttr', 1, 35, 32, S),
  dw('MTCFG', 1, 36, 36, S),
  dw('ALLOCCFG', 1, 40, 37, S),
  dw('SHCFG', 1, 45, 44, S, { enum: { 0: 'NSH', 1: 'incoming', 2: 'OSH', 3: 'ISH' } }),
  dw('NSCFG', 1, 47, 46, S),
  dw('PRIVCFG', 1, 49, 48, S, { enum: { 0: 'incoming', 2: 'unpriv', 3: 'priv' } }),
  dw('INSTCFG', 1, 51, 50, S, { enum: { 0: 'incoming', 2: 'data', 3: 'instr' } }),
  dw('IMPDEF1', 1, 63, 52, S),
  dw('S2VMID', 2, 15, 0, S),
  dw('IMPDEF2', 2, 31, 16, S),
  dw('S2T0SZ', 2, 37, 32, S, { dec: true }),
  dw('S2SL0', 2, 39, 38, S, { dec: true }),
  dw('S2IR0', 2, 41, 40, S, { enum: S2_CACHE }),
  dw('S2OR0', 2, 43, 42, S, { enum: S2_CACHE }),
  dw('S2SH0', 2, 45, 44, S, { enum: SHARE }),
  dw('S2TG', 2, 47, 46, S, { enum: { 0: '4K', 1: '64K', 2: '16K' } }),
  dw('S2PS', 2, 50, 48, S, { enum: PS }),
  dw('S2AA64', 2, 51, 51, S),
  dw('S2ENDI', 2, 52, 52, S),
  dw('S2AFFD', 2, 53, 53, S),
  dw('S2PTW', 2, 54, 54, S),
  dw('S2HD', 2, 55, 55, S),
  dw('S2HA', 2, 56, 56, S),
  dw('S2S', 2, 57, 57, S),
  dw('S2R', 2, 58, 58, S),
  dw('S2HAFT', 2, 59, 59, S),
  dw('S2PIE', 2, 60, 60, S),
  dw('S2POE', 2, 61, 61, S),
  dw('DPT_VMATCH', 2, 63, 62, S),
  dw('S2NSW', 3, 0, 0, S),
  dw('S2NSA', 3, 1, 1, S),
  dw('S2SL0_2', 3, 2, 2, S),
  dw('S2DS', 3, 3, 3, S),
  dw('S2TTB', 3, 51, 4, S, { addr: true }),
  dw('S2SKL', 3, 62, 61, S),
  dw('IMPDEF4', 4, 15, 0, S),
  dw('PARTID', 4, 31, 16, S),
  dw('S_S2T0SZ', 4, 37, 32, S),
  dw('S_S2SL0', 4, 39, 38, S),
  dw('S_S2TG', 4, 47, 46, S),
  dw('MECID', 4, 63, 48, S),
  dw('PMG', 5, 7, 0, S),
  dw('MPAM_NS', 5, 8, 8, S),
  dw('AssuredOnly', 5, 9, 9, S),
  dw('TL0', 5, 10, 10, S),
  dw('TL1', 5, 11, 11, S),
  dw('VMSPtr', 5, 55, 12, S, { addr: true }),
  dw('S2SW', 6, 0, 0, S),
  dw('S2SA', 6, 1, 1, S),
  dw('S_S2SL0_2', 6, 2, 2, S),
  dw('S_S2TTB', 6, 55, 4, S, { addr: true }),
  dw('S_S2SKL', 6, 62, 61, S),
  dw('S2POI', 7, 63, 0, S),
] as const;

export type SteField = (typeof steFields)[number]['name'];
export const STE_LAYOUT: Layout<SteField> = { name: 'STE', qwords: 8, fields: steFields as unknown as Layout<SteField>['fields'] };
export type SteFields = Decoded<SteField>;

export function decodeSte(qwords: readonly bigint[]): SteFields {
  return decode(STE_LAYOUT, qwords);
}

/** Which translation regime a stage-1 STE selects (StreamWorld, §5.2 STRW and §3.3.3). */
export type StreamWorld = 'NS-EL1' | 'NS-EL2' | 'NS-EL2-E2H';

export interface S2Params {
  readonly vmid: number;
  readonly granule: Granule;
  /** Input size in bits, 64 - S2T0SZ. */
  readonly inputBits: number;
  readonly startLevel: number;
  readonly concat: number;
  readonly ttb: bigint;
  /** Effective output size for address-size checks: MIN(S2PS, OAS) (§5.2 S2PS). */
  readonly outputBits: number;
  readonly affd: boolean;
  readonly ptw: boolean;
  readonly record: boolean; // S2R
  readonly stall: boolean; // S2S
}

export interface S1Params {
  readonly contextPtr: bigint;
  readonly cdMax: number;
  readonly fmt: number;
  readonly dss: number;
  readonly s1stalld: boolean;
  readonly world: StreamWorld;
}

export type SteVerdict =
  | { readonly kind: 'invalid' }
  | { readonly kind: 'illegal'; readonly reason: string }
  | { readonly kind: 'unsupported'; readonly reason: string }
  | { readonly kind: 'abort' }
  | { readonly kind: 'bypass' }
  | {
    readonly kind: 'translate';
    readonly s1: S1Params | undefined;
    readonly s2: S2Params | undefined;
    /** VMID tag for stage-1-only EL1 traffic when stage 2 is implemented (§5.2 S2VMID). */
    readonly vmid: number;
  };

export interface SteContext {
  readonly features: Features;
  /** CR2.E2H, which turns STRW=EL2 into the EL2-E2H regime (§6.3.12). */
  readonly e2h: boolean;
}

const S2TG_GRANULE: Readonly<Record<number, Granule>> = { 0: GRANULES['4K'], 1: GRANULES['64K'], 2: GRANULES['16K'] };

export function granuleSupported(f: Features, g: Granule): boolean {
  return g.name === '4K' ? f.gran4k : g.name === '16K' ? f.gran16k : f.gran64k;
}

/**
 * Decide what an STE does (IHI0070 §5.2).  The checks run in the order the
 * field descriptions give them; the first ILLEGAL condition found is the
 * reason reported (the architecture reports only C_BAD_STE, the reason is
 * for people).
 */
export function interpretSte(f: SteFields, ctx: SteContext): SteVerdict {
  const feat = ctx.features;
  if (f.V === 0n) return { kind: 'invalid' };
  const config = Number(f.Config);
  // §5.2 Config: 0b000 aborts without an event; 0b001-0b011 are reserved and behave as 0b000.
  if ((config & 4) === 0) return { kind: 'abort' };
  const s1 = (config & 1) === 1;
  const s2 = (config & 2) === 2;
  if (s1 && !feat.s1p) return { kind: 'illegal', reason: 'Config enables stage 1 but SMMU_IDR0.S1P=0' };
  if (s2 && !feat.s2p) return { kind: 'illegal', reason: 'Config enables stage 2 but SMMU_IDR0.S2P=0' };

  // §5.2 EATS (only meaningful when SMMU_IDR0.ATS=1; otherwise RES0 and ignored).
  if (feat.ats && config !== 4) {
    const eats = Number(f.EATS);
    if (eats === 2 && (config !== 7 || f.S2S === 1n || feat.ns1ats)) {
      return { kind: 'illegal', reason: 'EATS=0b10 (split-stage ATS) needs Config=nested, S2S=0 and SMMU_IDR0.NS1ATS=0' };
    }
    if (eats === 3) return { kind: 'illegal', reason: 'EATS=0b11 needs DPT (SMMU_IDR3.DPT=0)' };
    if ((eats === 1) && s2 && f.S2S === 1n) return { kind: 'illegal', reason: 'EATS enables ATS with S2S=1' };
  }

  if (config === 4) return { kind: 'bypass' };

  // §5.2 S2VMID: used when stage 2 is enabled, and as the VMID tag of EL1 stage-1-only traffic when S2P=1.
  let world: StreamWorld = 'NS-EL1';
  if (s1 && !s2 && feat.hyp) {
    // §5.2 STRW: 0b00 EL1, 0b10 EL2 or EL2-E2H by CR2.E2H; 0bx1 ILLEGAL.  Ignored for Config 0b11x.
    const strw = Number(f.STRW);
    if ((strw & 1) === 1) return { kind: 'illegal', reason: `STRW=0b${strw.toString(2).padStart(2, '0')} is ILLEGAL` };
    if (strw === 2) world = ctx.e2h ? 'NS-EL2-E2H' : 'NS-EL2';
  }
  const vmidUsed = s2 || (feat.s2p && world === 'NS-EL1');
  if (vmidUsed && !feat.vmid16 && (f.S2VMID >> 8n) !== 0n) {
    return { kind: 'illegal', reason: 'S2VMID[15:8] non-zero without SMMU_IDR0.VMID16' };
  }

  let s1p: S1Params | undefined;
  if (s1) {
    // §5.2 S1STALLD: ILLEGAL when the stall model is not 0b00.
    if (f.S1STALLD === 1n && feat.stallModel !== 0) return { kind: 'illegal', reason: 'S1STALLD=1 with SMMU_IDR0.STALL_MODEL != 0b00' };
    const cdMax = Number(f.S1CDMax);
    // §5.2 S1CDMax: ignored when SSIDSIZE=0; otherwise values above SSIDSIZE are ILLEGAL.
    const effCdMax = feat.ssidSize === 0 ? 0 : cdMax;
    if (feat.ssidSize !== 0 && cdMax > feat.ssidSize) return { kind: 'illegal', reason: `S1CDMax=${cdMax} exceeds SMMU_IDR1.SSIDSIZE=${feat.ssidSize}` };
    const fmt = Number(f.S1Fmt);
    // §5.2 S1Fmt: ignored when S1CDMax is 0; 2-level formats need SMMU_IDR0.CD2L; 0b11 behaves as linear.
    if (effCdMax !== 0 && (fmt === 1 || fmt === 2) && !feat.cd2l) return { kind: 'illegal', reason: 'S1Fmt selects a 2-level CD table without SMMU_IDR0.CD2L' };
    // §5.2 S1ContextPtr (SMMUv3.1+): out of range of the IAS (stage 2 on) or OAS (stage 2 off) is ILLEGAL.
    const ptrBits = s2 ? feat.ias : feat.oas;
    if (feat.archMinor >= 1 && f.S1ContextPtr >= 1n << BigInt(ptrBits)) {
      return { kind: 'illegal', reason: `S1ContextPtr 0x${f.S1ContextPtr.toString(16)} exceeds the ${s2 ? 'IAS' : 'OAS'} (${ptrBits} bits)` };
    }
    s1p = {
      contextPtr: f.S1ContextPtr,
      cdMax: effCdMax,
      fmt: effCdMax === 0 ? 0 : fmt === 3 ? 0 : fmt,
      dss: Number(f.S1DSS),
      s1stalld: f.S1STALLD === 1n,
      world: s2 ? 'NS-EL1' : world,
    };
  }

  let s2p: S2Params | undefined;
  if (s2) {
    const r = interpretStage2(f, feat);
    if (typeof r === 'string') return { kind: 'illegal', reason: r };
    if ('unsupported' in r) return { kind: 'unsupported', reason: r.unsupported };
    s2p = r;
  }
  return { kind: 'translate', s1: s1p, s2: s2p, vmid: Number(f.S2VMID) };
}

/** The stage-2 fields of an STE with stage 2 enabled, with their ILLEGAL rules (§5.2 S2*). */
function interpretStage2(f: SteFields, feat: Features): S2Params | string | { unsupported: string } {
  if (f.S2S === 1n && feat.stallModel === 1) return 'S2S=1 with SMMU_IDR0.STALL_MODEL=0b01 (terminate only)';
  if (f.S2S === 0n && feat.stallModel === 2) return 'S2S=0 with SMMU_IDR0.STALL_MODEL=0b10 (stall forced)';
  if (f.S2AA64 === 1n && !feat.ttfAArch64) return 'S2AA64=1 without AArch64 table support (SMMU_IDR0.TTF)';
  if (f.S2AA64 === 0n) {
    if (!feat.ttfAArch32) return 'S2AA64=0 without AArch32 table support (SMMU_IDR0.TTF)';
    return { unsupported: 'S2AA64=0: AArch32 LPAE stage-2 tables are not modelled' };
  }
  if ((f.S2HA === 1n || f.S2HD === 1n) && feat.httu === 0) return 'S2HA/S2HD set with SMMU_IDR0.HTTU=0';
  if (f.S2HD === 1n && feat.httu === 1) return 'S2HD=1 with SMMU_IDR0.HTTU=0b01 (access flag only)';
  const g = S2TG_GRANULE[Number(f.S2TG)];
  if (!g) return 'S2TG=0b11 is reserved';
  if (!granuleSupported(feat, g)) return `S2TG selects the unsupported ${g.name} granule`;
  if (f.S2ENDI === 1n && feat.ttendian === 2) return 'S2ENDI=1 (big-endian) on a little-endian-only SMMU';
  if (f.S2ENDI === 0n && feat.ttendian === 3) return 'S2ENDI=0 (little-endian) on a big-endian-only SMMU';
  const t0sz = Number(f.S2T0SZ);
  const maxT0sz = feat.stt ? (g.name === '64K' ? 47 : 48) : 39;
  // §5.2 S2T0SZ (v3.1): the minimum follows the IAS: MAX(16, 64 - IAS) for 4K/16K and 64 - IAS for 64K.
  const minT0sz = g.name === '64K' ? 64 - feat.ias : Math.max(16, 64 - feat.ias);
  if (t0sz > maxT0sz || t0sz < minT0sz) return `S2T0SZ=${t0sz} outside [${minT0sz}, ${maxT0sz}]`;
  const inputBits = 64 - t0sz;
  const sl0 = Number(f.S2SL0);
  const start = stage2StartLevel(g, sl0);
  if (start === undefined) return `S2SL0=${sl0} is reserved for the ${g.name} granule`;
  const concat = stage2Concatenation(g, start, inputBits);
  if (concat === undefined) return `S2SL0=${sl0} (level ${start}) is inconsistent with S2T0SZ=${t0sz} for the ${g.name} granule`;
  // §5.2 S2PS: effective output size is MIN(S2PS, OAS).
  const ps = Math.min(oasBits(Number(f.S2PS)), feat.oas);
  if (f.S2TTB >= 1n << BigInt(ps)) return `S2TTB 0x${f.S2TTB.toString(16)} exceeds the effective S2PS (${ps} bits)`;
  if (g.name !== '64K' && f.S2DS === 0n && f.S2TTB >= 1n << 48n) return 'S2TTB above 48 bits without S2DS';
  // §5.2 S2TTB: bits below the size of the (concatenated) start table are treated as zero.
  const k = levelShift(g, start);
  const startBytes = BigInt((8 << Math.min(inputBits - k, g.stride)) * concat);
  const ttb = f.S2TTB & ~(startBytes - 1n);
  return {
    vmid: Number(f.S2VMID),
    granule: g,
    inputBits,
    startLevel: start,
    concat,
    ttb,
    outputBits: ps,
    affd: f.S2AFFD === 1n,
    ptw: f.S2PTW === 1n,
    record: f.S2R === 1n,
    stall: f.S2S === 1n,
  };
}

/** Fields the SMMU consults for an entry with this Config (used for summaries and semantic diffs). */
export function steUsedFields(f: SteFields, feat: Features): SteField[] {
  const used: SteField[] = ['V'];
  if (f.V === 0n) return used;
  used.push('Config');
  const config = Number(f.Config);
  if ((config & 4) === 0) return used;
  // Attribute and permission overrides apply to every Config that lets traffic through (§5.2, §13.x).
  used.push('MTCFG', 'MemAttr', 'ALLOCCFG', 'SHCFG', 'PRIVCFG', 'INSTCFG');
  if (feat.ats) used.push('EATS');
  if (config === 4) return used;
  const s1 = (config & 1) === 1;
  const s2 = (config & 2) === 2;
  used.push('MEV', 'CONT');
  if (s1) {
    used.push('S1ContextPtr', 'S1CIR', 'S1COR', 'S1CSH', 'S1STALLD');
    if (feat.ssidSize !== 0) used.push('S1CDMax', 'S1Fmt', 'S1DSS');
    if (!s2 && feat.hyp) used.push('STRW');
  }
  if (s2 || (feat.s2p && s1)) used.push('S2VMID');
  if (s2) {
    used.push('S2T0SZ', 'S2SL0', 'S2IR0', 'S2OR0', 'S2SH0', 'S2TG', 'S2PS', 'S2AA64', 'S2ENDI', 'S2AFFD', 'S2PTW',
      'S2HD', 'S2HA', 'S2S', 'S2R', 'S2TTB');
  }
  return used;
}
