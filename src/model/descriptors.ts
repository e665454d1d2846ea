/**
 * VMSAv8-64 translation table descriptor layouts (Arm ARM D8.3), for
 * decoding and printing.  The walk (walk.ts) reads the same bit positions.
 */
import { dw, type FieldDef, type Layout } from './fields.js';

const A = 'Arm ARM D8.3';

export type DescriptorKind = 'invalid' | 'table' | 'block' | 'page' | 'reserved';

/** What bits[1:0] make a descriptor at a level (blocks only where the granule permits them). */
export function descriptorKind(desc: bigint, level: number, blockLevels: readonly number[]): DescriptorKind {
  const t = Number(desc & 3n);
  if ((t & 1) === 0) return 'invalid';
  if (level === 3) return t === 3 ? 'page' : 'reserved';
  if (t === 3) return 'table';
  return blockLevels.includes(level) ? 'block' : 'reserved';
}

export function tableLayout(stage: 1 | 2, granuleShift: number): Layout {
  const fields: FieldDef[] = [
    dw('Valid', 0, 0, 0, A), dw('Type', 0, 1, 1, A, { enum: { 0: 'block', 1: 'table/page' } }),
    dw('NextLevelTable', 0, 47, granuleShift, A, { addr: true }),
  ];
  if (stage === 1) {
    fields.push(dw('PXNTable', 0, 59, 59, A), dw('UXNTable', 0, 60, 60, A),
      dw('APTable', 0, 62, 61, A, { enum: { 0: 'none', 1: 'no-EL0', 2: 'no-write', 3: 'no-write,no-EL0' } }),
      dw('NSTable', 0, 63, 63, A));
  }
  return { name: `S${stage} table descriptor`, qwords: 1, fields };
}

export function leafLayout(stage: 1 | 2, outputShift: number): Layout {
  const common: FieldDef[] = [dw('Valid', 0, 0, 0, A), dw('Type', 0, 1, 1, A, { enum: { 0: 'block', 1: 'table/page' } })];
  if (stage === 1) {
    return {
      name: 'S1 block/page descriptor', qwords: 1, fields: [
        ...common,
        dw('AttrIndx', 0, 4, 2, A), dw('NS', 0, 5, 5, A),
        dw('AP', 0, 7, 6, A, { enum: { 0: 'EL1 RW', 1: 'EL1+EL0 RW', 2: 'EL1 RO', 3: 'EL1+EL0 RO' } }),
        dw('SH', 0, 9, 8, A, { enum: { 0: 'NSH', 2: 'OSH', 3: 'ISH' } }),
        dw('AF', 0, 10, 10, A), dw('nG', 0, 11, 11, A),
        dw('OutputAddress', 0, 47, outputShift, A, { addr: true }),
        dw('GP', 0, 50, 50, A), dw('DBM', 0, 51, 51, A), dw('Contiguous', 0, 52, 52, A),
        dw('PXN', 0, 53, 53, A), dw('UXN', 0, 54, 54, A), dw('SW', 0, 58, 55, A), dw('PBHA', 0, 62, 59, A),
      ],
    };
  }
  return {
    name: 'S2 block/page descriptor', qwords: 1, fields: [
      ...common,
      dw('MemAttr', 0, 5, 2, A),
      dw('S2AP', 0, 7, 6, A, { enum: { 0: 'none', 1: 'RO', 2: 'WO', 3: 'RW' } }),
      dw('SH', 0, 9, 8, A, { enum: { 0: 'NSH', 2: 'OSH', 3: 'ISH' } }),
      dw('AF', 0, 10, 10, A), dw('FnXS', 0, 11, 11, A),
      dw('OutputAddress', 0, 47, outputShift, A, { addr: true }),
      dw('DBM', 0, 51, 51, A), dw('Contiguous', 0, 52, 52, A),
      dw('XN', 0, 54, 53, A, { enum: { 0: 'exec', 1: 'no-EL1-exec', 2: 'no-exec', 3: 'no-EL0-exec' } }),
      dw('SW', 0, 58, 55, A), dw('PBHA', 0, 62, 59, A),
    ],
  };
}
