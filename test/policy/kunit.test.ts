/**
 * The kernel's KUnit expectations for arm_smmu_write_entry, replayed.
 *
 * traces/kunit-ste.csv programs the test fixture's entries (see its header)
 * through write_ste / write_cd.  The table below is the upstream test's own
 * expectation per case (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-test.c,
 * newest revision read: 25 cases): the number of syncs of each transition
 * (each a CFGI_STE/CFGI_CD + CMD_SYNC pair), and whether the update is
 * hitless (no sync while qword 0 has V=0).  It is typed in here, not read
 * from the trace, so the trace and this test are two independent claims.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { count, runScenario, type Collected } from './scenario.js';

interface Case {
  readonly name: string;
  /** Syncs per target transition (case 7 and the CD cases have two transitions). */
  readonly syncs: readonly number[];
  readonly hitless: boolean;
}

const UPSTREAM_STE: Readonly<Record<number, Case>> = {
  1: { name: 'bypass_to_abort', syncs: [2], hitless: true },
  2: { name: 'abort_to_bypass', syncs: [2], hitless: true },
  3: { name: 'cdtable_to_abort', syncs: [2], hitless: true },
  4: { name: 'abort_to_cdtable', syncs: [2], hitless: true },
  5: { name: 'cdtable_to_bypass', syncs: [3], hitless: true },
  6: { name: 'bypass_to_cdtable', syncs: [3], hitless: true },
  7: { name: 'cdtable_s1dss_change', syncs: [1, 1], hitless: true },
  8: { name: 's1dssbypass_to_stebypass', syncs: [2], hitless: true },
  9: { name: 'stebypass_to_s1dssbypass', syncs: [2], hitless: true },
  10: { name: 's2_to_abort', syncs: [2], hitless: true },
  11: { name: 'abort_to_s2', syncs: [2], hitless: true },
  12: { name: 's2_to_bypass', syncs: [2], hitless: true },
  13: { name: 'bypass_to_s2', syncs: [2], hitless: true },
  14: { name: 's1_to_s2', syncs: [3], hitless: true },
  15: { name: 's2_to_s1', syncs: [3], hitless: true },
  16: { name: 'non_hitless', syncs: [3], hitless: false },
  19: { name: 's1_to_s2_stall', syncs: [3], hitless: true },
  20: { name: 's2_to_s1_stall', syncs: [3], hitless: true },
  21: { name: 'nested_s1dssbypass_to_s1bypass', syncs: [3], hitless: true },
  22: { name: 'nested_s1bypass_to_s1dssbypass', syncs: [2], hitless: true },
};

interface TraceCase {
  readonly n: number;
  readonly name: string;
  readonly sid: number;
  readonly initial: number;
  readonly targets: number[];
  /** q0 of each write (initial first), for the live/translating rule of the legacy writer. */
  readonly q0: bigint[];
}

/** The STE cases as the trace lays them out: `# case N name` then write_ste rows. */
function traceCases(): TraceCase[] {
  const lines = readFileSync(join(ROOT, 'traces', 'kunit-ste.csv'), 'utf8').split('\n');
  const out: TraceCase[] = [];
  let cur: { n: number; name: string; rows: { line: number; sid: number; q0: bigint }[] } | undefined;
  const flush = () => {
    if (cur && cur.rows.length > 0) {
      out.push({ n: cur.n, name: cur.name, sid: cur.rows[0]!.sid, initial: cur.rows[0]!.line, targets: cur.rows.slice(1).map((r) => r.line), q0: cur.rows.map((r) => r.q0) });
    }
    cur = undefined;
  };
  lines.forEach((l, i) => {
    const m = /^# case (\d+) arm_smmu_v3_write_ste_test_(\w+):/.exec(l);
    if (m) {
      flush();
      cur = { n: Number(m[1]), name: m[2]!, rows: [] };
      return;
    }
    if (l.startsWith('#')) return flush();
    const w = /^op,write_ste,sid=(0x[0-9a-f]+),q0=(0x[0-9a-f_]+)/.exec(l);
    if (w && cur) cur.rows.push({ line: i + 1, sid: Number(w[1]), q0: BigInt(w[2]!.replaceAll('_', '')) });
  });
  flush();
  return out;
}

const cases = traceCases();
const caseNo = (n: number) => cases.find((c) => c.n === n)!;

function storesAndSyncs(c: Collected, line: number): string[] {
  return c.ste.filter((r) => r.line === line && r.action !== 'fetch')
    .map((r) => (r.action === 'store' ? `q${r.qword}=${r.value!.toString(16)}` : 'sync'));
}

describe('the trace holds every STE case of the upstream table', () => {
  it('one case per number, each on StreamID 0x200 + n, with the right number of targets', () => {
    expect(cases.map((c) => c.n)).toEqual(Object.keys(UPSTREAM_STE).map(Number));
    for (const c of cases) {
      expect([c.n, c.name]).toEqual([c.n, UPSTREAM_STE[c.n]!.name]);
      expect([c.n, c.sid]).toEqual([c.n, 0x200 + c.n]);
      expect([c.n, c.targets.length]).toEqual([c.n, UPSTREAM_STE[c.n]!.syncs.length]);
    }
  });
});

describe('linux-current reproduces the upstream expectations', () => {
  let c: Collected;
  beforeAll(async () => {
    c = (await runScenario('kunit-ste', ['linux-current'])).get('linux-current')!;
  });

  it.each(cases.map((k) => [k.n, UPSTREAM_STE[k.n]!.name, k] as const))('case %i %s: sync count and hitlessness', (_n, _name, k) => {
    const want = UPSTREAM_STE[k.n]!;
    const syncs = k.targets.map((t) => count(c.ste, (r) => r.line === t && r.action === 'cfgi'));
    expect(syncs).toEqual(want.syncs);
    // hitless: no sync sees V=0; a non-hitless update is one hazard window
    const vZeroSyncs = k.targets.map((t) => count(c.ste, (r) => r.line === t && r.action === 'cfgi' && r.state === 'invalid'));
    const hz = k.targets.map((t) => count(c.faults, (r) => r.line === t && r.source === 'hazard'));
    if (want.hitless) {
      expect(vZeroSyncs.every((x) => x === 0)).toBe(true);
      expect(hz.every((x) => x === 0)).toBe(true);
    } else {
      expect(vZeroSyncs.some((x) => x > 0)).toBe(true);
      expect(hz).toEqual([1]);
    }
    expect(count(c.faults, (r) => r.source === 'driver' && (r.line === k.initial || k.targets.includes(r.line)))).toBe(0);
  });

  it('case 16 breaks: q0 := 0, sync; q1, sync; q0, sync', () => {
    // Two critical qwords: the CD table pointer (qword 0, 0xF0F0F0F0F0C0 -> 0x4B4B4B4B40) and
    // S1DSS/SHCFG (qword 1, SSID0 -> BYPASS).  Target q0 = 0xF800_0000_0000_0000 (S1CDMAX 0x1f << 59)
    // | 0x4B4B4B4B40 | 0x20 (S1FMT 2 << 4) | 0xB (V | Config 5 << 1) = 0xf800004b4b4b4b6b;
    // q1 = 0x1 | 0x4 | 0x10 | 0xc0 | 0x0800_0000 | 0x1000_0000 | 0x1000_0000_0000 = 0x1000180000d5.
    expect(storesAndSyncs(c, caseNo(16).targets[0]!)).toEqual(['q0=0', 'sync', 'q1=1000180000d5', 'sync', 'q0=f800004b4b4b4b6b', 'sync']);
  });

  it('case 21 is hitless because EATS and MEV are update-safe', () => {
    // From NESTED(q1 = 0x1000180800d5) to S2 without ATS (q1 = 0x100000000000): step 1 writes the
    // safe and unused bits: EATS (0x1000_0000) and MEV (0x8_0000) dropped, S1 fields kept while
    // Config is nested: 0x1000180800d5 - 0x10000000 - 0x80000 = 0x1000080000d5; then Config; then
    // the stage-1 fields go: 0x100000000000.
    expect(storesAndSyncs(c, caseNo(21).targets[0]!)).toEqual(['q1=1000080000d5', 'sync', 'q0=d', 'sync', 'q1=100000000000', 'sync']);
  });

  it('case 22 sets everything but Config first', () => {
    // S2 (q1 = 0x100000000000) -> NESTED: q1 gets S1DSS/S1CIR/S1COR/S1CSH (0xd5), S1STALLD
    // (0x0800_0000), EATS (0x1000_0000) and MEV (0x8_0000) in one store: 0x1000180800d5.
    expect(storesAndSyncs(c, caseNo(22).targets[0]!)).toEqual(['q1=1000180800d5', 'sync', 'q0=f800f0f0f0f0f0ef', 'sync']);
  });

  it('case 14 (s1_to_s2): stage-2 words and SHCFG first, Config, then the stage-1 fields leave', () => {
    // q1: 0x180000d6 | SHCFG incoming 0x1000_0000_0000 = 0x1000180000d6 (bypass-unused S1 bits stay);
    // S2 q2 = 0x0449b6c400000000, q3 = 0xdbeefdeadbee0; after Config=S2 (q0 = 0xd) q1 becomes the
    // S2 entry's 0x100010000000 (SHCFG | EATS).
    expect(storesAndSyncs(c, caseNo(14).targets[0]!)).toEqual([
      'q1=1000180000d6', 'q2=449b6c400000000', 'q3=dbeefdeadbee0', 'sync', 'q0=d', 'sync', 'q1=100010000000', 'sync',
    ]);
  });

  it('CD cases 17 and 18: syncs per transition (CFGI_CD + CMD_SYNC), stores in the writer\'s order', () => {
    const text = readFileSync(join(ROOT, 'traces', 'kunit-ste.csv'), 'utf8').split('\n');
    const cdLines = text.flatMap((l, i) => (l.startsWith('op,write_cd,sid=0x2f0') ? [i + 1] : []));
    expect(cdLines).toHaveLength(6); // 17: zero, S1CD(1997), zero; 18: S1CD(778), 1997, 778
    const seq = (line: number) => {
      const acts = c.actions.filter((a) => a.line === line);
      const base = acts.reduce((m, a) => (a.kind === 'mem' && a.addr < m ? a.addr : m), 1n << 64n);
      return acts.filter((a) => !(a.kind === 'cmd' && a.name === 'CMD_SYNC')).map((a) => (a.kind === 'cmd' ? a.name : `q${(a.addr - base) / 8n}`));
    };
    const cfgiCd = (line: number) => count(c.cmds, (x) => x.line === line && x.name === 'CFGI_CD');
    // case 17: zero -> S1 CD: 2 syncs, not hitless (the first sync still sees V=0 in qword 0,
    // which is fine for the SMMU: the old CD was invalid); back: q0 := 0 first, then the rest.
    expect([cfgiCd(cdLines[1]!), cfgiCd(cdLines[2]!)]).toEqual([2, 2]);
    expect(seq(cdLines[1]!)).toEqual(['q1', 'q3', 'CFGI_CD', 'q0', 'CFGI_CD']);
    expect(seq(cdLines[2]!)).toEqual(['q0', 'CFGI_CD', 'q1', 'q3', 'CFGI_CD']);
    // case 18: ASID 778 (0x30a) -> 1997 (0x7cd) and back: only qword 0 bits [63:48] differ: 1 sync each
    expect([cfgiCd(cdLines[4]!), cfgiCd(cdLines[5]!)]).toEqual([1, 1]);
    expect(seq(cdLines[4]!)).toEqual(['q0', 'CFGI_CD']);
    // no CD transition of a live CD opened a window
    expect(count(c.faults, (r) => r.source === 'hazard' && cdLines.includes(r.line))).toBe(0);
  });
});

describe('linux-6.10: the first hitless writer, before MEV/S2S and the update-safe bits', () => {
  let c: Collected;
  beforeAll(async () => {
    c = (await runScenario('kunit-ste', ['linux-6.10'])).get('linux-6.10')!;
  });

  it('cases 1-16 (which existed in its day) give the upstream counts', () => {
    for (const k of cases.filter((x) => x.n <= 16)) {
      expect([k.n, k.targets.map((t) => count(c.ste, (r) => r.line === t && r.action === 'cfgi'))]).toEqual([k.n, UPSTREAM_STE[k.n]!.syncs]);
    }
  });

  it('the stall and nested fixtures set bits it does not know: WARN and a V=0 window', () => {
    // S2S (qword 2 bit 57 = 0x0200_0000_0000_0000) in cases 19/20, MEV (qword 1 bit 19 = 0x8_0000) in 21/22
    const warnBits: Record<number, string> = { 19: 'bits 0x200000000000000 of qword 2', 20: 'bits 0x200000000000000 of qword 2', 21: 'bits 0x80000 of qword 1', 22: 'bits 0x80000 of qword 1' };
    for (const n of [19, 20, 21, 22]) {
      const k = caseNo(n);
      // the WARN comes on whichever write first makes the target carry the unknown bit
      const warned = c.faults.filter((r) => r.source === 'driver' && r.type === 'WARN' && (r.line === k.initial || k.targets.includes(r.line)));
      expect([n, warned.length > 0]).toEqual([n, true]);
      expect(warned[0]!.detail).toContain(warnBits[n]);
    }
    // case 21 breaks (EATS changes next to Config, and MEV is unknown): the C_BAD_STE regression
    expect(count(c.faults, (r) => r.source === 'hazard' && r.type === 'invalid' && r.line === caseNo(21).targets[0])).toBe(1);
    expect(count(c.faults, (r) => r.source === 'hazard' && r.type === 'invalid' && r.line === caseNo(22).targets[0])).toBe(1);
  });
});

describe('linux-5.0: BUG_ON(ste_live) exactly when a live translating entry is given a translating one', () => {
  let c: Collected;
  beforeAll(async () => {
    c = (await runScenario('kunit-ste', ['linux-5.0'])).get('linux-5.0')!;
  });
  // Config is STE[3:1]; it translates when V=1 and Config is S1 (5), S2 (6) or nested (7)
  const translates = (q0: bigint) => (q0 & 1n) === 1n && [5n, 6n, 7n].includes((q0 >> 1n) & 7n);

  it('BUG rows match the rule computed from the trace', () => {
    const want: number[] = [];
    for (const k of cases) {
      // a BUG leaves the entry unchanged, so the live entry stays the initial one
      let live = k.q0[0]!;
      k.targets.forEach((t, i) => {
        const q0 = k.q0[i + 1]!;
        if (translates(live) && translates(q0)) want.push(t);
        else live = q0;
      });
    }
    const got = c.faults.filter((r) => r.source === 'driver' && r.type === 'BUG').map((r) => r.line);
    expect(got).toEqual(want);
    expect(want.length).toBeGreaterThan(5);
  });

  it('the CD cases are EINVAL: v5.0 has no CD writer for write_cd', () => {
    expect(count(c.faults, (r) => r.source === 'driver' && r.type === 'EINVAL')).toBe(6);
  });
});
