import { describe, expect, it } from '@jest/globals';
import { OPS, parseOpArgs, type ArgValue } from '../../src/policy/ops.js';
import { TraceError, type OpRow } from '../../src/trace/format.js';
import { parseTraceText } from '../../src/trace/parse.js';

const FILE = 'ops.csv';

/** The op row on the last line of `text` (earlier lines may be comments, to move it down). */
async function opRow(text: string): Promise<OpRow> {
  const rows = await parseTraceText(text, FILE);
  const r = rows.at(-1)!;
  if (r.kind !== 'op') throw new Error(`not an op row: ${r.kind}`);
  return r;
}

async function parse(text: string): Promise<Record<string, ArgValue>> {
  return parseOpArgs(await opRow(text), FILE);
}

/** The TraceError parseOpArgs throws for `text`. */
async function failure(text: string): Promise<TraceError> {
  const row = await opRow(text);
  try {
    parseOpArgs(row, FILE);
  } catch (e) {
    if (e instanceof TraceError) return e;
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

function where(e: TraceError): [string, number, number | undefined, string] {
  return [e.file, e.line, e.column, e.problem];
}

describe('the operations', () => {
  it('are the thirteen driver operations, in this order', () => {
    expect(Object.keys(OPS)).toEqual([
      'probe', 'domain_alloc', 'domain_free', 'attach', 'detach', 'map', 'unmap', 'set_pasid_table',
      'unset_pasid_table', 'cache_invalidate', 'tlb_flush', 'write_ste', 'write_cd',
    ]);
  });

  // The required keys of each operation, and a row that gives all of them.
  const required: [op: string, keys: string[], row: string][] = [
    ['probe', [], 'op,probe'],
    ['domain_alloc', ['id', 'type'], 'op,domain_alloc,id=d1,type=s2'],
    ['domain_free', ['id'], 'op,domain_free,id=d1'],
    ['attach', ['sid', 'domain'], 'op,attach,sid=1,domain=d1'],
    ['detach', ['sid'], 'op,detach,sid=1'],
    ['map', ['domain', 'iova', 'pa', 'size'], 'op,map,domain=d1,iova=0x1000,pa=0x2000,size=0x1000'],
    ['unmap', ['domain', 'iova', 'size'], 'op,unmap,domain=d1,iova=0x1000,size=0x1000'],
    ['set_pasid_table', ['domain', 'config'], 'op,set_pasid_table,domain=d1,config=translate'],
    ['unset_pasid_table', ['domain'], 'op,unset_pasid_table,domain=d1'],
    ['cache_invalidate', ['domain', 'granularity'], 'op,cache_invalidate,domain=d1,granularity=all'],
    ['tlb_flush', ['domain'], 'op,tlb_flush,domain=d1'],
    ['write_ste', ['sid'], 'op,write_ste,sid=1'],
    ['write_cd', ['sid'], 'op,write_cd,sid=1'],
  ];
  it.each(required)('%s needs exactly %j', async (op, keys, row) => {
    expect(Object.keys(await parse(row)).sort()).toEqual([...keys].sort());
    for (const k of keys) {
      // drop the cell of key k: the error is located at the line, without a column
      const without = row.split(',').filter((c) => !c.startsWith(`${k}=`)).join(',');
      const e = await failure(`#\n${without}`);
      expect(where(e)).toEqual([FILE, 2, undefined, `op ${op} needs ${k}=`]);
      expect(e.message).toBe(`ops.csv:2: op ${op} needs ${k}=`);
    }
  });
});

describe('parseOpArgs values', () => {
  it('probe: enums (lower-cased) and a number', async () => {
    expect(await parse('op,probe,disable_bypass=1,strtab=2LVL,region=0x2_0000_0000')).toEqual({
      disable_bypass: '1', strtab: '2lvl', region: 0x2_0000_0000n,
    });
    expect(await parse('op,probe,strtab=linear,disable_bypass=0')).toEqual({ strtab: 'linear', disable_bypass: '0' });
  });

  it('domain_alloc: every key', async () => {
    expect(await parse('op,domain_alloc,id=guest0,type=Nested,asid=3,vmid=0x10,granule=64K,ias=40,oas=44')).toEqual({
      id: 'guest0', type: 'nested', asid: 3n, vmid: 0x10n, granule: '64k', ias: 40n, oas: 44n,
    });
    for (const t of ['s1', 's2', 'nested', 'identity', 'blocked']) {
      expect((await parse(`op,domain_alloc,id=d,type=${t}`)).type).toBe(t);
    }
  });

  it('domain_free and the string keys keep their text as written', async () => {
    expect(await parse('op,domain_free,id=My-Domain.1')).toEqual({ id: 'My-Domain.1' });
    expect(await parse('op,tlb_flush,domain=D')).toEqual({ domain: 'D' });
    expect(await parse('op,unset_pasid_table,domain=x')).toEqual({ domain: 'x' });
  });

  it('attach: a StreamID list with |, hex and decimal, spaces around the bars', async () => {
    expect(await parse('op,attach,sid=1|0x10 | 0x1_00,domain=d,ats=1,s1dss=BYPASS,ssid_bits=5')).toEqual({
      sid: [1, 16, 256], domain: 'd', ats: '1', s1dss: 'bypass', ssid_bits: 5n,
    });
    // one StreamID is a one-element list; duplicates are kept (the driver drops them)
    expect((await parse('op,attach,sid=7,domain=d')).sid).toEqual([7]);
    expect((await parse('op,detach,sid=2|2')).sid).toEqual([2, 2]);
    // the largest 32-bit StreamID
    expect((await parse('op,detach,sid=0xffff_ffff')).sid).toEqual([0xffff_ffff]);
  });

  it('map and unmap: 64-bit numbers with underscores; prot is a string', async () => {
    expect(await parse('op,map,domain=d,iova=0xffff_f000,pa=0x8_0000_0000,size=4096,prot=rwx')).toEqual({
      domain: 'd', iova: 0xffff_f000n, pa: 0x8_0000_0000n, size: 4096n, prot: 'rwx',
    });
    expect(await parse('op,unmap,domain=d,iova=0xFFFF_FFFF_FFFF_F000,size=0x1000')).toEqual({
      domain: 'd', iova: 0xffff_ffff_ffff_f000n, size: 0x1000n,
    });
  });

  it('set_pasid_table and cache_invalidate: enums and numbers', async () => {
    expect(await parse('op,set_pasid_table,domain=n,config=abort,base=0x4000_0000,s1fmt=1,s1cdmax=4,s1dss=ssid0')).toEqual({
      domain: 'n', config: 'abort', base: 0x4000_0000n, s1fmt: 1n, s1cdmax: 4n, s1dss: 'ssid0',
    });
    expect(await parse('op,cache_invalidate,domain=n,granularity=ADDR,asid=9,addr=0x2000,size=0x1000,leaf=1')).toEqual({
      domain: 'n', granularity: 'addr', asid: 9n, addr: 0x2000n, size: 0x1000n, leaf: '1',
    });
  });

  it('write_ste and write_cd: q0..q7 and ssid', async () => {
    expect(await parse('op,write_ste,sid=3,q0=0x1,q3=0x1_0000_0000,q7=0xffff_ffff_ffff_ffff')).toEqual({
      sid: 3n, q0: 1n, q3: 0x1_0000_0000n, q7: 0xffff_ffff_ffff_ffffn,
    });
    expect(await parse('op,write_cd,sid=3,ssid=2,q0=0x1,q1=2,q2=3,q3=4,q4=5,q5=6,q6=7,q7=8')).toEqual({
      sid: 3n, ssid: 2n, q0: 1n, q1: 2n, q2: 3n, q3: 4n, q4: 5n, q5: 6n, q6: 7n, q7: 8n,
    });
  });

  it('upper-case keys and operation names are read in lower case', async () => {
    const row = await opRow('OP,Map,DOMAIN=d,IOVA=0x1000,PA=0,Size=0x1000');
    expect(row.name).toBe('map');
    expect(parseOpArgs(row, FILE)).toEqual({ domain: 'd', iova: 0x1000n, pa: 0n, size: 0x1000n });
  });
});

describe('parseOpArgs errors (file, line, column)', () => {
  it('an unknown operation, at the name cell (column 2), listing the known ones', async () => {
    const e = await failure('#\n#\nop,frobnicate,sid=1');
    expect(where(e)).toEqual([FILE, 3, 2, `unknown operation 'frobnicate' (known: probe, domain_alloc, domain_free, attach, detach, map, unmap, set_pasid_table, unset_pasid_table, cache_invalidate, tlb_flush, write_ste, write_cd)`]);
    expect(e.message.startsWith('ops.csv:3:2: unknown operation')).toBe(true);
  });

  it('an unknown key, at its cell, listing the keys of that operation', async () => {
    const e = await failure('op,map,domain=d,iova=0x1000,pa=0,size=0x1000,flags=3');
    // cells: op (1), map (2), domain (3), iova (4), pa (5), size (6), flags (7)
    expect(where(e)).toEqual([FILE, 1, 7, "unknown key 'flags' for op map (known: domain, iova, pa, size, prot)"]);
    // a key of another operation is unknown here too; it is reported before any missing key
    const e2 = await failure('op,detach,domain=d');
    expect(where(e2)).toEqual([FILE, 1, 3, "unknown key 'domain' for op detach (known: sid)"]);
    const e3 = await failure('op,write_ste,sid=1,q8=0');
    expect(where(e3)[2]).toBe(4);
    expect(where(e3)[3]).toBe("unknown key 'q8' for op write_ste (known: sid, q0, q1, q2, q3, q4, q5, q6, q7)");
  });

  it('an enum value outside its set, with the text as written', async () => {
    expect(where(await failure('op,domain_alloc,id=d,type=S3'))).toEqual([FILE, 1, 4, "type must be one of s1, s2, nested, identity, blocked, not 'S3'"]);
    expect(where(await failure('op,probe,strtab=3lvl'))[3]).toBe("strtab must be one of linear, 2lvl, not '3lvl'");
    expect(where(await failure('op,attach,sid=1,domain=d,ats=yes'))).toEqual([FILE, 1, 5, "ats must be one of 0, 1, not 'yes'"]);
    expect(where(await failure('op,set_pasid_table,domain=d,config=')))
      .toEqual([FILE, 1, 4, "config must be one of translate, bypass, abort, not ''"]);
    expect(where(await failure('op,cache_invalidate,domain=d,granularity=all,leaf=2'))[3]).toBe("leaf must be one of 0, 1, not '2'");
    expect(where(await failure('op,domain_alloc,id=d,type=s1,granule=8k'))[3]).toBe("granule must be one of 4k, 16k, 64k, not '8k'");
  });

  it('numbers: malformed hex underscores, negative, above 2^64-1, empty', async () => {
    expect(where(await failure('op,map,domain=d,iova=0x_1000,pa=0,size=1'))).toEqual([FILE, 1, 4, "iova: '0x_1000' is not a number (decimal or 0x hex)"]);
    expect(where(await failure('op,map,domain=d,iova=0x1__000,pa=0,size=1'))[3]).toBe("iova: '0x1__000' is not a number (decimal or 0x hex)");
    expect(where(await failure('op,map,domain=d,iova=0x1000_,pa=0,size=1'))[3]).toBe("iova: '0x1000_' is not a number (decimal or 0x hex)");
    expect(where(await failure('op,map,domain=d,iova=0,pa=0,size=-1'))).toEqual([FILE, 1, 6, 'size: -1 is negative']);
    // 2^64 = 0x1_0000_0000_0000_0000
    expect(where(await failure('op,probe,region=0x1_0000_0000_0000_0000'))).toEqual([FILE, 1, 3, 'region: 0x1_0000_0000_0000_0000 is above 2^64-1']);
    expect(where(await failure('op,write_ste,sid=')))
      .toEqual([FILE, 1, 3, "sid: '' is not a number (decimal or 0x hex)"]);
    expect(where(await failure('op,domain_alloc,id=d,type=s1,ias=forty'))[3]).toBe("ias: 'forty' is not a number (decimal or 0x hex)");
  });

  it('StreamID lists: an empty or malformed element, or a StreamID above 32 bits', async () => {
    expect(where(await failure('op,detach,sid=1||2'))).toEqual([FILE, 1, 3, "sid: '' is not a number (decimal or 0x hex)"]);
    expect(where(await failure('op,detach,sid='))).toEqual([FILE, 1, 3, "sid: '' is not a number (decimal or 0x hex)"]);
    expect(where(await failure('op,attach,domain=d,sid=1|x'))).toEqual([FILE, 1, 4, "sid: 'x' is not a number (decimal or 0x hex)"]);
    expect(where(await failure('op,detach,sid=1|0x1_0000_0000'))).toEqual([FILE, 1, 3, 'sid: StreamID 0x100000000 does not fit 32 bits']);
  });

  it('an empty string value', async () => {
    expect(where(await failure('op,domain_free,id='))).toEqual([FILE, 1, 3, 'id must not be empty']);
    expect(where(await failure('op,map,domain=,iova=0,pa=0,size=1'))).toEqual([FILE, 1, 3, 'domain must not be empty']);
    expect(where(await failure('op,map,domain=d,iova=0,pa=0,size=1,prot='))).toEqual([FILE, 1, 7, 'prot must not be empty']);
  });

  it('the TraceError message carries file:line:column', async () => {
    const e = await failure('#\nop,attach,sid=1,domain=d,s1dss=none');
    expect(e.message).toBe("ops.csv:2:5: s1dss must be one of ssid0, bypass, terminate, not 'none'");
  });
});
