/**
 * The Non-secure SMMU programming interface: register map (IHI0070 §6.2) and
 * the field layouts of the registers the model interprets (§6.3).
 *
 * Register side effects live in smmu.ts; this module only says where each
 * register is, how wide it is, and where its fields are.
 */
import { dw, type Layout } from './fields.js';

export type RegAccess = 'RO' | 'RW';

export interface RegDef {
  readonly name: string;
  /** Byte offset in the 128 KiB frame (page 1 registers at 0x10000 + offset). */
  readonly offset: number;
  readonly width: 32 | 64;
  readonly access: RegAccess;
  readonly spec: string;
  readonly layout?: Layout;
}

const S = (sec: string) => `IHI0070 §${sec}`;

// Field layouts.  32-bit registers use doubleword 0 bits [31:0].
const SH = { 0: 'NSH', 1: 'NSH', 2: 'OSH', 3: 'ISH' } as const;
const CACHE = { 0: 'NC', 1: 'WB', 2: 'WT', 3: 'NC' } as const;

export const IDR0: Layout = {
  name: 'IDR0', qwords: 1, fields: [
    dw('S2P', 0, 0, 0, S('6.3.1')), dw('S1P', 0, 1, 1, S('6.3.1')),
    dw('TTF', 0, 3, 2, S('6.3.1'), { enum: { 1: 'AArch32', 2: 'AArch64', 3: 'AArch32+AArch64' } }),
    dw('COHACC', 0, 4, 4, S('6.3.1')), dw('BTM', 0, 5, 5, S('6.3.1')),
    dw('HTTU', 0, 7, 6, S('6.3.1'), { enum: { 0: 'none', 1: 'AF', 2: 'AF+dirty', 3: 'AF+dirty+HAFT' } }),
    dw('DORMHINT', 0, 8, 8, S('6.3.1')), dw('Hyp', 0, 9, 9, S('6.3.1')), dw('ATS', 0, 10, 10, S('6.3.1')),
    dw('NS1ATS', 0, 11, 11, S('6.3.1')), dw('ASID16', 0, 12, 12, S('6.3.1')), dw('MSI', 0, 13, 13, S('6.3.1')),
    dw('SEV', 0, 14, 14, S('6.3.1')), dw('ATOS', 0, 15, 15, S('6.3.1')), dw('PRI', 0, 16, 16, S('6.3.1')),
    dw('VMW', 0, 17, 17, S('6.3.1')), dw('VMID16', 0, 18, 18, S('6.3.1')), dw('CD2L', 0, 19, 19, S('6.3.1')),
    dw('VATOS', 0, 20, 20, S('6.3.1')),
    dw('TTENDIAN', 0, 22, 21, S('6.3.1'), { enum: { 0: 'mixed', 2: 'LE', 3: 'BE' } }),
    dw('ATSRECERR', 0, 23, 23, S('6.3.1')),
    dw('STALL_MODEL', 0, 25, 24, S('6.3.1'), { enum: { 0: 'stall+terminate', 1: 'terminate', 2: 'stall' } }),
    dw('TERM_MODEL', 0, 26, 26, S('6.3.1')),
    dw('ST_LEVEL', 0, 28, 27, S('6.3.1'), { enum: { 0: 'linear', 1: '2-level' } }),
    dw('RME_IMPL', 0, 30, 30, S('6.3.1')),
  ],
};

export const IDR1: Layout = {
  name: 'IDR1', qwords: 1, fields: [
    dw('SIDSIZE', 0, 5, 0, S('6.3.2'), { dec: true }), dw('SSIDSIZE', 0, 10, 6, S('6.3.2'), { dec: true }), dw('PRIQS', 0, 15, 11, S('6.3.2'), { dec: true }),
    dw('EVENTQS', 0, 20, 16, S('6.3.2'), { dec: true }), dw('CMDQS', 0, 25, 21, S('6.3.2'), { dec: true }), dw('ATTR_PERMS_OVR', 0, 26, 26, S('6.3.2')),
    dw('ATTR_TYPES_OVR', 0, 27, 27, S('6.3.2')), dw('REL', 0, 28, 28, S('6.3.2')), dw('QUEUES_PRESET', 0, 29, 29, S('6.3.2')),
    dw('TABLES_PRESET', 0, 30, 30, S('6.3.2')), dw('ECMDQ', 0, 31, 31, S('6.3.2')),
  ],
};

export const IDR3: Layout = {
  name: 'IDR3', qwords: 1, fields: [
    dw('HAD', 0, 2, 2, S('6.3.4')), dw('PBHA', 0, 3, 3, S('6.3.4')), dw('XNX', 0, 4, 4, S('6.3.4')), dw('PPS', 0, 5, 5, S('6.3.4')),
    dw('MPAM', 0, 7, 7, S('6.3.4')), dw('FWB', 0, 8, 8, S('6.3.4')), dw('STT', 0, 9, 9, S('6.3.4')), dw('RIL', 0, 10, 10, S('6.3.4')),
    dw('BBML', 0, 12, 11, S('6.3.4')), dw('E0PD', 0, 13, 13, S('6.3.4')), dw('PTWNNC', 0, 14, 14, S('6.3.4')),
  ],
};

export const IDR5: Layout = {
  name: 'IDR5', qwords: 1, fields: [
    dw('OAS', 0, 2, 0, S('6.3.6'), { enum: { 0: '32', 1: '36', 2: '40', 3: '42', 4: '44', 5: '48', 6: '52', 7: '56' } }),
    dw('GRAN4K', 0, 4, 4, S('6.3.6')), dw('GRAN16K', 0, 5, 5, S('6.3.6')), dw('GRAN64K', 0, 6, 6, S('6.3.6')),
    dw('DS', 0, 7, 7, S('6.3.6')), dw('VAX', 0, 11, 10, S('6.3.6'), { enum: { 0: '48', 1: '52', 2: '56' } }),
    dw('STALL_MAX', 0, 31, 16, S('6.3.6')),
  ],
};

export const AIDR: Layout = {
  name: 'AIDR', qwords: 1, fields: [dw('ArchMinorRev', 0, 3, 0, S('6.3.8')), dw('ArchMajorRev', 0, 7, 4, S('6.3.8'))],
};

export const CR0: Layout = {
  name: 'CR0', qwords: 1, fields: [
    dw('SMMUEN', 0, 0, 0, S('6.3.9')), dw('PRIQEN', 0, 1, 1, S('6.3.9')), dw('EVENTQEN', 0, 2, 2, S('6.3.9')),
    dw('CMDQEN', 0, 3, 3, S('6.3.9')), dw('ATSCHK', 0, 4, 4, S('6.3.9')), dw('VMW', 0, 8, 6, S('6.3.9')),
    dw('DPT_WALK_EN', 0, 10, 10, S('6.3.9')),
  ],
};

export const CR1: Layout = {
  name: 'CR1', qwords: 1, fields: [
    dw('QUEUE_IC', 0, 1, 0, S('6.3.11'), { enum: CACHE }), dw('QUEUE_OC', 0, 3, 2, S('6.3.11'), { enum: CACHE }),
    dw('QUEUE_SH', 0, 5, 4, S('6.3.11'), { enum: SH }), dw('TABLE_IC', 0, 7, 6, S('6.3.11'), { enum: CACHE }),
    dw('TABLE_OC', 0, 9, 8, S('6.3.11'), { enum: CACHE }), dw('TABLE_SH', 0, 11, 10, S('6.3.11'), { enum: SH }),
  ],
};

export const CR2: Layout = {
  name: 'CR2', qwords: 1, fields: [
    dw('E2H', 0, 0, 0, S('6.3.12')), dw('RECINVSID', 0, 1, 1, S('6.3.12')), dw('PTM', 0, 2, 2, S('6.3.12')),
    dw('REC_CFG_ATS', 0, 3, 3, S('6.3.12')),
  ],
};

export const GBPA: Layout = {
  name: 'GBPA', qwords: 1, fields: [
    dw('MemAttr', 0, 3, 0, S('6.3.14')), dw('MTCFG', 0, 4, 4, S('6.3.14')), dw('ALLOCCFG', 0, 11, 8, S('6.3.14')),
    dw('SHCFG', 0, 13, 12, S('6.3.14'), { enum: { 0: 'NSH', 1: 'incoming', 2: 'OSH', 3: 'ISH' } }),
    dw('PRIVCFG', 0, 17, 16, S('6.3.14'), { enum: { 0: 'incoming', 2: 'unpriv', 3: 'priv' } }),
    dw('INSTCFG', 0, 19, 18, S('6.3.14'), { enum: { 0: 'incoming', 2: 'data', 3: 'instruction' } }),
    dw('ABORT', 0, 20, 20, S('6.3.14')), dw('Update', 0, 31, 31, S('6.3.14')),
  ],
};

export const IRQ_CTRL: Layout = {
  name: 'IRQ_CTRL', qwords: 1, fields: [
    dw('GERROR_IRQEN', 0, 0, 0, S('6.3.16')), dw('PRIQ_IRQEN', 0, 1, 1, S('6.3.16')), dw('EVENTQ_IRQEN', 0, 2, 2, S('6.3.16')),
  ],
};

/** GERROR / GERRORN bit positions (§6.3.19, §7.5): an error is active while the two registers differ in its bit. */
export const GERROR: Layout = {
  name: 'GERROR', qwords: 1, fields: [
    dw('CMDQ_ERR', 0, 0, 0, S('6.3.19')), dw('EVENTQ_ABT_ERR', 0, 2, 2, S('6.3.19')), dw('PRIQ_ABT_ERR', 0, 3, 3, S('6.3.19')),
    dw('MSI_CMDQ_ABT_ERR', 0, 4, 4, S('6.3.19')), dw('MSI_EVENTQ_ABT_ERR', 0, 5, 5, S('6.3.19')),
    dw('MSI_PRIQ_ABT_ERR', 0, 6, 6, S('6.3.19')), dw('MSI_GERROR_ABT_ERR', 0, 7, 7, S('6.3.19')),
    dw('SFM_ERR', 0, 8, 8, S('6.3.19')), dw('CMDQP_ERR', 0, 9, 9, S('6.3.19')), dw('DPT_ERR', 0, 10, 10, S('6.3.19')),
  ],
};

export type GerrorBit = 'CMDQ_ERR' | 'EVENTQ_ABT_ERR' | 'PRIQ_ABT_ERR' | 'MSI_CMDQ_ABT_ERR' | 'MSI_EVENTQ_ABT_ERR'
  | 'MSI_PRIQ_ABT_ERR' | 'MSI_GERROR_ABT_ERR' | 'SFM_ERR';

export const IRQ_CFG0: Layout = { name: 'IRQ_CFG0', qwords: 1, fields: [dw('ADDR', 0, 55, 2, S('6.3.21'), { addr: true })] };
export const IRQ_CFG2: Layout = {
  name: 'IRQ_CFG2', qwords: 1, fields: [dw('MemAttr', 0, 3, 0, S('6.3.23')), dw('SH', 0, 5, 4, S('6.3.23'), { enum: SH })],
};

export const STRTAB_BASE: Layout = {
  name: 'STRTAB_BASE', qwords: 1, fields: [dw('ADDR', 0, 55, 6, S('6.3.24'), { addr: true }), dw('RA', 0, 62, 62, S('6.3.24'))],
};

export const STRTAB_BASE_CFG: Layout = {
  name: 'STRTAB_BASE_CFG', qwords: 1, fields: [
    dw('LOG2SIZE', 0, 5, 0, S('6.3.25'), { dec: true }), dw('SPLIT', 0, 10, 6, S('6.3.25'), { dec: true }),
    dw('FMT', 0, 17, 16, S('6.3.25'), { enum: { 0: 'linear', 1: '2-level' } }),
  ],
};

export const QUEUE_BASE: Layout = {
  name: 'Q_BASE', qwords: 1, fields: [
    dw('LOG2SIZE', 0, 4, 0, S('6.3.26')), dw('ADDR', 0, 55, 5, S('6.3.26'), { addr: true }), dw('RA', 0, 62, 62, S('6.3.26')),
  ],
};

export const CMDQ_CONS: Layout = {
  name: 'CMDQ_CONS', qwords: 1, fields: [
    dw('RD', 0, 19, 0, S('6.3.28')),
    dw('ERR', 0, 30, 24, S('6.3.28'), { enum: { 0: 'CERROR_NONE', 1: 'CERROR_ILL', 2: 'CERROR_ABT', 3: 'CERROR_ATC_INV_SYNC' } }),
  ],
};

export const EVENTQ_PROD: Layout = {
  name: 'EVENTQ_PROD', qwords: 1, fields: [dw('WR', 0, 19, 0, S('6.3.95')), dw('OVFLG', 0, 31, 31, S('6.3.95'))],
};
export const EVENTQ_CONS: Layout = {
  name: 'EVENTQ_CONS', qwords: 1, fields: [dw('RD', 0, 19, 0, S('6.3.96')), dw('OVACKFLG', 0, 31, 31, S('6.3.96'))],
};

/**
 * The register map.  Offsets are Page 0 unless >= 0x10000 (Page 1, §6.2).
 * Page-0 0xA8/0xAC/0xC8/0xCC are optional aliases of the Page-1 queue
 * pointers; profiles choose whether they alias or are RAZ/WI.
 */
export const REGISTERS: readonly RegDef[] = [
  { name: 'IDR0', offset: 0x000, width: 32, access: 'RO', spec: S('6.3.1'), layout: IDR0 },
  { name: 'IDR1', offset: 0x004, width: 32, access: 'RO', spec: S('6.3.2'), layout: IDR1 },
  { name: 'IDR2', offset: 0x008, width: 32, access: 'RO', spec: S('6.3.3') },
  { name: 'IDR3', offset: 0x00c, width: 32, access: 'RO', spec: S('6.3.4'), layout: IDR3 },
  { name: 'IDR4', offset: 0x010, width: 32, access: 'RO', spec: S('6.3.5') },
  { name: 'IDR5', offset: 0x014, width: 32, access: 'RO', spec: S('6.3.6'), layout: IDR5 },
  { name: 'IIDR', offset: 0x018, width: 32, access: 'RO', spec: S('6.3.7') },
  { name: 'AIDR', offset: 0x01c, width: 32, access: 'RO', spec: S('6.3.8'), layout: AIDR },
  { name: 'CR0', offset: 0x020, width: 32, access: 'RW', spec: S('6.3.9'), layout: CR0 },
  { name: 'CR0ACK', offset: 0x024, width: 32, access: 'RO', spec: S('6.3.10'), layout: CR0 },
  { name: 'CR1', offset: 0x028, width: 32, access: 'RW', spec: S('6.3.11'), layout: CR1 },
  { name: 'CR2', offset: 0x02c, width: 32, access: 'RW', spec: S('6.3.12'), layout: CR2 },
  { name: 'STATUSR', offset: 0x040, width: 32, access: 'RO', spec: S('6.3.13') },
  { name: 'GBPA', offset: 0x044, width: 32, access: 'RW', spec: S('6.3.14'), layout: GBPA },
  { name: 'AGBPA', offset: 0x048, width: 32, access: 'RW', spec: S('6.3.15') },
  { name: 'IRQ_CTRL', offset: 0x050, width: 32, access: 'RW', spec: S('6.3.16'), layout: IRQ_CTRL },
  { name: 'IRQ_CTRLACK', offset: 0x054, width: 32, access: 'RO', spec: S('6.3.18'), layout: IRQ_CTRL },
  { name: 'GERROR', offset: 0x060, width: 32, access: 'RO', spec: S('6.3.19'), layout: GERROR },
  { name: 'GERRORN', offset: 0x064, width: 32, access: 'RW', spec: S('6.3.20'), layout: GERROR },
  { name: 'GERROR_IRQ_CFG0', offset: 0x068, width: 64, access: 'RW', spec: S('6.3.21'), layout: IRQ_CFG0 },
  { name: 'GERROR_IRQ_CFG1', offset: 0x070, width: 32, access: 'RW', spec: S('6.3.22') },
  { name: 'GERROR_IRQ_CFG2', offset: 0x074, width: 32, access: 'RW', spec: S('6.3.23'), layout: IRQ_CFG2 },
  { name: 'STRTAB_BASE', offset: 0x080, width: 64, access: 'RW', spec: S('6.3.24'), layout: STRTAB_BASE },
  { name: 'STRTAB_BASE_CFG', offset: 0x088, width: 32, access: 'RW', spec: S('6.3.25'), layout: STRTAB_BASE_CFG },
  { name: 'CMDQ_BASE', offset: 0x090, width: 64, access: 'RW', spec: S('6.3.26'), layout: QUEUE_BASE },
  { name: 'CMDQ_PROD', offset: 0x098, width: 32, access: 'RW', spec: S('6.3.27') },
  { name: 'CMDQ_CONS', offset: 0x09c, width: 32, access: 'RW', spec: S('6.3.28'), layout: CMDQ_CONS },
  { name: 'EVENTQ_BASE', offset: 0x0a0, width: 64, access: 'RW', spec: S('6.3.29'), layout: QUEUE_BASE },
  { name: 'EVENTQ_IRQ_CFG0', offset: 0x0b0, width: 64, access: 'RW', spec: S('6.3.30'), layout: IRQ_CFG0 },
  { name: 'EVENTQ_IRQ_CFG1', offset: 0x0b8, width: 32, access: 'RW', spec: S('6.3.31') },
  { name: 'EVENTQ_IRQ_CFG2', offset: 0x0bc, width: 32, access: 'RW', spec: S('6.3.32'), layout: IRQ_CFG2 },
  { name: 'PRIQ_BASE', offset: 0x0c0, width: 64, access: 'RW', spec: S('6.3.33'), layout: QUEUE_BASE },
  { name: 'PRIQ_IRQ_CFG0', offset: 0x0d0, width: 64, access: 'RW', spec: S('6.3.34'), layout: IRQ_CFG0 },
  { name: 'PRIQ_IRQ_CFG1', offset: 0x0d8, width: 32, access: 'RW', spec: S('6.3.35') },
  { name: 'PRIQ_IRQ_CFG2', offset: 0x0dc, width: 32, access: 'RW', spec: S('6.3.36') },
  { name: 'EVENTQ_PROD', offset: 0x100a8, width: 32, access: 'RW', spec: S('6.3.95'), layout: EVENTQ_PROD },
  { name: 'EVENTQ_CONS', offset: 0x100ac, width: 32, access: 'RW', spec: S('6.3.96'), layout: EVENTQ_CONS },
  { name: 'PRIQ_PROD', offset: 0x100c8, width: 32, access: 'RW', spec: S('6.3.97') },
  { name: 'PRIQ_CONS', offset: 0x100cc, width: 32, access: 'RW', spec: S('6.3.98') },
];

export const FRAME_SIZE = 0x20000;

const byName = new Map(REGISTERS.map((r) => [r.name, r]));
const byOffset = new Map(REGISTERS.map((r) => [r.offset, r]));

export function registerByName(name: string): RegDef | undefined {
  return byName.get(name.toUpperCase());
}

export function registerAt(offset: number): RegDef | undefined {
  return byOffset.get(offset);
}

/**
 * Resolve an access at a byte offset: the register it falls in and whether it
 * is the upper half of a 64-bit register (§6.2: 32-bit accesses to each half
 * of a 64-bit register are permitted).
 */
export function resolveOffset(offset: number): { reg: RegDef; upper: boolean } | undefined {
  const r = byOffset.get(offset);
  if (r) return { reg: r, upper: false };
  const lower = byOffset.get(offset - 4);
  if (lower && lower.width === 64) return { reg: lower, upper: true };
  return undefined;
}
