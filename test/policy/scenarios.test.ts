/**
 * The named effects of the bundled scenario traces, asserted per variant.
 *
 * The golden files hold the full streams; these tests state, independently,
 * the few facts each trace exists to show (the RFC v3 review's findings and
 * the live-update behaviours), so a golden refresh cannot quietly lose them.
 * Each assertion names the trace line by its content, not its number.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { count, lineOf, runScenario, type Collected } from './scenario.js';

const ALL = ['linux-5.0', 'rfc-v3', 'rfc-v3-union', 'rfc-v3-cleared', 'rfc-v3-review', 'auger-v7', 'auger-v8', 'linux-6.10', 'linux-current', 'torn', 'nosync'];

function traceLines(stem: string): string[] {
  return readFileSync(join(ROOT, 'traces', `${stem}.csv`), 'utf8').split('\n');
}

/** `Name=value` tokens of an STE summary (fields that are zero are not listed: absent means 0). */
function fields(summary: string): Map<string, string> {
  return new Map(summary.split(' ').filter((t) => t.includes('=')).map((t) => t.split('=') as [string, string]));
}

/** The SMMU's view of StreamID `sid` after the last sync of line `line` (its last cfgi row there). */
function afterSync(c: Collected, sid: number, line: number): Map<string, string> {
  const rows = c.ste.filter((r) => r.sid === sid && r.line === line && r.action === 'cfgi');
  if (rows.length === 0) throw new Error(`no cfgi row for StreamID ${sid} on line ${line}`);
  return fields(rows.at(-1)!.summary);
}

const dmaAt = (c: Collected, line: number) => {
  const rows = c.dma.filter((r) => r.line === line);
  if (rows.length !== 1) throw new Error(`expected one DMA row on line ${line}, got ${rows.length}`);
  return rows[0]!;
};
const faultsAt = (c: Collected, line: number, source?: string) => c.faults.filter((r) => r.line === line && (source === undefined || r.source === source));
const hazards = (c: Collected, state?: 'invalid' | 'unsafe') => c.faults.filter((r) => r.source === 'hazard' && (state === undefined || r.type === state));

describe('nested-bypass: flag vs cleared s1_cfg (RFC v3 09/21 vs 10/21)', () => {
  const lines = traceLines('nested-bypass');
  const alloc = lineOf(lines, 'op,domain_alloc,id=vm,type=nested');
  const bypass1 = lineOf(lines, 'op,set_pasid_table,domain=vm,config=bypass');
  const translate1 = lineOf(lines, 'op,set_pasid_table,domain=vm,config=translate');
  const dmas = lines.flatMap((l, i) => (l.startsWith('dma,') ? [i + 1] : []));
  let r: Map<string, Collected>;
  beforeAll(async () => {
    r = await runScenario('nested-bypass', ALL);
  });

  it('the trace has the four DMAs this test reasons about', () => {
    expect(dmas).toHaveLength(4);
  });

  it.each(['linux-5.0', 'linux-6.10'])('%s has no nesting: EINVAL at domain_alloc, every DMA C_BAD_STREAMID', (v) => {
    const c = r.get(v)!;
    expect(faultsAt(c, alloc, 'driver').map((f) => f.type)).toEqual(['EINVAL']);
    for (const l of dmas) expect(dmaAt(c, l).detail).toMatch(/^C_BAD_STREAMID/);
  });

  it('the flag variant rewrites qword 1 for bypass and drops SHCFG; the cleared variant keeps it', () => {
    // Stage-2 STE of the attach has SHCFG=incoming (SHCFG, STE[109:108] =
    // qword 1 bits [45:44] = 0b01).  rfc-v3 keeps s1_cfg under bypass, so the
    // legacy builder writes the stage-1 qword 1: S1CIR=WBRA (1 << 2), S1COR=WBRA
    // (1 << 4), S1CSH=ISH (3 << 6) = 0x4 + 0x10 + 0xc0 = 0xd4, SHCFG 0.
    const flag = r.get('rfc-v3')!;
    const cleared = r.get('rfc-v3-cleared')!;
    const q1 = (c: Collected) => c.ste.filter((x) => x.line === bypass1 && x.action === 'store' && x.qword === 1).map((x) => x.value);
    expect(q1(flag)).toEqual([0xd4n]);
    expect(q1(cleared)).toEqual([]);
    expect(afterSync(flag, 0x10, bypass1).get('Config')).toBe('S2');
    expect(afterSync(flag, 0x10, bypass1).has('SHCFG')).toBe(false);
    expect(afterSync(cleared, 0x10, bypass1).get('SHCFG')).toBe('incoming');
  });

  it('flag and cleared give the same DMA outcomes: guest VA under translate, IPA under bypass', () => {
    for (const v of ['rfc-v3', 'rfc-v3-cleared', 'auger-v7', 'auger-v8', 'linux-current', 'torn']) {
      const c = r.get(v)!;
      // IPA 0x4010_0020 -> PA 0x8000_0000 + 0x10_0020; VA 0x1000_0010 -> IPA 0x4010_0010 -> PA 0x8010_0010
      expect(dmas.map((l) => dmaAt(c, l).pa)).toEqual([0x8010_0020n, 0x8010_0010n, 0x8010_0020n, 0x8010_0010n]);
      expect(c.summary!.checks.mismatched).toBe(0);
    }
  });

  it('rfc-v3-union corrupts s2_cfg through the union: every DMA is C_BAD_STE', () => {
    const c = r.get('rfc-v3-union')!;
    const nested = afterSync(c, 0x10, translate1);
    // cdptr_dma (guest CD IPA 0x4000_0000) lands on s2_cfg.vttbr, cdptr[15:0]=0 on vmid, and the
    // two flag bytes on vtcr[15:0]: S2T0SZ (vtcr[5:0]) = 0 under translate, 1 under bypass.
    expect(nested.get('Config')).toBe('nested');
    expect(nested.get('S2TTB')).toBe('0x40000000');
    expect(nested.has('S2VMID')).toBe(false);
    expect(nested.has('S2T0SZ')).toBe(false);
    expect(afterSync(c, 0x10, bypass1).get('S2T0SZ')).toBe('1');
    expect(dmas.map((l) => dmaAt(c, l).detail.split(':')[0])).toEqual(['C_BAD_STE', 'C_BAD_STE', 'C_BAD_STE', 'C_BAD_STE']);
  });

  it('invalidate-first variants open a V=0 window at every switch; in-place opens an unsafe one', () => {
    const switches = lines.flatMap((l, i) => (l.startsWith('op,set_pasid_table') ? [i + 1] : []));
    for (const v of ['rfc-v3', 'rfc-v3-cleared', 'auger-v8']) {
      expect(hazards(r.get(v)!, 'invalid').map((h) => h.line)).toEqual(switches);
      expect(hazards(r.get(v)!, 'unsafe')).toEqual([]);
    }
    const v7 = r.get('auger-v7')!;
    expect(hazards(v7, 'invalid')).toEqual([]);
    expect(hazards(v7, 'unsafe').map((h) => h.line)).toEqual([translate1]);
  });

  it('linux-current maps the vSTE hitlessly: no hazard, MEV set under nested', () => {
    const c = r.get('linux-current')!;
    expect(hazards(c)).toEqual([]);
    expect(afterSync(c, 0x10, translate1).get('MEV')).toBe('1');
  });

  it('nosync never issues CFGI_STE, and the SMMU keeps the stage-2 STE it cached', () => {
    const c = r.get('nosync')!;
    expect(c.cmds.filter((x) => x.name === 'CFGI_STE')).toEqual([]);
    // the translate-phase DMAs are taken as IPAs by the stale stage-2 entry: IPA 0x1000_0010 is unmapped
    expect(dmaAt(c, dmas[1]!).detail).toMatch(/^F_TRANSLATION S2=1 .*stale STE/);
    expect(dmaAt(c, dmas[3]!).detail).toMatch(/stale STE/);
  });
});

describe('nested-abort: the unreachable abort and the silent abort', () => {
  const lines = traceLines('nested-abort');
  const abort = lineOf(lines, 'op,set_pasid_table,domain=vm,config=abort');
  const unset = lineOf(lines, 'op,unset_pasid_table');
  const [d1, d2] = [abort + 1, abort + 2];
  const ipaDma = lineOf(lines, 'dma,', unset);
  let r: Map<string, Collected>;
  beforeAll(async () => {
    r = await runScenario('nested-abort', ALL);
  });

  it('the trace places two DMAs right after the abort request', () => {
    expect(lines[d1 - 1]).toMatch(/^dma,0x10,.*expect=abort/);
    expect(lines[d2 - 1]).toMatch(/^dma,0x10,.*expect=abort/);
  });

  it.each(['rfc-v3', 'rfc-v3-cleared'])('%s: nested_abort is never read on the stage-2 path, the DMAs still translate', (v) => {
    const c = r.get(v)!;
    expect(afterSync(c, 0x10, abort).get('Config')).toBe('nested');
    expect(dmaAt(c, d1).outcome).toBe('translated');
    expect(dmaAt(c, d2).outcome).toBe('translated');
    expect(faultsAt(c, d1, 'check').map((f) => f.detail)).toEqual(['expected abort, got pa:0x0000000080100010']);
    expect(faultsAt(c, d2, 'check').map((f) => f.detail)).toEqual(['expected abort, got pa:0x0000000080100020']);
  });

  it.each(['auger-v7', 'auger-v8', 'linux-current'])('%s: Config=abort terminates silently: no event a VMM could forward', (v) => {
    const c = r.get(v)!;
    expect(afterSync(c, 0x10, abort).get('Config')).toBe('abort');
    for (const l of [d1, d2]) {
      expect(dmaAt(c, l).outcome).toBe('abort');
      expect(faultsAt(c, l, 'evtq')).toEqual([]);
    }
  });

  it('rfc-v3-review: the empty host CD turns every DMA into a recorded F_TRANSLATION', () => {
    const c = r.get('rfc-v3-review')!;
    const s = afterSync(c, 0x10, abort);
    // top page of the 40-bit IPA space: 2^40 - 2^12 = 0xff_ffff_f000
    expect(s.get('Config')).toBe('nested');
    expect(s.get('S1ContextPtr')).toBe('0xfffffff000');
    for (const l of [d1, d2]) {
      expect(dmaAt(c, l).outcome).toBe('fault');
      expect(faultsAt(c, l, 'evtq').map((f) => f.type)).toEqual(['F_TRANSLATION']);
    }
  });

  it('after unset_pasid_table, only variants that reset the abort state translate the IPA again', () => {
    // detachResetsAbort: rfc-v3, rfc-v3-cleared, rfc-v3-review go back to the stage-2 STE;
    // auger-v7/v8 keep abort=1 (the v10-v13 behaviour); linux-current maps the cleared vSTE to abort.
    for (const v of ['rfc-v3', 'rfc-v3-cleared', 'rfc-v3-review']) expect([v, dmaAt(r.get(v)!, ipaDma).pa]).toEqual([v, 0x8010_0030n]);
    for (const v of ['auger-v7', 'auger-v8', 'linux-current']) expect([v, dmaAt(r.get(v)!, ipaDma).outcome]).toEqual([v, 'abort']);
  });
});

describe('union-aliasing: s1_cfg over s2_cfg byte for byte', () => {
  const lines = traceLines('union-aliasing');
  const set = lineOf(lines, 'op,set_pasid_table');
  const s1Attach = lineOf(lines, 'op,attach,sid=0x20');
  const s2Attach = lineOf(lines, 'op,attach,sid=0x21');
  let r: Map<string, Collected>;
  beforeAll(async () => {
    r = await runScenario('union-aliasing', ['rfc-v3', 'rfc-v3-union', 'linux-5.0']);
  });

  it('a single-stage domain writes the same STEs with or without the union', () => {
    const stores = (c: Collected, sid: number) => c.ste.filter((x) => x.sid === sid && x.action === 'store').map((x) => [x.qword, x.value]);
    for (const sid of [0x20, 0x21]) {
      expect(stores(r.get('rfc-v3-union')!, sid)).toEqual(stores(r.get('rfc-v3')!, sid));
      expect(stores(r.get('linux-5.0')!, sid)).toEqual(stores(r.get('rfc-v3')!, sid));
      expect(stores(r.get('rfc-v3')!, sid).length).toBeGreaterThan(0);
    }
    expect(afterSync(r.get('rfc-v3-union')!, 0x20, s1Attach).get('Config')).toBe('S1');
    expect(afterSync(r.get('rfc-v3-union')!, 0x21, s2Attach).get('Config')).toBe('S2');
  });

  it('the nested STE of the union variant has vmid, vttbr and vtcr[15:0] overwritten; S2PS survives', () => {
    const split = afterSync(r.get('rfc-v3')!, 0x22, set);
    const union = afterSync(r.get('rfc-v3-union')!, 0x22, set);
    expect(split.get('S2VMID')).toBe('2');
    expect(union.has('S2VMID')).toBe(false); // cdptr[15:0] = 0
    expect(split.get('S2TTB')).not.toBe('0x40000000');
    expect(union.get('S2TTB')).toBe('0x40000000'); // cdptr_dma
    for (const f of ['S2T0SZ', 'S2SL0', 'S2IR0', 'S2OR0', 'S2SH0']) {
      expect([f, split.has(f)]).toEqual([f, true]);
      expect([f, union.has(f)]).toEqual([f, false]); // vtcr[15:0] = nested_bypass | nested_abort << 8 = 0
    }
    expect(union.get('S2PS')).toBe(split.get('S2PS')); // vtcr[18:16] is past the two flag bytes
    const c = r.get('rfc-v3-union')!.ste.filter((x) => x.line === set && x.action === 'cfgi').at(-1)!;
    expect(c.state).toBe('illegal');
    expect(dmaAt(r.get('rfc-v3-union')!, set + 1).detail).toMatch(/^C_BAD_STE: S2T0SZ=0/);
    expect(dmaAt(r.get('rfc-v3')!, set + 1).pa).toBe(0x8010_0040n);
  });
});

describe('tlbi-asid: the guest ASID handed through s1_cfg', () => {
  const lines = traceLines('tlbi-asid');
  const unmap = lineOf(lines, 'op,unmap');
  const flush = lineOf(lines, 'op,tlb_flush');
  const last = lineOf(lines, 'dma,', flush);
  let r: Map<string, Collected>;
  beforeAll(async () => {
    r = await runScenario('tlbi-asid', ALL);
  });
  const names = (c: Collected, line: number) => c.cmds.filter((x) => x.line === line).map((x) => x.name);

  it.each(['rfc-v3', 'rfc-v3-cleared'])('%s: invalidations use the stale ASID 7, the ASID 5 entry survives, the DMA reaches an unmapped page', (v) => {
    const c = r.get(v)!;
    expect(names(c, unmap)).toContain('TLBI_NH_VA');
    expect(names(c, unmap)).not.toContain('TLBI_S2_IPA');
    expect(names(c, flush)).toContain('TLBI_NH_ASID');
    expect(dmaAt(c, last).pa).toBe(0x9000_0010n);
    expect(faultsAt(c, last, 'check').map((f) => f.detail)).toEqual(['expected fault:F_TRANSLATION, got pa:0x0000000090000010']);
  });

  it.each(['rfc-v3-review', 'auger-v7', 'auger-v8', 'linux-current', 'torn', 'nosync'])('%s: stage-2 invalidations remove the entry, the DMA faults at stage 2', (v) => {
    const c = r.get(v)!;
    expect(names(c, unmap)).toEqual(expect.arrayContaining(['TLBI_S2_IPA', 'TLBI_NH_ALL', 'CMD_SYNC']));
    expect(names(c, flush)).toContain('TLBI_S12_VMALL');
    expect(dmaAt(c, last).outcome).toBe('fault');
    expect(faultsAt(c, last, 'evtq').map((f) => [f.type, f.detail.includes('S2=1 CLASS=IN IPA=0x50000000')])).toEqual([['F_TRANSLATION', true]]);
    expect(c.summary!.checks.mismatched).toBe(0);
  });
});

describe('live-switch: every way of updating a live STE', () => {
  const lines = traceLines('live-switch');
  const partB = lines.findIndex((l) => l.startsWith('op,write_ste,sid=0x130')) + 1;
  const bWrites = lines.flatMap((l, i) => (l.startsWith('op,write_ste,sid=0x130') ? [i + 1] : []));
  let r: Map<string, Collected>;
  beforeAll(async () => {
    r = await runScenario('live-switch', ALL);
  });
  const cfgis = (c: Collected, line: number) => count(c.ste, (x) => x.line === line && x.action === 'cfgi');

  it('part B writes stage 2, nested, stage 2', () => {
    expect(bWrites).toHaveLength(3);
    expect(partB).toBe(bWrites[0]);
  });

  it('linux-current: no hazard anywhere', () => {
    expect(hazards(r.get('linux-current')!)).toEqual([]);
  });

  it('linux-6.10: part B is hitless, two syncs each way', () => {
    const c = r.get('linux-6.10')!;
    expect(hazards(c).filter((h) => h.line >= partB)).toEqual([]);
    // S2 -> nested: only qword 0 is critical (stage 2 ignores S1CIR/S1COR/S1CSH), so
    // step 1 writes qword 1's stage-1 fields (sync), step 2 qword 0 (sync), step 3 nothing.
    // nested -> S2: step 1 has nothing unused to write (no sync), step 2 qword 0 (sync),
    // step 3 clears the stage-1 fields stage 2 no longer uses (sync).
    expect([cfgis(c, bWrites[1]!), cfgis(c, bWrites[2]!)]).toEqual([2, 2]);
    const q = (line: number) => c.ste.filter((x) => x.line === line && x.action === 'store').map((x) => x.qword);
    expect(q(bWrites[1]!)).toEqual([1, 0]);
    expect(q(bWrites[2]!)).toEqual([0, 1]);
  });

  it.each(['rfc-v3', 'rfc-v3-cleared', 'rfc-v3-review', 'auger-v8'])('%s: invalidate-first opens a V=0 window at each part-B switch', (v) => {
    const c = r.get(v)!;
    const inB = hazards(c, 'invalid').filter((h) => h.line >= partB).map((h) => h.line);
    expect(inB).toEqual([bWrites[1], bWrites[2]]);
    // qword 0 := 0, sync; qwords 1-3, sync; qword 0, sync
    expect([cfgis(c, bWrites[1]!), cfgis(c, bWrites[2]!)]).toEqual([3, 3]);
  });

  it('auger-v7: qword 1 is rewritten under the live Config; only the switch that adds unused bits is clean', () => {
    const c = r.get('auger-v7')!;
    expect(hazards(c, 'invalid')).toEqual([]);
    expect(hazards(c, 'unsafe').filter((h) => h.line < partB).length).toBeGreaterThan(0);
    // B, stage 2 -> nested: qword 1 gains S1CIR/S1COR/S1CSH, which Config=S2 ignores: no window.
    // B, nested -> stage 2: qword 1 loses them while Config is still nested, which uses them.
    const inB = hazards(c, 'unsafe').filter((h) => h.line >= partB);
    expect(inB.map((h) => h.line)).toEqual([bWrites[2]]);
    expect(inB[0]!.detail).toMatch(/store to qword 1.*Config:old .*S1CIR:new/);
  });

  it('linux-5.0: BUG_ON(ste_live) on the live switch; the entry stays stage 2', () => {
    const c = r.get('linux-5.0')!;
    expect(faultsAt(c, bWrites[1]!, 'driver').map((f) => f.type)).toEqual(['BUG']);
    expect(afterSync(c, 0x130, bWrites[0]!).get('Config')).toBe('S2');
    expect(c.ste.filter((x) => x.line === bWrites[1] && x.action === 'store')).toEqual([]);
  });

  it('torn has unsafe windows and nosync stale entries', () => {
    expect(hazards(r.get('torn')!, 'unsafe').length).toBeGreaterThan(0);
    expect(r.get('nosync')!.dma.some((d) => d.detail.includes('stale STE'))).toBe(true);
    expect(r.get('nosync')!.cmds.filter((x) => x.name === 'CFGI_STE')).toEqual([]);
  });
});

describe('legacy-lifecycle: the sync counts of arm_smmu_write_strtab_ent (v5.0)', () => {
  const lines = traceLines('legacy-lifecycle');
  let c: Collected;
  let modern: Collected;
  beforeAll(async () => {
    const r = await runScenario('legacy-lifecycle', ['linux-5.0', 'linux-current']);
    c = r.get('linux-5.0')!;
    modern = r.get('linux-current')!;
  });
  const cfgis = (x: Collected, line: number) => count(x.ste, (s) => s.line === line && s.sid === 0x8 && s.action === 'cfgi');

  it('attach to stage 1: qwords 1-3, sync, qword 0, sync, then PREFETCH_CONFIG', () => {
    const l = lineOf(lines, 'op,attach,sid=0x8,domain=s1');
    expect(cfgis(c, l)).toBe(2);
    expect(c.cmds.filter((x) => x.line === l).map((x) => x.name)).toContain('PREFETCH_CONFIG');
  });

  it('a domain switch detaches first: 1 sync for the abort path, then 2', () => {
    expect(cfgis(c, lineOf(lines, 'op,attach,sid=0x8,domain=s2'))).toBe(3);
  });

  it('identity after detach: one sync each; the blocking domain does not exist in v5.0', () => {
    expect(cfgis(c, lineOf(lines, 'op,attach,sid=0x8,domain=ident'))).toBe(2);
    const blk = lineOf(lines, 'op,domain_alloc,id=blk');
    expect(faultsAt(c, blk, 'driver').map((f) => f.type)).toEqual(['EINVAL']);
    expect(faultsAt(modern, blk, 'driver')).toEqual([]);
  });

  it('detach with disable_bypass: the bypass/fault path writes Config=abort with one sync', () => {
    const l = lineOf(lines, 'op,detach,sid=0x8');
    expect(cfgis(c, l)).toBe(1);
    expect(afterSync(c, 0x8, l).get('Config')).toBe('abort');
    expect(dmaAt(c, l + 1).outcome).toBe('abort');
  });

  it('a two-StreamID master gets two syncs per StreamID', () => {
    const l = lineOf(lines, 'op,attach,sid=0x10|0x11');
    expect([0x10, 0x11].map((sid) => count(c.ste, (s) => s.line === l && s.sid === sid && s.action === 'cfgi'))).toEqual([2, 2]);
  });

  it('the modern writer switches stage 1 -> stage 2 through V=0 because S2VMID changes too', () => {
    const l = lineOf(lines, 'op,attach,sid=0x8,domain=s2');
    expect(hazards(modern, 'invalid').map((h) => h.line)).toContain(l);
  });
});
