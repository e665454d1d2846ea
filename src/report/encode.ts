/**
 * `smmu-replay encode`: the inverse of `decode`, for people writing traces by
 * hand.  Fields are given by spec name (case-insensitive) as NAME=value, where
 * value is a number or one of the field's enum names; the result is printed
 * as doublewords, or as ready-to-paste `mem_write` rows with `--at`.
 */
import { CD_LAYOUT, L1CD_LAYOUT } from '../model/cd.js';
import { commandByName, encodeCommand } from '../model/commands.js';
import { leafLayout, tableLayout } from '../model/descriptors.js';
import { encodeEvent, isEventName, EVENT_FIELDS, eventType, type EventFieldName } from '../model/events.js';
import { hex64, setField, type FieldDef, type Layout } from '../model/fields.js';
import { GRANULES, levelShift, type GranuleName } from '../model/granule.js';
import { STE_LAYOUT } from '../model/ste.js';
import { L1STD_LAYOUT } from '../model/streamTable.js';
import { parseNumber } from '../trace/parse.js';

export type EncodeKind = 'ste' | 'cd' | 'cmd' | 'event' | 'pte' | 'l1std' | 'l1cd';
export const ENCODE_KINDS: readonly EncodeKind[] = ['ste', 'cd', 'cmd', 'event', 'pte', 'l1std', 'l1cd'];

export interface EncodeOptions {
  readonly at?: bigint;
  readonly stage?: 1 | 2;
  readonly level?: number;
  readonly granule?: GranuleName;
  /** pte: 'table' or 'leaf' (default: leaf). */
  readonly pteKind?: 'table' | 'leaf';
  /** With `at`: print every doubleword, not only DW0 and the non-zero ones. */
  readonly all?: boolean;
}

function fieldValue(f: FieldDef, text: string): bigint {
  if (f.enum) {
    for (const [k, name] of Object.entries(f.enum)) if (name.toLowerCase() === text.toLowerCase()) return BigInt(k);
  }
  const v = parseNumber(text);
  if (typeof v === 'string') {
    const names = f.enum ? ` or one of ${Object.values(f.enum).join(', ')}` : '';
    throw new Error(`${f.name}: ${v}${names}`);
  }
  return v;
}

function assign(layout: Layout, assignments: readonly string[]): bigint[] {
  const q = new Array<bigint>(layout.qwords).fill(0n);
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`'${a}' is not NAME=value`);
    const name = a.slice(0, eq);
    const f = layout.fields.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!f) throw new Error(`${layout.name} has no field '${name}' (fields: ${layout.fields.map((x) => x.name).join(', ')})`);
    setField(f, q, fieldValue(f, a.slice(eq + 1)));
  }
  return q;
}

/** Encode a structure; returns output lines. Throws Error with a message for bad input. */
export function encodeText(kind: EncodeKind, args: readonly string[], o: EncodeOptions): string[] {
  let q: bigint[];
  switch (kind) {
    case 'ste': q = assign(STE_LAYOUT, args); break;
    case 'cd': q = assign(CD_LAYOUT, args); break;
    case 'l1std': q = assign(L1STD_LAYOUT, args); break;
    case 'l1cd': q = assign(L1CD_LAYOUT, args); break;
    case 'pte': {
      const g = GRANULES[o.granule ?? '4K'];
      const stage = o.stage ?? 1;
      const layout = o.pteKind === 'table' ? tableLayout(stage, g.shift) : leafLayout(stage, levelShift(g, o.level ?? 3));
      q = assign(layout, args);
      break;
    }
    case 'cmd': {
      const [name, ...rest] = args;
      const def = name ? commandByName(name) : undefined;
      if (!def) throw new Error(`give a command name first (for example CFGI_STE), not '${name ?? ''}'`);
      const vals: Record<string, bigint> = {};
      for (const a of rest) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw new Error(`'${a}' is not key=value`);
        const v = parseNumber(a.slice(eq + 1));
        if (typeof v === 'string') throw new Error(`${a.slice(0, eq)}: ${v}`);
        vals[a.slice(0, eq).toLowerCase()] = v;
      }
      q = [...encodeCommand(def, vals)];
      break;
    }
    case 'event': {
      const [name, ...rest] = args;
      if (!name || !isEventName(name)) throw new Error(`give an event name first (for example F_TRANSLATION), not '${name ?? ''}'`);
      const t = eventType(name);
      let sid = 0;
      let ssid: number | undefined;
      const fields: Partial<Record<EventFieldName, bigint>> = {};
      for (const a of rest) {
        const eq = a.indexOf('=');
        const k = a.slice(0, eq);
        const v = parseNumber(a.slice(eq + 1));
        if (eq <= 0 || typeof v === 'string') throw new Error(`'${a}' is not NAME=number`);
        if (k.toLowerCase() === 'streamid') sid = Number(v);
        else if (k.toLowerCase() === 'substreamid') ssid = Number(v);
        else {
          const fname = t.fields.find((n) => EVENT_FIELDS[n].name.toLowerCase() === k.toLowerCase());
          if (!fname) throw new Error(`${name} has no field '${k}' (fields: StreamID, SubstreamID, ${t.fields.map((n) => EVENT_FIELDS[n].name).join(', ')})`);
          fields[fname] = v;
        }
      }
      q = encodeEvent({ type: name, sid, ...(ssid !== undefined ? { ssid } : {}), fields });
      break;
    }
  }
  if (o.at !== undefined) {
    const at = o.at;
    return q.map((v, i) => ({ v, i })).filter(({ v, i }) => o.all || v !== 0n || i === 0)
      .map(({ v, i }) => `mem_write,0x${(at + BigInt(8 * i)).toString(16)},${hex64(v)}`);
  }
  return q.map((v, i) => `DW${i} ${hex64(v)}`);
}
