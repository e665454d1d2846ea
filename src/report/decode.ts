/**
 * `smmu-replay decode`: print a structure's fields by spec name from the one
 * bit-field table of the model, flag reserved bits that are set, and say
 * whether the combination is ILLEGAL for the chosen profile.
 */
import { CD_LAYOUT, decodeCd, interpretCd } from '../model/cd.js';
import { decodeCommand, illegalReason } from '../model/commands.js';
import { descriptorKind, leafLayout, tableLayout } from '../model/descriptors.js';
import { eventLayout, decodeEvent, eventNameOf } from '../model/events.js';
import { describePosition, formatValue, getField, reservedBitsSet, type Layout } from '../model/fields.js';
import { GRANULES, levelShift, type GranuleName } from '../model/granule.js';
import { featuresOf, type Profile } from '../model/profiles.js';
import { decodeSte, interpretSte, STE_LAYOUT } from '../model/ste.js';
import { L1STD_LAYOUT } from '../model/streamTable.js';
import { L1CD_LAYOUT } from '../model/cd.js';

export type DecodeKind = 'ste' | 'cd' | 'cmd' | 'event' | 'pte' | 'l1std' | 'l1cd';
export const DECODE_KINDS: readonly DecodeKind[] = ['ste', 'cd', 'cmd', 'event', 'pte', 'l1std', 'l1cd'];

export interface DecodeOptions {
  readonly profile: Profile;
  readonly stage?: 1 | 2;
  readonly level?: number;
  readonly granule?: GranuleName;
}

function table(layout: Layout, q: readonly bigint[], spec: string): string[] {
  const out = [`${layout.name} (${spec})`];
  const w = Math.max(...layout.fields.map((f) => f.name.length));
  for (const f of layout.fields) {
    const v = getField(f, q);
    const pos = describePosition(f).padEnd(12);
    const raw = f.addr || f.width > 4 ? `0x${v.toString(16)}` : v.toString();
    const meaning = f.enum ? ` (${formatValue(f, v)})` : '';
    out.push(`  ${pos} ${f.name.padEnd(w)} = ${raw}${meaning}`);
  }
  const res = reservedBitsSet(layout, q);
  for (const r of res) out.push(`  reserved bits set: DW${r.qword} & 0x${r.bits.toString(16).padStart(16, '0')} (RES0)`);
  return out;
}

/** Decode words into text lines; throws Error with a message for unusable input. */
export function decodeText(kind: DecodeKind, words: readonly bigint[], o: DecodeOptions): string[] {
  const feat = featuresOf(o.profile);
  const need = { ste: 8, cd: 8, cmd: 2, event: 4, pte: 1, l1std: 1, l1cd: 1 }[kind];
  if (words.length > need) throw new Error(`${kind} takes at most ${need} doubleword${need > 1 ? 's' : ''}, got ${words.length}`);
  const q = [...words, ...new Array<bigint>(need - words.length).fill(0n)];
  switch (kind) {
    case 'ste': {
      const out = table(STE_LAYOUT, q, 'IHI0070 §5.2');
      const v = interpretSte(decodeSte(q), { features: feat, e2h: false });
      out.push(v.kind === 'illegal' ? `ILLEGAL (C_BAD_STE): ${v.reason}` : `verdict on profile ${o.profile.name}: ${verdictText(v)}`);
      return out;
    }
    case 'cd': {
      const out = table(CD_LAYOUT, q, 'IHI0070 §5.4');
      const v = interpretCd(decodeCd(q), { features: feat, world: 'NS-EL1', s1stalld: false });
      out.push(v.kind === 'illegal' ? `ILLEGAL (C_BAD_CD): ${v.reason}` : v.kind === 'unsupported' ? `UNSUPPORTED: ${v.reason}` : `valid on profile ${o.profile.name} (StreamWorld NS-EL1)`);
      return out;
    }
    case 'cmd': {
      const c = decodeCommand(q[0]!, q[1]!);
      if (!c.def) return [`command opcode 0x${c.opcode.toString(16).padStart(2, '0')}: reserved`, `CERROR_ILL: opcode 0x${c.opcode.toString(16)} is reserved`];
      const layout: Layout = { name: c.def.name === 'CMD_SYNC' ? 'CMD_SYNC' : `CMD_${c.def.name}`, qwords: 2, fields: [{ name: 'opcode', qword: 0, lo: 0, width: 8, spec: c.def.spec }, ...c.def.fields] };
      const out = table(layout, q, c.def.spec);
      const ill = illegalReason(c, feat);
      out.push(ill ? `CERROR_ILL on profile ${o.profile.name}: ${ill}` : `legal on profile ${o.profile.name}`);
      return out;
    }
    case 'event': {
      const { record, code } = decodeEvent(q);
      if (!record) return [`event type 0x${code.toString(16)}: ${eventNameOf(code)}`];
      return table(eventLayout(record.type), q, `IHI0070 §7.3, ${record.type}`);
    }
    case 'pte': {
      const stage = o.stage ?? 1;
      const level = o.level ?? 3;
      const g = GRANULES[o.granule ?? '4K'];
      const k = descriptorKind(q[0]!, level, g.blockLevels);
      const head = `stage-${stage} descriptor at level ${level}, ${g.name} granule: ${k}`;
      if (k === 'invalid' || k === 'reserved') return [head, `  a walk reaching it gives F_TRANSLATION (Arm ARM D8.3)`];
      const layout = k === 'table' ? tableLayout(stage, g.shift) : leafLayout(stage, levelShift(g, level));
      const out = [head, ...table(layout, q, 'Arm ARM D8.3').slice(1)];
      return out;
    }
    case 'l1std':
      return table(L1STD_LAYOUT, q, 'IHI0070 §5.1');
    case 'l1cd':
      return table(L1CD_LAYOUT, q, 'IHI0070 §5.3');
  }
}

function verdictText(v: ReturnType<typeof interpretSte>): string {
  switch (v.kind) {
    case 'invalid': return 'invalid (V=0): C_BAD_STE';
    case 'abort': return 'abort (Config=0b0xx): terminated, no event';
    case 'bypass': return 'bypass';
    case 'unsupported': return `UNSUPPORTED: ${v.reason}`;
    case 'illegal': return `ILLEGAL: ${v.reason}`;
    case 'translate': {
      const parts = [];
      if (v.s1) parts.push(`stage 1 (S1ContextPtr=0x${v.s1.contextPtr.toString(16)}, S1CDMax=${v.s1.cdMax}, ${v.s1.world})`);
      if (v.s2) parts.push(`stage 2 (VMID=${v.s2.vmid}, ${v.s2.granule.name}, ${v.s2.inputBits}-bit IPA, start level ${v.s2.startLevel}${v.s2.concat > 1 ? ` x${v.s2.concat} concatenated` : ''}, S2TTB=0x${v.s2.ttb.toString(16)})`);
      return `translate: ${parts.join(' then ')}`;
    }
  }
}
