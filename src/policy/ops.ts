/**
 * The driver operations of `op` rows and their arguments, as data: which keys
 * each operation takes, which are required, and how values are read.  A
 * malformed `op` row is an input error (file:line:column, exit 2); what the
 * modelled driver refuses is a `driver` row instead.
 */
import { TraceError, type OpRow } from '../trace/format.js';
import { parseNumber } from '../trace/parse.js';

type ArgType = 'num' | 'str' | 'sids' | readonly string[];

interface ArgSpec {
  readonly type: ArgType;
  readonly required?: boolean;
}

export const OPS: Readonly<Record<string, Readonly<Record<string, ArgSpec>>>> = {
  probe: {
    disable_bypass: { type: ['0', '1'] }, strtab: { type: ['linear', '2lvl'] }, region: { type: 'num' },
  },
  domain_alloc: {
    id: { type: 'str', required: true }, type: { type: ['s1', 's2', 'nested', 'identity', 'blocked'], required: true },
    asid: { type: 'num' }, vmid: { type: 'num' }, granule: { type: ['4k', '16k', '64k'] }, ias: { type: 'num' }, oas: { type: 'num' },
  },
  domain_free: { id: { type: 'str', required: true } },
  attach: {
    sid: { type: 'sids', required: true }, domain: { type: 'str', required: true }, ats: { type: ['0', '1'] },
    s1dss: { type: ['ssid0', 'bypass', 'terminate'] }, ssid_bits: { type: 'num' },
  },
  detach: { sid: { type: 'sids', required: true } },
  map: {
    domain: { type: 'str', required: true }, iova: { type: 'num', required: true }, pa: { type: 'num', required: true },
    size: { type: 'num', required: true }, prot: { type: 'str' },
  },
  unmap: { domain: { type: 'str', required: true }, iova: { type: 'num', required: true }, size: { type: 'num', required: true } },
  set_pasid_table: {
    domain: { type: 'str', required: true }, config: { type: ['translate', 'bypass', 'abort'], required: true }, base: { type: 'num' },
    s1fmt: { type: 'num' }, s1cdmax: { type: 'num' }, s1dss: { type: ['ssid0', 'bypass', 'terminate'] },
  },
  unset_pasid_table: { domain: { type: 'str', required: true } },
  cache_invalidate: {
    domain: { type: 'str', required: true }, granularity: { type: ['asid', 'addr', 'all'], required: true },
    asid: { type: 'num' }, addr: { type: 'num' }, size: { type: 'num' }, leaf: { type: ['0', '1'] },
  },
  tlb_flush: { domain: { type: 'str', required: true } },
  write_ste: {
    sid: { type: 'num', required: true },
    q0: { type: 'num' }, q1: { type: 'num' }, q2: { type: 'num' }, q3: { type: 'num' },
    q4: { type: 'num' }, q5: { type: 'num' }, q6: { type: 'num' }, q7: { type: 'num' },
  },
  write_cd: {
    sid: { type: 'num', required: true }, ssid: { type: 'num' },
    q0: { type: 'num' }, q1: { type: 'num' }, q2: { type: 'num' }, q3: { type: 'num' },
    q4: { type: 'num' }, q5: { type: 'num' }, q6: { type: 'num' }, q7: { type: 'num' },
  },
};

export type ArgValue = bigint | string | number[];

/** Validate an op row's arguments against OPS; returns the parsed values by key. */
export function parseOpArgs(row: OpRow, file: string): Record<string, ArgValue> {
  const spec = OPS[row.name];
  if (!spec) throw new TraceError(file, row.line, `unknown operation '${row.name}' (known: ${Object.keys(OPS).join(', ')})`, 2);
  const out: Record<string, ArgValue> = {};
  for (const [k, text] of Object.entries(row.args)) {
    const s = spec[k];
    const col = row.argColumns[k];
    if (!s) throw new TraceError(file, row.line, `unknown key '${k}' for op ${row.name} (known: ${Object.keys(spec).join(', ')})`, col);
    if (s.type === 'num') {
      const v = parseNumber(text);
      if (typeof v === 'string') throw new TraceError(file, row.line, `${k}: ${v}`, col);
      out[k] = v;
    } else if (s.type === 'sids') {
      const parts = text.split('|').map((p) => parseNumber(p.trim()));
      const bad = parts.find((p) => typeof p === 'string');
      if (bad !== undefined) throw new TraceError(file, row.line, `${k}: ${bad as string}`, col);
      const sids = (parts as bigint[]).map((p) => {
        if (p > 0xffff_ffffn) throw new TraceError(file, row.line, `${k}: StreamID 0x${p.toString(16)} does not fit 32 bits`, col);
        return Number(p);
      });
      out[k] = sids;
    } else if (s.type === 'str') {
      if (text === '') throw new TraceError(file, row.line, `${k} must not be empty`, col);
      out[k] = text;
    } else {
      const v = text.toLowerCase();
      if (!s.type.includes(v)) throw new TraceError(file, row.line, `${k} must be one of ${s.type.join(', ')}, not '${text}'`, col);
      out[k] = v;
    }
  }
  for (const [k, s] of Object.entries(spec)) {
    if (s.required && out[k] === undefined) throw new TraceError(file, row.line, `op ${row.name} needs ${k}=`);
  }
  return out;
}
