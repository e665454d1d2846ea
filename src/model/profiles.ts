/**
 * Implementation profiles: the ID register values of an SMMU implementation
 * and the IMPLEMENTATION DEFINED choices the architecture leaves open.
 *
 * The model reads every feature from the ID registers (decoded into Features
 * below); a profile never switches on an emulator's bug, only what an
 * implementation is allowed to choose (IHI0070 §6.3.1-§6.3.8).
 */
import { decode, type Layout } from './fields.js';
import { AIDR, IDR0, IDR1, IDR3, IDR5 } from './registers.js';

export interface Profile {
  readonly name: string;
  readonly description: string;
  readonly IDR0: number;
  readonly IDR1: number;
  readonly IDR2: number;
  readonly IDR3: number;
  readonly IDR4: number;
  readonly IDR5: number;
  readonly IIDR: number;
  readonly AIDR: number;
  /** GBPA reset value (§6.3.14: IMPLEMENTATION DEFINED apart from Update=0). */
  readonly gbpaReset: number;
  /** Page-0 offsets 0xA8/0xAC alias EVENTQ_PROD/CONS (§6.2: optional; otherwise RAZ/WI). */
  readonly page0QueueAliases: boolean;
}

/** Features the model consults, decoded once from a profile's ID registers. */
export interface Features {
  readonly s1p: boolean;
  readonly s2p: boolean;
  readonly ttfAArch64: boolean;
  readonly ttfAArch32: boolean;
  readonly cohacc: boolean;
  readonly btm: boolean;
  readonly httu: number;
  readonly hyp: boolean;
  readonly ats: boolean;
  readonly ns1ats: boolean;
  readonly asid16: boolean;
  readonly msi: boolean;
  readonly sev: boolean;
  readonly atos: boolean;
  readonly pri: boolean;
  readonly vmw: boolean;
  readonly vmid16: boolean;
  readonly cd2l: boolean;
  /** 0 mixed, 2 LE only, 3 BE only. */
  readonly ttendian: number;
  /** 0 stall+terminate, 1 terminate only, 2 stall forced. */
  readonly stallModel: number;
  readonly termModel: boolean;
  readonly twoLevelStreamTable: boolean;
  readonly sidSize: number;
  readonly ssidSize: number;
  readonly cmdqs: number;
  readonly eventqs: number;
  readonly priqs: number;
  readonly had: boolean;
  readonly xnx: boolean;
  readonly fwb: boolean;
  readonly stt: boolean;
  readonly ril: boolean;
  /** Output address size in bits (IDR5.OAS). */
  readonly oas: number;
  /** Intermediate address size in bits: OAS, or MAX(40, OAS) when AArch32 tables are supported (§3.4). */
  readonly ias: number;
  readonly gran4k: boolean;
  readonly gran16k: boolean;
  readonly gran64k: boolean;
  readonly ds: boolean;
  /** VA size with VAX: 48, 52 or 56. */
  readonly vaBits: number;
  readonly archMinor: number;
}

const OAS_BITS = [32, 36, 40, 42, 44, 48, 52, 56] as const;

export function oasBits(code: number): number {
  return OAS_BITS[Math.min(code, 7)] ?? 48;
}

function d(layout: Layout, v: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(decode(layout, [BigInt(v)]))) out[k] = Number(x);
  return out;
}

export function featuresOf(p: Profile): Features {
  const i0 = d(IDR0, p.IDR0);
  const i1 = d(IDR1, p.IDR1);
  const i3 = d(IDR3, p.IDR3);
  const i5 = d(IDR5, p.IDR5);
  const ai = d(AIDR, p.AIDR);
  const ttf = i0.TTF!;
  const oas = oasBits(i5.OAS!);
  const ttfAArch32 = (ttf & 1) === 1;
  return {
    s1p: i0.S1P === 1,
    s2p: i0.S2P === 1,
    ttfAArch64: (ttf & 2) === 2,
    ttfAArch32,
    cohacc: i0.COHACC === 1,
    btm: i0.BTM === 1,
    httu: i0.HTTU!,
    hyp: i0.Hyp === 1,
    ats: i0.ATS === 1,
    ns1ats: i0.NS1ATS === 1,
    asid16: i0.ASID16 === 1,
    msi: i0.MSI === 1,
    sev: i0.SEV === 1,
    atos: i0.ATOS === 1,
    pri: i0.PRI === 1,
    vmw: i0.VMW === 1,
    vmid16: i0.VMID16 === 1,
    cd2l: i0.CD2L === 1,
    ttendian: i0.TTENDIAN!,
    stallModel: i0.STALL_MODEL!,
    termModel: i0.TERM_MODEL === 1,
    twoLevelStreamTable: i0.ST_LEVEL === 1,
    sidSize: i1.SIDSIZE!,
    ssidSize: i1.SSIDSIZE!,
    cmdqs: i1.CMDQS!,
    eventqs: i1.EVENTQS!,
    priqs: i1.PRIQS!,
    had: i3.HAD === 1,
    xnx: i3.XNX === 1,
    fwb: i3.FWB === 1,
    stt: i3.STT === 1,
    ril: i3.RIL === 1,
    oas,
    // §3.4.1: IAS = OAS when only AArch64 tables are supported, else MAX(OAS, 40).
    ias: ttfAArch32 ? Math.max(40, oas) : oas,
    gran4k: i5.GRAN4K === 1,
    gran16k: i5.GRAN16K === 1,
    gran64k: i5.GRAN64K === 1,
    ds: i5.DS === 1,
    vaBits: i5.VAX === 1 ? 52 : i5.VAX === 2 ? 56 : 48,
    archMinor: ai.ArchMinorRev!,
  };
}

/**
 * `default`: a full-featured Non-secure SMMUv3.1 as the issue asks for: stage 1,
 * stage 2 and nesting, 2-level stream and CD tables, 16-bit StreamID, 20-bit
 * SubstreamID, 48-bit OAS, 4K/16K/64K granules, 16-bit ASID and VMID.
 *
 * IDR0:
 *   S2P[0]=1 S1P[1]=1 TTF[3:2]=0b10 COHACC[4]=1 BTM[5]=0 HTTU[7:6]=0
 *   DORMHINT[8]=0 Hyp[9]=1 ATS[10]=1 NS1ATS[11]=1 ASID16[12]=1 MSI[13]=1
 *   SEV[14]=1 ATOS[15]=0 PRI[16]=0 VMW[17]=0 VMID16[18]=1 CD2L[19]=1
 *   VATOS[20]=0 TTENDIAN[22:21]=0b10 (LE) STALL_MODEL[25:24]=0b01 (terminate only)
 *   TERM_MODEL[26]=1 ST_LEVEL[28:27]=0b01
 *   = 0x1|0x2|0x8|0x10|0x200|0x400|0x800|0x1000|0x2000|0x4000|0x40000|0x80000
 *     |0x400000|0x1000000|0x4000000|0x8000000 = 0x0d4c7e1b
 * (The stall model, PRI, ATOS, VMID wildcards and HTTU are not advertised: the model does not
 * implement them, see the README coverage table.)
 *
 * IDR1 = SIDSIZE 16 | SSIDSIZE 20<<6 | PRIQS 0 | EVENTQS 19<<16 | CMDQS 19<<21
 *      = 0x10 | 0x500 | 0x130000 | 0x2600000 = 0x02730510
 * IDR3 = HAD[2] | XNX[4] | RIL[10] = 0x4 | 0x10 | 0x400 = 0x414
 * IDR5 = OAS 0b101 (48) | GRAN4K | GRAN16K | GRAN64K = 0x5 | 0x10 | 0x20 | 0x40 = 0x75
 */
export const DEFAULT_PROFILE: Profile = {
  name: 'default',
  description: 'full Non-secure SMMUv3.1: S1+S2+nested, 2-level stream/CD tables, SID 16, SSID 20, OAS 48, 4K/16K/64K',
  IDR0: 0x0d4c7e1b,
  IDR1: 0x02730510,
  IDR2: 0,
  IDR3: 0x414,
  IDR4: 0,
  IDR5: 0x75,
  IIDR: 0,
  AIDR: 0x01,
  gbpaReset: 0x0,
  page0QueueAliases: false,
};

/**
 * `qemu-7.2`: the ID values QEMU 7.2 reports (observed through qtest):
 * IDR0 0x0d40101a (S1P, TTF AArch64, COHACC, ASID16, TTENDIAN LE,
 * STALL_MODEL terminate, TERM_MODEL, ST_LEVEL 2-level), IDR1 0x02730010
 * (SIDSIZE 16, no substreams, queues 2^19), IDR3 0x1404 (HAD, RIL, BBML 0b10),
 * IDR5 0x74 (OAS 44, 4K/16K/64K), AIDR 1 (v3.1).  The model still follows the
 * architecture within these features: QEMU's own deviations (no GBPA, no AF
 * check, ...) are not copied.  QEMU 7.2 reads GBPA as 0, which is an allowed
 * reset value (bypass while SMMUEN=0), so that is the reset value here.
 * QEMU folds Page 1 onto Page 0, which makes 0xA8/0xAC reach the event queue
 * pointers; the architecture allows that alias (§6.2), so the profile has it.
 */
export const QEMU_72_PROFILE: Profile = {
  name: 'qemu-7.2',
  description: 'the feature set QEMU 7.2 advertises: stage 1 only, no substreams, OAS 44',
  IDR0: 0x0d40101a,
  IDR1: 0x02730010,
  IDR2: 0,
  IDR3: 0x1404,
  IDR4: 0,
  IDR5: 0x74,
  IIDR: 0,
  AIDR: 0x01,
  gbpaReset: 0x0,
  page0QueueAliases: true,
};

/**
 * `qemu-10.0`: the ID values QEMU 10.0.2's plain `virt` machine reports
 * (observed through qtest; that machine always builds the nested SMMU):
 * IDR0 0x0d44101b = S2P[0] | S1P[1] | TTF[3:2]=0b10 (AArch64) | COHACC[4] |
 *   ASID16[12] | VMID16[18] | TTENDIAN[22:21]=0b10 (LE) | STALL_MODEL[25:24]=0b01
 *   (terminate only) | TERM_MODEL[26] | ST_LEVEL[28:27]=0b01
 *   = 0x1|0x2|0x8|0x10|0x1000|0x40000|0x400000|0x1000000|0x4000000|0x8000000;
 *   no HTTU, Hyp, ATS, PRI, MSI, SEV, BTM, VMW or CD2L.
 * IDR1 0x02730010: SIDSIZE 16, SSIDSIZE 0, EVENTQS = CMDQS = 19 (as 7.2).
 * IDR3 0x1414 = HAD[2] | XNX[4] (with S2P) | RIL[10] | BBML[12:11]=0b10.
 * IDR5 0x74: OAS 0b100 (44 bits), GRAN4K, GRAN16K, GRAN64K.  AIDR 1 (v3.1).
 * GBPA resets to 0x1000 (SHCFG=0b01, use incoming; ABORT=0), an allowed
 * IMPLEMENTATION DEFINED reset value (§6.3.14).  Page 1 folds onto Page 0 as
 * in 7.2, so the 0xA8/0xAC aliases exist.  As for 7.2, QEMU's deviations
 * from the architecture are not copied (docs/qemu-deviations.md).
 */
export const QEMU_100_PROFILE: Profile = {
  name: 'qemu-10.0',
  description: 'the feature set QEMU 10.0 advertises on virt: stage 1, stage 2 and nesting, no substreams, OAS 44',
  IDR0: 0x0d44101b,
  IDR1: 0x02730010,
  IDR2: 0,
  IDR3: 0x1414,
  IDR4: 0,
  IDR5: 0x74,
  IIDR: 0,
  AIDR: 0x01,
  gbpaReset: 0x1000,
  page0QueueAliases: true,
};

export const PROFILES: ReadonlyMap<string, Profile> = new Map([
  [DEFAULT_PROFILE.name, DEFAULT_PROFILE],
  [QEMU_72_PROFILE.name, QEMU_72_PROFILE],
  [QEMU_100_PROFILE.name, QEMU_100_PROFILE],
]);

export function profileByName(name: string): Profile | undefined {
  return PROFILES.get(name);
}
