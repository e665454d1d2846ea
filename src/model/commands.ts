/**
 * Commands (IHI0070 §4): the 16-byte encoding of every command as data, with
 * encode/decode and the parameter checks that make a command CERROR_ILL
 * (§4.1, §7.1).  Execution is in smmu.ts.
 */
import { dw, getField, setField, type FieldDef } from './fields.js';
import type { Features } from './profiles.js';

const S = (sec: string) => `IHI0070 §${sec}`;

/** Command fields.  `key` is the lower-case name a trace's `cmd` row uses. */
interface CmdField extends FieldDef {
  readonly key: string;
}

function cf(key: string, name: string, qword: number, hi: number, lo: number, spec: string, opts: { addr?: boolean; enum?: Record<number, string> } = {}): CmdField {
  return { ...dw(name, qword, hi, lo, spec, opts), key };
}

const F = {
  opcode: cf('opcode', 'opcode', 0, 7, 0, S('4.1')),
  ssec: cf('ssec', 'SSec', 0, 10, 10, S('4.1')),
  ssv: cf('ssv', 'SSV', 0, 11, 11, S('4.1')),
  ssid: cf('ssid', 'SubstreamID', 0, 31, 12, S('4.1')),
  sid: cf('sid', 'StreamID', 0, 63, 32, S('4.1')),
  num: cf('num', 'NUM', 0, 16, 12, S('4.4.1.1')),
  // SCALE is 6 bits with SMMU_IDR5.DS; without DS bit 25 is RES0 (the SMMU reads bits [24:20]).
  scale: cf('scale', 'SCALE', 0, 25, 20, S('4.4.1.1')),
  vmid: cf('vmid', 'VMID', 0, 47, 32, S('4.4')),
  asid: cf('asid', 'ASID', 0, 63, 48, S('4.4')),
  leaf: cf('leaf', 'Leaf', 1, 0, 0, S('4.3')),
  ttl: cf('ttl', 'TTL', 1, 9, 8, S('4.4.1.1')),
  tg: cf('tg', 'TG', 1, 11, 10, S('4.4.1.1'), { enum: { 0: 'none', 1: '4K', 2: '16K', 3: '64K' } }),
  addr: cf('addr', 'Address', 1, 63, 12, S('4.4'), { addr: true }),
  ipa: cf('addr', 'Address', 1, 55, 12, S('4.4.3.1'), { addr: true }),
  range: cf('range', 'Range', 1, 4, 0, S('4.3.2')),
  pfsize: cf('size', 'Size', 1, 4, 0, S('4.2.2')),
  pfstride: cf('stride', 'Stride', 1, 9, 5, S('4.2.2')),
  atcG: cf('g', 'G', 0, 9, 9, S('4.5.1')),
  atcSize: cf('size', 'Size', 1, 5, 0, S('4.5.1')),
  prg: cf('prgindex', 'PRGIndex', 1, 8, 0, S('4.5.2')),
  resp: cf('resp', 'Resp', 1, 13, 12, S('4.5.2'), { enum: { 0: 'Failure', 1: 'InvalidRequest', 2: 'Success' } }),
  ac: cf('ac', 'Ac', 0, 12, 12, S('4.7.1')),
  ab: cf('ab', 'Ab', 0, 13, 13, S('4.7.1')),
  stag: cf('stag', 'STAG', 1, 15, 0, S('4.7.1')),
  cs: cf('cs', 'CS', 0, 13, 12, S('4.7.3'), { enum: { 0: 'SIG_NONE', 1: 'SIG_IRQ', 2: 'SIG_SEV' } }),
  msh: cf('msh', 'MSH', 0, 23, 22, S('4.7.3'), { enum: { 0: 'NSH', 1: 'NSH', 2: 'OSH', 3: 'ISH' } }),
  msiattr: cf('msiattr', 'MSIAttr', 0, 27, 24, S('4.7.3')),
  msidata: cf('msidata', 'MSIData', 0, 63, 32, S('4.7.3')),
  msiaddr: cf('msiaddr', 'MSIAddress', 1, 55, 2, S('4.7.3'), { addr: true }),
} as const;

export type CommandName =
  | 'PREFETCH_CONFIG' | 'PREFETCH_ADDR' | 'CFGI_STE' | 'CFGI_STE_RANGE' | 'CFGI_ALL' | 'CFGI_CD' | 'CFGI_CD_ALL'
  | 'TLBI_NH_ALL' | 'TLBI_NH_ASID' | 'TLBI_NH_VA' | 'TLBI_NH_VAA' | 'TLBI_EL3_ALL' | 'TLBI_EL3_VA'
  | 'TLBI_EL2_ALL' | 'TLBI_EL2_ASID' | 'TLBI_EL2_VA' | 'TLBI_EL2_VAA' | 'TLBI_S12_VMALL' | 'TLBI_S2_IPA'
  | 'TLBI_NSNH_ALL' | 'ATC_INV' | 'PRI_RESP' | 'RESUME' | 'STALL_TERM' | 'CMD_SYNC';

export interface CommandDef {
  readonly name: CommandName;
  readonly opcode: number;
  readonly spec: string;
  readonly fields: readonly CmdField[];
}

const TLBI_RANGE = [F.num, F.scale, F.leaf, F.ttl, F.tg];

export const COMMANDS: readonly CommandDef[] = [
  { name: 'PREFETCH_CONFIG', opcode: 0x01, spec: S('4.2.1'), fields: [F.ssec, F.ssv, F.ssid, F.sid] },
  { name: 'PREFETCH_ADDR', opcode: 0x02, spec: S('4.2.2'), fields: [F.ssec, F.ssv, F.ssid, F.sid, F.pfsize, F.pfstride, F.addr] },
  { name: 'CFGI_STE', opcode: 0x03, spec: S('4.3.1'), fields: [F.ssec, F.sid, F.leaf] },
  { name: 'CFGI_STE_RANGE', opcode: 0x04, spec: S('4.3.2'), fields: [F.ssec, F.sid, F.range] },
  // CFGI_ALL is CFGI_STE_RANGE with Range = 31 (§4.3.6); decode names it when Range is 31.
  { name: 'CFGI_ALL', opcode: 0x04, spec: S('4.3.6'), fields: [F.ssec] },
  { name: 'CFGI_CD', opcode: 0x05, spec: S('4.3.3'), fields: [F.ssec, F.ssid, F.sid, F.leaf] },
  { name: 'CFGI_CD_ALL', opcode: 0x06, spec: S('4.3.4'), fields: [F.ssec, F.sid] },
  { name: 'TLBI_NH_ALL', opcode: 0x10, spec: S('4.4.2.1'), fields: [F.vmid] },
  { name: 'TLBI_NH_ASID', opcode: 0x11, spec: S('4.4.2.2'), fields: [F.vmid, F.asid] },
  { name: 'TLBI_NH_VA', opcode: 0x12, spec: S('4.4.2.4'), fields: [F.vmid, F.asid, ...TLBI_RANGE, F.addr] },
  { name: 'TLBI_NH_VAA', opcode: 0x13, spec: S('4.4.2.3'), fields: [F.vmid, ...TLBI_RANGE, F.addr] },
  { name: 'TLBI_EL3_ALL', opcode: 0x18, spec: S('4.4.2.5'), fields: [] },
  { name: 'TLBI_EL3_VA', opcode: 0x1a, spec: S('4.4.2.6'), fields: [...TLBI_RANGE, F.addr] },
  { name: 'TLBI_EL2_ALL', opcode: 0x20, spec: S('4.4.2.7'), fields: [] },
  { name: 'TLBI_EL2_ASID', opcode: 0x21, spec: S('4.4.2.10'), fields: [F.asid] },
  { name: 'TLBI_EL2_VA', opcode: 0x22, spec: S('4.4.2.8'), fields: [F.asid, ...TLBI_RANGE, F.addr] },
  { name: 'TLBI_EL2_VAA', opcode: 0x23, spec: S('4.4.2.9'), fields: [...TLBI_RANGE, F.addr] },
  { name: 'TLBI_S12_VMALL', opcode: 0x28, spec: S('4.4.3.2'), fields: [F.vmid] },
  { name: 'TLBI_S2_IPA', opcode: 0x2a, spec: S('4.4.3.1'), fields: [F.vmid, ...TLBI_RANGE, F.ipa] },
  { name: 'TLBI_NSNH_ALL', opcode: 0x30, spec: S('4.4.4.1'), fields: [] },
  { name: 'ATC_INV', opcode: 0x40, spec: S('4.5.1'), fields: [F.atcG, F.ssv, F.ssid, F.sid, F.atcSize, F.addr] },
  { name: 'PRI_RESP', opcode: 0x41, spec: S('4.5.2'), fields: [F.ssv, F.ssid, F.sid, F.prg, F.resp] },
  { name: 'RESUME', opcode: 0x44, spec: S('4.7.1'), fields: [F.ssec, F.ac, F.ab, F.sid, F.stag] },
  { name: 'STALL_TERM', opcode: 0x45, spec: S('4.7.2'), fields: [F.ssec, F.sid] },
  { name: 'CMD_SYNC', opcode: 0x46, spec: S('4.7.3'), fields: [F.cs, F.msh, F.msiattr, F.msidata, F.msiaddr] },
];

const BY_NAME = new Map<string, CommandDef>(COMMANDS.map((c) => [c.name, c]));
const BY_OPCODE = new Map<number, CommandDef>();
for (const c of COMMANDS) if (c.name !== 'CFGI_ALL') BY_OPCODE.set(c.opcode, c);

/** Look a command up by name, case-insensitively, with or without the spec's CMD_ prefix. */
export function commandByName(name: string): CommandDef | undefined {
  const u = name.toUpperCase();
  return BY_NAME.get(u) ?? BY_NAME.get(u.replace(/^CMD_/, '')) ?? (u === 'SYNC' ? BY_NAME.get('CMD_SYNC') : undefined);
}

/** A decoded command: its definition (undefined for a reserved opcode) and its field values by trace key. */
export interface Command {
  readonly def: CommandDef | undefined;
  readonly opcode: number;
  readonly dw0: bigint;
  readonly dw1: bigint;
  readonly f: Readonly<Record<string, bigint>>;
}

export function decodeCommand(dw0: bigint, dw1: bigint): Command {
  const q = [dw0, dw1];
  const opcode = Number(getField(F.opcode, q));
  let def = BY_OPCODE.get(opcode);
  if (def?.name === 'CFGI_STE_RANGE' && getField(F.range, q) === 31n) def = BY_NAME.get('CFGI_ALL')!;
  const f: Record<string, bigint> = {};
  if (def) for (const fd of def.fields) f[fd.key] = getField(fd, q);
  return { def, opcode, dw0, dw1, f };
}

/** Encode a command from field values keyed by trace key; unknown keys throw (the parser reports them). */
export function encodeCommand(def: CommandDef, values: Readonly<Record<string, bigint>>): [bigint, bigint] {
  const q = [0n, 0n];
  setField(F.opcode, q, BigInt(def.opcode));
  if (def.name === 'CFGI_ALL') setField(F.range, q, 31n);
  for (const [k, v] of Object.entries(values)) {
    const fd = def.fields.find((x) => x.key === k);
    if (!fd) throw new RangeError(`${def.name} has no field '${k}' (fields: ${def.fields.map((x) => x.key).join(', ') || 'none'})`);
    // An address field holds address bits [hi:lo]; the bits below lo have no room in the encoding and are dropped.
    setField(fd, q, fd.addr ? v & ~((1n << BigInt(fd.lo)) - 1n) : v);
  }
  return [q[0]!, q[1]!];
}

export function commandKeys(def: CommandDef): string[] {
  return def.fields.map((f) => f.key);
}

/**
 * Largest value a trace may give for a command field: the field's width, or
 * for an address field any address below 2^(hi+1) (low bits are dropped).
 */
export function commandFieldMax(def: CommandDef, key: string): bigint | undefined {
  const f = def.fields.find((x) => x.key === key);
  if (!f) return undefined;
  return f.addr ? (1n << BigInt(f.lo + f.width)) - 1n : (1n << BigInt(f.width)) - 1n;
}

/** Text of a command's fields for reports: `NAME key=value ...`. */
export function formatCommand(c: Command): string {
  if (!c.def) return `UNKNOWN(0x${c.opcode.toString(16).padStart(2, '0')}) dw0=0x${c.dw0.toString(16)} dw1=0x${c.dw1.toString(16)}`;
  const parts: string[] = [c.def.name];
  for (const fd of c.def.fields) {
    const v = c.f[fd.key]!;
    parts.push(`${fd.name}=${fd.enum?.[Number(v)] ?? (fd.addr || v > 9n ? '0x' + v.toString(16) : v.toString())}`);
  }
  return parts.join(' ');
}

/**
 * Why a command is CERROR_ILL on this SMMU's Non-secure queue, or undefined
 * when it is legal (§4.1.1 "illegal commands", and each command's
 * description).  RES0 fields are not checked: the architecture lets an
 * implementation either ignore them or report CERROR_ILL, and this model
 * ignores them (documented in the README).
 */
export function illegalReason(c: Command, feat: Features): string | undefined {
  const def = c.def;
  if (!def) return `opcode 0x${c.opcode.toString(16).padStart(2, '0')} is reserved`;
  const f = c.f;
  if (f.ssec === 1n) return 'SSec=1 on the Non-secure command queue';
  switch (def.name) {
    case 'CFGI_CD': case 'CFGI_CD_ALL':
      if (!feat.s1p) return `${def.name} on an SMMU without stage 1`;
      break;
    case 'TLBI_NH_ALL': case 'TLBI_NH_ASID': case 'TLBI_NH_VA': case 'TLBI_NH_VAA':
      if (!feat.s1p) return `${def.name} on an SMMU without stage 1`;
      break;
    case 'TLBI_EL3_ALL': case 'TLBI_EL3_VA':
      return `${def.name} is only valid on the Secure command queue`;
    case 'TLBI_EL2_ALL': case 'TLBI_EL2_ASID': case 'TLBI_EL2_VA': case 'TLBI_EL2_VAA':
      if (!feat.hyp) return `${def.name} without SMMU_IDR0.Hyp`;
      break;
    case 'TLBI_S12_VMALL': case 'TLBI_S2_IPA':
      if (!feat.s2p) return `${def.name} on an SMMU without stage 2`;
      break;
    case 'ATC_INV':
      if (!feat.ats) return 'ATC_INV without SMMU_IDR0.ATS';
      break;
    case 'PRI_RESP':
      if (!feat.pri) return 'PRI_RESP without SMMU_IDR0.PRI';
      if (f.resp === 3n) return 'PRI_RESP Resp=0b11 is reserved';
      break;
    case 'RESUME': case 'STALL_TERM':
      if (feat.stallModel === 1) return `${def.name} with SMMU_IDR0.STALL_MODEL=0b01 (no stalls)`;
      break;
    case 'CMD_SYNC':
      // §4.7.3: CS=0b11 is reserved; SIG_SEV without SMMU_IDR0.SEV behaves as SIG_NONE (not an error).
      if (f.cs === 3n) return 'CMD_SYNC CS=0b11 is reserved';
      break;
    default:
      break;
  }
  if (f.tg !== undefined) {
    const r = rangeIllegal(f, feat);
    if (r) return `${def.name}: ${r}`;
  }
  return undefined;
}

/**
 * The level hint a TLBI really carries (§4.4.1.1): TTL=0b01 with a 16K TG is
 * treated as 0b00 when SMMU_IDR5.DS=0.
 */
export function effectiveTtl(tg: number, ttl: number, feat: Features): number {
  return tg === 2 && ttl === 1 && !feat.ds ? 0 : ttl;
}

/** Range-invalidation parameters (§4.4.1.1): TG, NUM, SCALE, TTL. */
function rangeIllegal(f: Readonly<Record<string, bigint>>, feat: Features): string | undefined {
  const tg = Number(f.tg);
  if (tg === 0) return undefined; // single address: NUM/SCALE/TTL are RES0 and ignored
  if (!feat.ril) return undefined; // TG is RES0 without SMMU_IDR3.RIL: treated as a single-address invalidation
  const ttl = effectiveTtl(tg, Number(f.ttl), feat);
  const scale = feat.ds ? f.scale! : f.scale! & 0x1fn;
  if (f.num === 0n && scale === 0n && ttl === 0) return `TG!=0 with NUM=0, SCALE=0 and TTL=0 is reserved${Number(f.ttl) !== ttl ? ' (TTL=1 with a 16K TG counts as 0 without DS)' : ''}`;
  return undefined;
}
