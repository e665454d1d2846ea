/**
 * Configuration cache and TLB behaviour through the SMMU (IHI0070 §16.2,
 * §3.21, §4.3, §4.4): with the `max` policy a stale entry stays in use after
 * the tables in memory change, survives every command that is not required to
 * remove it, and is gone after the command that must remove it.  With the
 * `none` policy every change is seen at once.
 *
 * Memory map used here (all below the 48-bit OAS):
 *   stream table 0x8000_0000 (helpers), 2-level L2 tables 0x8800_0000/0x8900_0000,
 *   CDs 0x9000_0000 + sid * 0x1000, CD tables 0x9100_0000..0x9300_0000,
 *   stage-1 tables 0xA000_0000.., stage-2 tables 0xC000_0000..,
 *   output pages 0x4_xxxx_xxxx ("old") and 0x5_xxxx_xxxx ("new").
 */
import { describe, expect, it } from '@jest/globals';
import type { PhysicalMemory } from '../../src/model/memory.js';
import { QEMU_72_PROFILE, type Profile } from '../../src/model/profiles.js';
import type { TxnResult } from '../../src/model/smmu.js';
import type { SteField } from '../../src/model/ste.js';
import { basicCd, makeEnv, STRTAB, TableBuilder, writeQwords, writeSte, type Env, type EnvOptions } from '../helpers/env.js';

// ---------------------------------------------------------------------------
// Helpers.

type Fields = Record<string, number | bigint>;
type Cmd = readonly [string, Fields];

/** What happened to a transaction, as one short string: the PA in hex, 'bypass', 'abort', or the event type. */
function res(r: TxnResult): string {
  switch (r.outcome) {
    case 'translated': return `0x${r.pa.toString(16)}`;
    case 'bypass': return 'bypass';
    case 'fault': return r.event.type;
    default: return r.outcome;
  }
}

const cdAddr = (sid: number): bigint => 0x9000_0000n + BigInt(sid) * 0x1000n;

interface S1Opts {
  asid?: number;
  vmid?: number;
  /** STE.STRW: 0 EL1, 2 EL2 (EL2-E2H with CR2.E2H = 1). */
  strw?: number;
  root: bigint;
  granule?: '4K' | '64K';
}

/** A stage-1-only stream (Config 0b101) with a linear single CD at cdAddr(sid); returns its table builder. */
function s1Stream(env: Env, sid: number, o: S1Opts): TableBuilder {
  const g = o.granule ?? '4K';
  // 4K, T0SZ 16: start level 0; 64K, T0SZ 16: start level 4 - floor(44 / 13) = 1.
  const tb = g === '4K' ? TableBuilder.of(env.mem, 1, '4K', 48, 0, o.root) : TableBuilder.of(env.mem, 1, '64K', 48, 1, o.root);
  writeSte(env, sid, { V: 1, Config: 5, S1ContextPtr: cdAddr(sid), S2VMID: o.vmid ?? 0, STRW: o.strw ?? 0 });
  writeQwords(env.mem, cdAddr(sid), basicCd(tb.root, o.asid ?? 1, g === '64K' ? { TG0: 1 } : {}));
  return tb;
}

/** Stage-2 STE fields: 4K granule, S2T0SZ 25 (39-bit IPA), S2SL0 1 (start level 1, one table), S2PS 48 bits. */
function s2Fields(vmid: number, ttb: bigint): Partial<Record<SteField, number | bigint>> {
  return { S2VMID: vmid, S2T0SZ: 25, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB: ttb };
}
const s2Builder = (env: Env, root: bigint): TableBuilder => TableBuilder.of(env.mem, 2, '4K', 39, 1, root);

/** A stage-2-only stream (Config 0b110). */
function s2Stream(env: Env, sid: number, vmid: number, root: bigint): TableBuilder {
  const tb = s2Builder(env, root);
  writeSte(env, sid, { V: 1, Config: 6, ...s2Fields(vmid, tb.root) });
  return tb;
}

/** An SMMU with CR2.E2H chosen before SMMUEN is set (CR2 is writable only while SMMUEN = 0, §6.3.12). */
function envWithE2h(e2h: boolean): Env {
  const env = makeEnv({ enable: false });
  env.write('CR2', e2h ? 0x3 : 0x2); // E2H | RECINVSID
  env.write('CR0', 0x1 | 0x4 | 0x8);
  return env;
}

/** Replace the observer's steFetched to also collect fetch addresses. */
function steFetchAddrs(env: Env): bigint[] {
  const addrs: bigint[] = [];
  const base = env.smmu.observer;
  env.smmu.observer = { ...base, steFetched: (sid, addr, q, v) => { addrs.push(addr); base.steFetched?.(sid, addr, q, v); } };
  return addrs;
}

/** An external-abort window that can be switched off again (PhysicalMemory's own ranges are permanent). */
function switchableAbort(mem: PhysicalMemory, start: bigint, size: bigint): { off(): void } {
  const orig = mem.isAbort.bind(mem);
  let on = true;
  mem.isAbort = (addr: bigint, n: number): boolean => (on && addr < start + size && addr + BigInt(n) > start) || orig(addr, n);
  return { off: () => { on = false; } };
}

/** Issue commands; every one must be legal (no CMDQ_ERR). */
function issue(env: Env, cmds: readonly Cmd[]): void {
  for (const [n, f] of cmds) {
    env.cmd(n, f);
    expect({ cmd: n, fields: f, cmdqErr: env.smmu.gerrorActive('CMDQ_ERR') }).toEqual({ cmd: n, fields: f, cmdqErr: false });
  }
}

/** A cached thing under test: how to observe it, how to change memory under it, and what it reads before/after. */
interface Scenario {
  env: Env;
  look(): string;
  change(): void;
  old: string;
  fresh: string;
}

/**
 * The core property: fill, change memory, the old result stays in use through
 * every command in `mustNot` (one at a time, checked after each), and the new
 * result appears after the `must` commands.
 */
function staleUntil(s: Scenario, mustNot: readonly Cmd[], must: readonly Cmd[]): void {
  expect(s.look()).toBe(s.old);
  s.change();
  expect(s.look()).toBe(s.old);
  for (const c of mustNot) {
    issue(s.env, [c]);
    expect({ after: c, got: s.look() }).toEqual({ after: c, got: s.old });
  }
  issue(s.env, must);
  expect(s.look()).toBe(s.fresh);
}

// ---------------------------------------------------------------------------
// Configuration cache: STEs and L1STDs.

/** TLB and unrelated CFGI commands: none may drop the STE of SID 5 (or, with a 2-level table, its L1STD). */
const STE5_MUST_NOT: readonly Cmd[] = [
  ['CFGI_STE', { sid: 4 }],
  ['CFGI_STE', { sid: 6, leaf: 1 }],
  ['CFGI_STE_RANGE', { sid: 6, range: 0 }], // SIDs 6..7
  ['CFGI_STE_RANGE', { sid: 0, range: 1 }], // SIDs 0..3
  ['CFGI_CD', { sid: 5, ssid: 0 }],
  ['CFGI_CD_ALL', { sid: 5 }],
  ['TLBI_NSNH_ALL', {}],
  ['TLBI_NH_ALL', { vmid: 0 }],
  ['TLBI_S12_VMALL', { vmid: 0 }],
  ['TLBI_EL2_ALL', {}],
  ['ATC_INV', { sid: 5, size: 52 }],
  ['CMD_SYNC', {}],
];

describe('STE cache (§4.3.1, §4.3.2, §4.3.6)', () => {
  /** SID 5 bypasses (Config 0b100); the change makes it Config 0b000 (abort without an event). */
  function steScenario(opts: EnvOptions = {}): Scenario {
    const env = makeEnv(opts);
    writeSte(env, 5, { V: 1, Config: 4 });
    return { env, look: () => res(env.dma({ sid: 5, addr: 0x1234_5000n })), change: () => writeSte(env, 5, { V: 1, Config: 0 }), old: 'bypass', fresh: 'abort' };
  }

  it.each<Cmd>([
    ['CFGI_STE', { sid: 5, leaf: 0 }],
    ['CFGI_STE', { sid: 5, leaf: 1 }], // linear table: either Leaf value
    ['CFGI_STE_RANGE', { sid: 4, range: 1 }], // SIDs 4..7 (2^2, aligned down from 4)
    ['CFGI_STE_RANGE', { sid: 7, range: 2 }], // SIDs 0..7 (2^3, low 3 bits of 7 ignored)
    ['CFGI_ALL', {}],
  ])('stale until %s %j', (...must) => {
    staleUntil(steScenario(), STE5_MUST_NOT, [must]);
  });

  it('re-fetches the STE after the invalidation, exactly once per transaction stream', () => {
    const s = steScenario();
    s.look();
    s.look();
    expect(s.env.rec.fetches).toEqual([5]);
    s.change();
    issue(s.env, [['CFGI_STE', { sid: 5 }]]);
    s.look();
    s.look();
    expect(s.env.rec.fetches).toEqual([5, 5]);
  });

  it('CFGI_STE_RANGE removes exactly the aligned block of 2^(Range+1) StreamIDs', () => {
    const env = makeEnv();
    const sids = [0x13, 0x14, 0x15, 0x16, 0x17, 0x18];
    for (const sid of sids) writeSte(env, sid, { V: 1, Config: 4 });
    const look = (): string[] => sids.map((sid) => res(env.dma({ sid, addr: 0x1000n })));
    expect(look()).toEqual(Array(6).fill('bypass'));
    for (const sid of sids) writeSte(env, sid, { V: 1, Config: 0 });
    // Range = 1: 2^2 = 4 StreamIDs; StreamID 0x15 with its low 2 bits ignored -> 0x14..0x17.
    issue(env, [['CFGI_STE_RANGE', { sid: 0x15, range: 1 }]]);
    expect(env.rec.cfgi.at(-1)).toEqual({ name: 'CFGI_STE_RANGE', first: 0x14, count: 4 });
    expect(look()).toEqual(['bypass', 'abort', 'abort', 'abort', 'abort', 'bypass']);
    // Range = 0: 2 StreamIDs, 0x13 -> 0x12..0x13.
    issue(env, [['CFGI_STE_RANGE', { sid: 0x13, range: 0 }]]);
    expect(look()).toEqual(['abort', 'abort', 'abort', 'abort', 'abort', 'bypass']);
  });

  it('CFGI_ALL removes every STE', () => {
    const env = makeEnv();
    for (const sid of [0, 5, 0xff]) writeSte(env, sid, { V: 1, Config: 4 });
    for (const sid of [0, 5, 0xff]) env.dma({ sid, addr: 0n });
    for (const sid of [0, 5, 0xff]) writeSte(env, sid, { V: 1, Config: 0 });
    expect([0, 5, 0xff].map((sid) => res(env.dma({ sid, addr: 0n })))).toEqual(['bypass', 'bypass', 'bypass']);
    issue(env, [['CFGI_ALL', {}]]);
    expect([0, 5, 0xff].map((sid) => res(env.dma({ sid, addr: 0n })))).toEqual(['abort', 'abort', 'abort']);
  });

  it('an invalid (V=0) STE is cached: C_BAD_STE until CFGI_STE, even after the STE is made valid (§3.21.3)', () => {
    const env = makeEnv();
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('C_BAD_STE');
    writeSte(env, 5, { V: 1, Config: 4 });
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('C_BAD_STE');
    expect(env.rec.fetches).toEqual([5]);
    issue(env, [['CFGI_STE', { sid: 5, leaf: 1 }]]);
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('bypass');
  });

  it('an ILLEGAL STE is cached like an invalid one', () => {
    const env = makeEnv();
    writeSte(env, 5, { V: 1, Config: 5, STRW: 1, S1ContextPtr: cdAddr(5) }); // STRW = 0b01 is ILLEGAL (§5.2)
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('C_BAD_STE');
    writeSte(env, 5, { V: 1, Config: 4 });
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('C_BAD_STE');
    issue(env, [['CFGI_STE', { sid: 5 }]]);
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('bypass');
  });

  it('a failed STE fetch (F_STE_FETCH) is not cached: the next transaction fetches again without a CFGI (§5.2.1)', () => {
    const env = makeEnv();
    writeSte(env, 5, { V: 1, Config: 4 });
    // STE 5 lives at STRTAB + 5 * 64 = 0x8000_0140.
    const ab = switchableAbort(env.mem, STRTAB + 0x140n, 64n);
    const r = env.dma({ sid: 5, addr: 0n });
    expect(res(r)).toBe('F_STE_FETCH');
    expect(r.outcome === 'fault' && r.event.fields.FetchAddr).toBe(0x8000_0140n);
    expect(env.rec.fetches).toEqual([]);
    ab.off();
    expect(res(env.dma({ sid: 5, addr: 0n }))).toBe('bypass');
    expect(env.rec.fetches).toEqual([5]);
  });
});

describe('2-level stream table: L1STD caching (§4.3.1 Leaf, §5.1.1)', () => {
  const L2A = 0x8800_0000n;
  const L2B = 0x8900_0000n;

  /**
   * SPLIT = 6, LOG2SIZE = 8: 4 L1STDs at STRTAB, each for 64 StreamIDs.  L1STD[0] = L2A | Span 7
   * (2^(7-1) = 64 STEs).  SID 3 bypasses in L2A and aborts in L2B; the change repoints L1STD[0] to L2B.
   */
  function l1Scenario(): Scenario & { fetchAddrs: bigint[] } {
    const env = makeEnv({ fmt: '2lvl', split: 6, log2size: 8 });
    const fetchAddrs = steFetchAddrs(env);
    env.mem.write(STRTAB, 8, L2A | 7n);
    writeSte(env, 3, { V: 1, Config: 4 }, L2A);
    writeSte(env, 3, { V: 1, Config: 0 }, L2B);
    return { env, fetchAddrs, look: () => res(env.dma({ sid: 3, addr: 0x1000n })), change: () => env.mem.write(STRTAB, 8, L2B | 7n), old: 'bypass', fresh: 'abort' };
  }

  it('CFGI_STE Leaf=1 re-fetches the STE through the cached L1STD; Leaf=0 drops the L1STD too', () => {
    const s = l1Scenario();
    expect(s.look()).toBe('bypass');
    s.change();
    issue(s.env, [['CFGI_STE', { sid: 3, leaf: 1 }]]);
    // Old L1STD still cached: the STE is read again from L2A + 3 * 64 = 0x8800_00c0.
    expect(s.look()).toBe('bypass');
    expect(s.fetchAddrs).toEqual([0x8800_00c0n, 0x8800_00c0n]);
    issue(s.env, [['CFGI_STE', { sid: 3, leaf: 0 }]]);
    expect(s.look()).toBe('abort');
    expect(s.fetchAddrs).toEqual([0x8800_00c0n, 0x8800_00c0n, 0x8900_00c0n]);
  });

  it.each<Cmd>([
    ['CFGI_STE', { sid: 3, leaf: 0 }],
    ['CFGI_STE_RANGE', { sid: 2, range: 0 }], // SIDs 2..3: the STE and the L1STD covering them (no Leaf field)
    ['CFGI_STE_RANGE', { sid: 0, range: 5 }], // SIDs 0..63: exactly L1STD[0]'s span
    ['CFGI_ALL', {}],
  ])('the L1STD change is seen after %s %j', (...must) => {
    const s = l1Scenario();
    staleUntil(s, [
      ['CFGI_STE', { sid: 3, leaf: 1 }],
      ['CFGI_STE_RANGE', { sid: 64, range: 5 }], // SIDs 64..127: L1STD[1]
      ['CFGI_STE', { sid: 64 }],
      ['TLBI_NSNH_ALL', {}],
    ], [must]);
  });

  it('a failed L1STD fetch is not cached', () => {
    const env = makeEnv({ fmt: '2lvl', split: 6, log2size: 8 });
    env.mem.write(STRTAB, 8, L2A | 7n);
    writeSte(env, 3, { V: 1, Config: 4 }, L2A);
    const ab = switchableAbort(env.mem, STRTAB, 8n);
    const r = env.dma({ sid: 3, addr: 0n });
    expect(res(r)).toBe('F_STE_FETCH');
    expect(r.outcome === 'fault' && r.event.fields.FetchAddr).toBe(STRTAB);
    ab.off();
    expect(res(env.dma({ sid: 3, addr: 0n }))).toBe('bypass');
  });
});

// ---------------------------------------------------------------------------
// Configuration cache: CDs and L1CDs.

describe('CD cache (§4.3.3, §4.3.4)', () => {
  const VA = 0x1000_0000n;

  /** SID 3, single CD (S1CDMax 0): translates VA -> 0x4_0000_0000; the change clears CD.V (C_BAD_CD when re-read). */
  function cdScenario(): Scenario {
    const env = makeEnv();
    const tb = s1Stream(env, 3, { asid: 1, root: 0xa000_0000n });
    tb.map(VA, 0x4_0000_0000n, 3, { nG: true });
    // A second stream with its own CD, so per-StreamID commands for SID 4 have something to (not) hit.
    s1Stream(env, 4, { asid: 2, root: 0xa010_0000n }).map(VA, 0x4_1000_0000n, 3, { nG: true });
    env.dma({ sid: 4, addr: VA });
    return {
      env,
      look: () => res(env.dma({ sid: 3, addr: VA + 0x20n })),
      // CD word 0 holds V (bit 31): zero the whole CD.
      change: () => writeQwords(env.mem, cdAddr(3), Array<bigint>(8).fill(0n)),
      old: '0x400000020',
      fresh: 'C_BAD_CD',
    };
  }

  const CD3_MUST_NOT: readonly Cmd[] = [
    ['CFGI_CD', { sid: 3, ssid: 1 }],
    ['CFGI_CD', { sid: 4, ssid: 0 }],
    ['CFGI_CD_ALL', { sid: 4 }],
    ['CFGI_STE', { sid: 4 }],
    ['CFGI_STE_RANGE', { sid: 4, range: 0 }], // SIDs 4..5
    ['TLBI_NH_ALL', { vmid: 0 }],
    ['TLBI_NSNH_ALL', {}],
    ['TLBI_NH_ASID', { vmid: 0, asid: 1 }],
  ];

  it.each<Cmd>([
    ['CFGI_CD', { sid: 3, ssid: 0, leaf: 1 }],
    ['CFGI_CD', { sid: 3, ssid: 0, leaf: 0 }],
    ['CFGI_CD_ALL', { sid: 3 }],
    ['CFGI_STE', { sid: 3, leaf: 1 }], // an STE invalidation also removes the CDs cached through it
    ['CFGI_STE_RANGE', { sid: 2, range: 0 }], // SIDs 2..3
    ['CFGI_ALL', {}],
  ])('a CD change is seen after %s %j, not before', (...must) => {
    staleUntil(cdScenario(), CD3_MUST_NOT, [must]);
  });

  it('an invalid CD is cached (C_BAD_CD until CFGI_CD)', () => {
    const env = makeEnv();
    const tb = s1Stream(env, 3, { root: 0xa000_0000n });
    tb.map(VA, 0x4_0000_0000n);
    const cd = basicCd(tb.root, 1);
    writeQwords(env.mem, cdAddr(3), Array<bigint>(8).fill(0n));
    expect(res(env.dma({ sid: 3, addr: VA }))).toBe('C_BAD_CD');
    writeQwords(env.mem, cdAddr(3), cd);
    expect(res(env.dma({ sid: 3, addr: VA }))).toBe('C_BAD_CD');
    issue(env, [['CFGI_CD', { sid: 3, ssid: 0, leaf: 1 }]]);
    expect(res(env.dma({ sid: 3, addr: VA }))).toBe('0x400000000');
  });

  it('a failed CD fetch (F_CD_FETCH) is not cached; the STE fetched with it is', () => {
    const env = makeEnv();
    s1Stream(env, 3, { root: 0xa000_0000n }).map(VA, 0x4_0000_0000n);
    const ab = switchableAbort(env.mem, cdAddr(3), 64n);
    const r = env.dma({ sid: 3, addr: VA });
    expect(res(r)).toBe('F_CD_FETCH');
    expect(r.outcome === 'fault' && r.event.fields.FetchAddr).toBe(cdAddr(3));
    ab.off();
    expect(res(env.dma({ sid: 3, addr: VA }))).toBe('0x400000000');
    expect(env.rec.fetches).toEqual([3]);
  });

  describe('2-level CD table: L1CD caching (CFGI_CD Leaf)', () => {
    const L1 = 0x9100_0000n;
    const L2A = 0x9200_0000n;
    const L2B = 0x9300_0000n;

    /**
     * SID 3: S1Fmt = 0b01 (64-CD leaf tables), S1CDMax = 7 (128 SubstreamIDs -> 2 L1CDs).  L1CD[0] = L2A | V.
     * CD 5 in L2A: ASID 1, tables tb1 (VA -> 0x4_0000_0000).  The change: CD 5 in L2A becomes ASID 2 with
     * tables tb2 (VA -> 0x4_2000_0000), and L1CD[0] is repointed to L2B, whose CD 5 is invalid.
     */
    function l1cdEnv() {
      const env = makeEnv();
      writeSte(env, 3, { V: 1, Config: 5, S1Fmt: 1, S1CDMax: 7, S1ContextPtr: L1 });
      const tb1 = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
      const tb2 = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa010_0000n);
      tb1.map(VA, 0x4_0000_0000n, 3, { nG: true });
      tb2.map(VA, 0x4_2000_0000n, 3, { nG: true });
      env.mem.write(L1, 8, L2A | 1n);
      writeQwords(env.mem, L2A + 5n * 64n, basicCd(tb1.root, 1));
      writeQwords(env.mem, L2A + 6n * 64n, basicCd(tb1.root, 6));
      const look = (ssid: number): string => res(env.dma({ sid: 3, ssid, addr: VA }));
      const change = (): void => {
        writeQwords(env.mem, L2A + 5n * 64n, basicCd(tb2.root, 2));
        env.mem.write(L1, 8, L2B | 1n);
      };
      return { env, look, change };
    }

    it('Leaf=1 re-reads the CD through the cached L1CD; Leaf=0 re-reads the L1CD', () => {
      const { env, look, change } = l1cdEnv();
      expect(look(5)).toBe('0x400000000');
      change();
      expect(look(5)).toBe('0x400000000'); // CD and L1CD cached
      issue(env, [['CFGI_CD', { sid: 3, ssid: 6, leaf: 0 }]]); // another SubstreamID under the same L1CD
      // Leaf = 0 for SSID 6 also drops L1CD[0] (6 >> 6 = 0), but CD 5 itself stays cached.
      expect(look(5)).toBe('0x400000000');
      issue(env, [['CFGI_CD', { sid: 3, ssid: 5, leaf: 1 }]]);
      // L1CD[0] is re-read (dropped above) -> L2B, whose CD 5 has V = 0.
      expect(look(5)).toBe('C_BAD_CD');
    });

    it('Leaf=1 keeps the L1CD: the new CD comes from the old leaf table', () => {
      const { env, look, change } = l1cdEnv();
      expect(look(5)).toBe('0x400000000');
      change();
      issue(env, [['CFGI_CD', { sid: 3, ssid: 5, leaf: 1 }]]);
      // CD 5 re-read from L2A (the cached L1CD): ASID 2, tables tb2.
      expect(look(5)).toBe('0x420000000');
      issue(env, [['CFGI_CD', { sid: 3, ssid: 5, leaf: 0 }]]);
      expect(look(5)).toBe('C_BAD_CD');
    });

    it('CFGI_CD_ALL removes every CD and L1CD of the StreamID', () => {
      const { env, look, change } = l1cdEnv();
      expect(look(5)).toBe('0x400000000');
      expect(look(6)).toBe('0x400000000');
      change();
      issue(env, [['CFGI_CD_ALL', { sid: 4 }], ['CFGI_CD', { sid: 4, ssid: 5 }]]);
      expect(look(5)).toBe('0x400000000');
      issue(env, [['CFGI_CD_ALL', { sid: 3 }]]);
      expect(look(5)).toBe('C_BAD_CD'); // via L2B
      expect(look(6)).toBe('C_BAD_CD'); // L2B has no CD 6 either
    });
  });
});

// ---------------------------------------------------------------------------
// TLB: stage 1, NS-EL1.

describe('TLB, stage-1 NS-EL1 entries (§4.4.2)', () => {
  const P = 0x1000_0000n;
  const G = 0x2000_0000n;

  /**
   * SID 3: VMID 1 (STE.S2VMID, S2P = 1), ASID 1.  P is non-global (nG = 1) and G is global (nG = 0);
   * both first map to 0x4_... and the change remaps them to 0x5_...
   */
  function s1Scenario(page: 'P' | 'G', opts: { profile?: Profile } = {}): Scenario {
    const env = makeEnv(opts);
    const tb = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    const va = page === 'P' ? P : G;
    const nG = page === 'P';
    tb.map(va, 0x4_0000_0000n, 3, { nG });
    return {
      env,
      look: () => res(env.dma({ sid: 3, addr: va + 0x44n })),
      change: () => { tb.map(va, 0x5_0000_0000n, 3, { nG }); },
      old: '0x400000044',
      fresh: '0x500000044',
    };
  }

  // Commands that must leave the non-global entry {VMID 1, ASID 1, VA P, 4K leaf at level 3} alone.
  const P_MUST_NOT: readonly Cmd[] = [
    ['CFGI_STE', { sid: 3 }], // CFGI never touches the TLB (§4.3)
    ['CFGI_CD', { sid: 3, ssid: 0 }],
    ['CFGI_CD_ALL', { sid: 3 }],
    ['CFGI_ALL', {}],
    ['TLBI_NH_ALL', { vmid: 2 }],
    ['TLBI_NH_ASID', { vmid: 1, asid: 2 }],
    ['TLBI_NH_ASID', { vmid: 2, asid: 1 }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P + 0x1000n }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P - 0x1000n }],
    ['TLBI_NH_VA', { vmid: 1, asid: 2, addr: P }], // a non-global entry of another ASID
    ['TLBI_NH_VA', { vmid: 2, asid: 1, addr: P }],
    ['TLBI_NH_VAA', { vmid: 2, addr: P }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P + 0x1000n }],
    // Range forms that do not cover the entry: level hint 2 (the entry is a level-3 leaf), 64K granule
    // (the entry is 4K), and a range [P - 8K, P) that ends just below it.
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P, tg: 1, ttl: 2 }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P, tg: 3, num: 1 }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P - 0x2000n, tg: 1, num: 1 }],
    ['TLBI_S2_IPA', { vmid: 1, addr: P }], // stage-2 entries only
    ['TLBI_S12_VMALL', { vmid: 2 }],
    ['TLBI_EL2_ALL', {}],
    ['TLBI_EL2_VAA', { addr: P }],
    ['TLBI_EL2_VA', { asid: 1, addr: P }],
    ['TLBI_EL2_ASID', { asid: 1 }],
    ['ATC_INV', { sid: 3, size: 52 }],
    ['PREFETCH_ADDR', { sid: 3, addr: P }],
    ['CMD_SYNC', {}],
  ];

  it.each<Cmd>([
    ['TLBI_NH_ALL', { vmid: 1 }],
    ['TLBI_NH_ASID', { vmid: 1, asid: 1 }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P, leaf: 1 }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P, leaf: 1 }],
    // Range forms: TTL = 3 (the entry's level), [P - 4K, P + 4K) with NUM = 1, [P, P + 4 * 4K) with SCALE = 2,
    // and the 64K range containing P (TG = 4K, NUM = 15: 16 pages).
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P, tg: 1, ttl: 3 }],
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P - 0x1000n, tg: 1, num: 1 }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P, tg: 1, scale: 2 }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P, tg: 1, num: 15, ttl: 3, leaf: 1 }],
    ['TLBI_S12_VMALL', { vmid: 1 }],
    ['TLBI_NSNH_ALL', {}],
  ])('non-global entry: stale until %s %j', (...must) => {
    staleUntil(s1Scenario('P'), P_MUST_NOT, [must]);
  });

  it.each<Cmd>([
    ['TLBI_NH_VA', { vmid: 1, asid: 7, addr: G }], // global entries match whatever the command's ASID (§4.4.2.4)
    ['TLBI_NH_VA', { vmid: 1, asid: 1, addr: G }],
    ['TLBI_NH_VAA', { vmid: 1, addr: G }],
    ['TLBI_NH_ALL', { vmid: 1 }],
    ['TLBI_S12_VMALL', { vmid: 1 }],
    ['TLBI_NSNH_ALL', {}],
  ])('global entry: survives TLBI_NH_ASID, stale until %s %j', (...must) => {
    staleUntil(s1Scenario('G'), [
      ['TLBI_NH_ASID', { vmid: 1, asid: 1 }], // only non-global entries (§4.4.2.2)
      ['TLBI_NH_ASID', { vmid: 1, asid: 0 }],
      ['TLBI_NH_VA', { vmid: 2, asid: 1, addr: G }],
      ['TLBI_NH_ALL', { vmid: 2 }],
      ['CFGI_ALL', {}],
    ], [must]);
  });

  it('TLBI_NH_ALL is VMID-scoped when stage 2 is implemented: streams of two VMIDs', () => {
    const env = makeEnv();
    const a = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    const b = s1Stream(env, 4, { asid: 1, vmid: 2, root: 0xa010_0000n });
    a.map(P, 0x4_0000_0000n, 3, { nG: true });
    b.map(P, 0x4_1000_0000n, 3, { nG: true });
    const look = (): string[] => [3, 4].map((sid) => res(env.dma({ sid, addr: P })));
    expect(look()).toEqual(['0x400000000', '0x410000000']);
    a.map(P, 0x5_0000_0000n, 3, { nG: true });
    b.map(P, 0x5_1000_0000n, 3, { nG: true });
    issue(env, [['TLBI_NH_ALL', { vmid: 1 }]]);
    expect(look()).toEqual(['0x500000000', '0x410000000']);
    issue(env, [['TLBI_NH_ALL', { vmid: 2 }]]);
    expect(look()).toEqual(['0x500000000', '0x510000000']);
  });

  it('on a stage-1-only SMMU (qemu-7.2) there is no VMID: TLBI_NH_ALL / NH_ASID with VMID 0 hit every entry', () => {
    for (const must of [['TLBI_NH_ALL', {}], ['TLBI_NH_ASID', { asid: 1 }], ['TLBI_NH_VAA', { addr: P }]] as const) {
      const s = s1Scenario('P', { profile: QEMU_72_PROFILE });
      staleUntil(s, [['TLBI_NH_ASID', { asid: 2 }], ['CFGI_ALL', {}]], [must]);
    }
  });

  it('TLBI_NH_VAA hits every ASID of the VMID; TLBI_NH_VA only its own ASID', () => {
    const env = makeEnv();
    const a = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    const b = s1Stream(env, 4, { asid: 2, vmid: 1, root: 0xa010_0000n });
    a.map(P, 0x4_0000_0000n, 3, { nG: true });
    b.map(P, 0x4_1000_0000n, 3, { nG: true });
    const look = (): string[] => [3, 4].map((sid) => res(env.dma({ sid, addr: P })));
    look();
    a.map(P, 0x5_0000_0000n, 3, { nG: true });
    b.map(P, 0x5_1000_0000n, 3, { nG: true });
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 2, addr: P }]]);
    expect(look()).toEqual(['0x400000000', '0x510000000']);
    a.map(P, 0x6_0000_0000n, 3, { nG: true });
    b.map(P, 0x6_1000_0000n, 3, { nG: true });
    issue(env, [['TLBI_NH_VAA', { vmid: 1, addr: P }]]);
    expect(look()).toEqual(['0x600000000', '0x610000000']);
  });
});

// ---------------------------------------------------------------------------
// TLB: EL2 streams.

describe('TLB, NS-EL2 streams (STRW = EL2, §4.4.2.7-§4.4.2.10)', () => {
  const P = 0x1000_0000n;
  const G = 0x2000_0000n;

  function el2Scenario(e2h: boolean, page: 'P' | 'G'): Scenario {
    const env = envWithE2h(e2h);
    const tb = s1Stream(env, 3, { asid: 1, strw: 2, root: 0xa000_0000n });
    const va = page === 'P' ? P : G;
    const nG = page === 'P';
    tb.map(va, 0x4_0000_0000n, 3, { nG });
    return {
      env,
      look: () => res(env.dma({ sid: 3, addr: va })),
      change: () => { tb.map(va, 0x5_0000_0000n, 3, { nG }); },
      old: '0x400000000',
      fresh: '0x500000000',
    };
  }

  // EL1 commands never reach EL2 entries.
  const EL1_CMDS: readonly Cmd[] = [
    ['TLBI_NH_ALL', { vmid: 0 }],
    ['TLBI_NH_ASID', { vmid: 0, asid: 1 }],
    ['TLBI_NH_VA', { vmid: 0, asid: 1, addr: P }],
    ['TLBI_NH_VAA', { vmid: 0, addr: G }],
    ['TLBI_S12_VMALL', { vmid: 0 }],
    ['TLBI_NSNH_ALL', {}],
    ['CFGI_ALL', {}],
  ];

  describe('CR2.E2H = 0: EL2 regime, entries carry no ASID', () => {
    it.each<Cmd>([
      ['TLBI_EL2_ALL', {}],
      ['TLBI_EL2_VA', { asid: 99, addr: P }], // ASID ignored with E2H = 0
      ['TLBI_EL2_VAA', { addr: P }],
      ['TLBI_EL2_VA', { addr: P, tg: 1, ttl: 3 }],
    ])('stale until %s %j', (...must) => {
      staleUntil(el2Scenario(false, 'P'), [
        ...EL1_CMDS,
        ['TLBI_EL2_ASID', { asid: 1 }], // plain EL2 entries need not be hit by TLBI_EL2_ASID
        ['TLBI_EL2_VA', { asid: 1, addr: P + 0x1000n }],
        ['TLBI_EL2_VAA', { addr: P, tg: 1, ttl: 2 }],
      ], [must]);
    });
  });

  describe('CR2.E2H = 1: EL2-E2H regime, ASID-tagged and global entries', () => {
    it.each<Cmd>([
      ['TLBI_EL2_ALL', {}],
      ['TLBI_EL2_ASID', { asid: 1 }],
      ['TLBI_EL2_VA', { asid: 1, addr: P }],
      ['TLBI_EL2_VAA', { addr: P }],
    ])('non-global entry: stale until %s %j', (...must) => {
      staleUntil(el2Scenario(true, 'P'), [
        ...EL1_CMDS,
        ['TLBI_EL2_ASID', { asid: 2 }],
        ['TLBI_EL2_VA', { asid: 2, addr: P }],
        ['TLBI_EL2_VA', { asid: 1, addr: P + 0x1000n }],
      ], [must]);
    });

    it.each<Cmd>([
      ['TLBI_EL2_ALL', {}],
      ['TLBI_EL2_VA', { asid: 2, addr: G }], // global: any ASID
      ['TLBI_EL2_VAA', { addr: G }],
    ])('global entry: survives TLBI_EL2_ASID, stale until %s %j', (...must) => {
      staleUntil(el2Scenario(true, 'G'), [...EL1_CMDS, ['TLBI_EL2_ASID', { asid: 1 }]], [must]);
    });
  });
});

// ---------------------------------------------------------------------------
// TLB: stage 2 and nested.

describe('TLB, stage 2 (§4.4.3, §4.4.4)', () => {
  const I = 0x4000_0000n; // IPA

  /** SID 6: stage 2 only, VMID 5, IPA I -> 0x4_0000_0000 (4K page); the change remaps it to 0x5_0000_0000. */
  function s2Scenario(): Scenario {
    const env = makeEnv();
    const tb = s2Stream(env, 6, 5, 0xc000_0000n);
    tb.map(I, 0x4_0000_0000n);
    return {
      env,
      look: () => res(env.dma({ sid: 6, addr: I + 0x10n })),
      change: () => { tb.map(I, 0x5_0000_0000n); },
      old: '0x400000010',
      fresh: '0x500000010',
    };
  }

  const S2_MUST_NOT: readonly Cmd[] = [
    ['CFGI_ALL', {}],
    ['CFGI_STE', { sid: 6 }],
    // Stage-1 commands: a stage-2-only entry is not a stage-1 entry.
    ['TLBI_NH_ALL', { vmid: 5 }],
    ['TLBI_NH_ASID', { vmid: 5, asid: 0 }],
    ['TLBI_NH_VAA', { vmid: 5, addr: I }],
    ['TLBI_NH_VA', { vmid: 5, asid: 0, addr: I }],
    ['TLBI_EL2_ALL', {}],
    ['TLBI_S2_IPA', { vmid: 6, addr: I }],
    ['TLBI_S2_IPA', { vmid: 5, addr: I + 0x1000n }],
    ['TLBI_S2_IPA', { vmid: 5, addr: I, tg: 1, ttl: 2 }], // level hint 2; the entry is a level-3 page
    ['TLBI_S2_IPA', { vmid: 5, addr: I, tg: 3, ttl: 3 }], // 64K granule; the entry is 4K
    ['TLBI_S12_VMALL', { vmid: 6 }],
  ];

  it.each<Cmd>([
    ['TLBI_S2_IPA', { vmid: 5, addr: I }],
    ['TLBI_S2_IPA', { vmid: 5, addr: I, leaf: 1 }],
    ['TLBI_S2_IPA', { vmid: 5, addr: I, tg: 1, ttl: 3 }],
    ['TLBI_S2_IPA', { vmid: 5, addr: I - 0x3000n, tg: 1, num: 3 }], // [I - 12K, I + 4K)
    ['TLBI_S12_VMALL', { vmid: 5 }],
    ['TLBI_NSNH_ALL', {}],
  ])('stage-2-only entry: stale until %s %j', (...must) => {
    staleUntil(s2Scenario(), S2_MUST_NOT, [must]);
  });

  it('TLBI_S12_VMALL removes stage-1 and stage-2 entries of its VMID only', () => {
    const env = makeEnv();
    const s2a = s2Stream(env, 6, 5, 0xc000_0000n);
    const s2b = s2Stream(env, 7, 6, 0xc010_0000n);
    const s1 = s1Stream(env, 3, { asid: 1, vmid: 5, root: 0xa000_0000n });
    s2a.map(I, 0x4_0000_0000n);
    s2b.map(I, 0x4_1000_0000n);
    s1.map(I, 0x4_2000_0000n, 3, { nG: true });
    const look = (): string[] => [6, 7, 3].map((sid) => res(env.dma({ sid, addr: I })));
    expect(look()).toEqual(['0x400000000', '0x410000000', '0x420000000']);
    s2a.map(I, 0x5_0000_0000n);
    s2b.map(I, 0x5_1000_0000n);
    s1.map(I, 0x5_2000_0000n, 3, { nG: true });
    expect(look()).toEqual(['0x400000000', '0x410000000', '0x420000000']);
    issue(env, [['TLBI_S12_VMALL', { vmid: 5 }]]);
    expect(look()).toEqual(['0x500000000', '0x410000000', '0x520000000']);
  });

  it('TLBI_NSNH_ALL removes every NS-EL1 entry, all VMIDs and stages, but not EL2 entries', () => {
    const env = makeEnv();
    const s2 = s2Stream(env, 6, 5, 0xc000_0000n);
    const s1 = s1Stream(env, 3, { asid: 1, vmid: 9, root: 0xa000_0000n });
    const el2 = s1Stream(env, 4, { asid: 1, strw: 2, root: 0xa010_0000n });
    s2.map(I, 0x4_0000_0000n);
    s1.map(I, 0x4_1000_0000n, 3, { nG: true });
    el2.map(I, 0x4_2000_0000n);
    const look = (): string[] => [6, 3, 4].map((sid) => res(env.dma({ sid, addr: I })));
    look();
    s2.map(I, 0x5_0000_0000n);
    s1.map(I, 0x5_1000_0000n, 3, { nG: true });
    el2.map(I, 0x5_2000_0000n);
    issue(env, [['TLBI_NSNH_ALL', {}]]);
    expect(look()).toEqual(['0x500000000', '0x510000000', '0x420000000']);
    issue(env, [['TLBI_EL2_ALL', {}]]);
    expect(look()).toEqual(['0x500000000', '0x510000000', '0x520000000']);
  });

  describe('nested (Config 0b111) combined entries', () => {
    const VA = 0x1000_0000n;

    /**
     * SID 7, VMID 5, ASID 1.  Stage 2 (level-1 1 GiB blocks): IPA 0x8000_0000 -> PA 0x8000_0000 (identity,
     * holds the CD and the stage-1 tables) and IPA 0x4000_0000 -> PA 0x1_4000_0000.  Stage 1: VA -> IPA
     * 0x4000_0000 (4K page).  Combined entry: VA -> 0x1_4000_0000, size min(4K, 1G) = 4K.
     */
    function nestedEnv() {
      const env = makeEnv();
      const s2 = s2Builder(env, 0xc000_0000n);
      s2.map(0x8000_0000n, 0x8000_0000n, 1);
      s2.map(0x4000_0000n, 0x1_4000_0000n, 1);
      const s1 = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
      s1.map(VA, 0x4000_0000n, 3, { nG: true });
      writeSte(env, 7, { V: 1, Config: 7, S1ContextPtr: cdAddr(7), ...s2Fields(5, s2.root) });
      writeQwords(env.mem, cdAddr(7), basicCd(s1.root, 1));
      return { env, s1, s2, look: () => res(env.dma({ sid: 7, addr: VA + 0x8n })) };
    }

    it('translates through both stages', () => {
      const { look } = nestedEnv();
      expect(look()).toBe('0x140000008');
      expect(look()).toBe('0x140000008');
    });

    it('a stage-2 change: TLBI_S2_IPA leaves the combined entry (§4.4.3.1); it also needs a stage-1 TLBI after it', () => {
      const { env, s2, look } = nestedEnv();
      expect(look()).toBe('0x140000008');
      s2.map(0x4000_0000n, 0x2_4000_0000n, 1);
      issue(env, [['TLBI_S2_IPA', { vmid: 5, addr: 0x4000_0000n }]]);
      expect(look()).toBe('0x140000008'); // the combined VA -> PA entry survives
      issue(env, [['TLBI_NH_VAA', { vmid: 5, addr: VA }]]);
      expect(look()).toBe('0x240000008');
    });

    it('a stage-2 change: a stage-1 TLBI alone re-walks through the still-cached stage-2 entry', () => {
      const { env, s2, look } = nestedEnv();
      expect(look()).toBe('0x140000008');
      s2.map(0x4000_0000n, 0x2_4000_0000n, 1);
      issue(env, [['TLBI_NH_VA', { vmid: 5, asid: 1, addr: VA }]]);
      expect(look()).toBe('0x140000008');
      issue(env, [['TLBI_S2_IPA', { vmid: 5, addr: 0x4000_0000n }], ['TLBI_NH_VA', { vmid: 5, asid: 1, addr: VA }]]);
      expect(look()).toBe('0x240000008');
    });

    it.each<Cmd>([['TLBI_S12_VMALL', { vmid: 5 }], ['TLBI_NSNH_ALL', {}]])('a stage-2 change is seen after %s %j alone', (...must) => {
      const { env, s2, look } = nestedEnv();
      staleUntil({ env, look, change: () => { s2.map(0x4000_0000n, 0x2_4000_0000n, 1); }, old: '0x140000008', fresh: '0x240000008' },
        [['TLBI_S12_VMALL', { vmid: 6 }], ['TLBI_S2_IPA', { vmid: 5, addr: 0x4000_0000n }]], [must]);
    });

    it.each<Cmd>([
      ['TLBI_NH_VA', { vmid: 5, asid: 1, addr: VA }],
      ['TLBI_NH_VAA', { vmid: 5, addr: VA }],
      ['TLBI_NH_ASID', { vmid: 5, asid: 1 }],
      ['TLBI_NH_ALL', { vmid: 5 }],
      ['TLBI_S12_VMALL', { vmid: 5 }],
      ['TLBI_NSNH_ALL', {}],
    ])('a stage-1 change (VA -> IPA 0x4000_2000) is seen after %s %j', (...must) => {
      const { env, s1, look } = nestedEnv();
      staleUntil({ env, look, change: () => { s1.map(VA, 0x4000_2000n, 3, { nG: true }); }, old: '0x140000008', fresh: '0x140002008' }, [
        ['TLBI_S2_IPA', { vmid: 5, addr: 0x4000_0000n }],
        ['TLBI_S2_IPA', { vmid: 5, addr: VA }],
        ['TLBI_NH_ALL', { vmid: 6 }],
        ['TLBI_NH_VA', { vmid: 5, asid: 2, addr: VA }],
        ['TLBI_EL2_ALL', {}],
        ['CFGI_ALL', {}],
      ], [must]);
    });
  });
});

// ---------------------------------------------------------------------------
// Range invalidation, level hints, granules and the walk cache (§4.4.1.1).

describe('range and level-hint invalidation (§4.4.1.1)', () => {
  const BASE = 0x1000_0000n;

  /** SID 3 (VMID 1, ASID 1) with 4K pages BASE + k * 4K for k = -1..8, each k -> 0x4_0000_0000 + k * 0x10_0000. */
  function pagesEnv() {
    const env = makeEnv();
    const tb = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    const ks = [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    const va = (k: number): bigint => BASE + BigInt(k) * 0x1000n;
    const map = (gen: bigint): void => { for (const k of ks) tb.map(va(k), gen + BigInt(k + 1) * 0x10_0000n, 3, { nG: true }); };
    map(0x4_0000_0000n);
    // Which pages read the new mapping (true) or the cached old one (false).
    const fresh = (): boolean[] => ks.map((k) => BigInt(res(env.dma({ sid: 3, addr: va(k) }))) >= 0x5_0000_0000n);
    fresh();
    map(0x5_0000_0000n);
    expect(fresh()).toEqual(Array(10).fill(false));
    return { env, fresh };
  }

  it('TG=4K NUM=2 SCALE=1: (2+1) * 2^1 * 4K = 24K = 6 pages from BASE, nothing outside', () => {
    const { env, fresh } = pagesEnv();
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: BASE, tg: 1, num: 2, scale: 1 }]]);
    //                 k: -1     0     1     2     3     4     5     6      7      8
    expect(fresh()).toEqual([false, true, true, true, true, true, true, false, false, false]);
  });

  it('TG=4K NUM=1 SCALE=0 at BASE + 3 * 4K: exactly pages 3 and 4', () => {
    const { env, fresh } = pagesEnv();
    issue(env, [['TLBI_NH_VAA', { vmid: 1, addr: BASE + 0x3000n, tg: 1, num: 1 }]]);
    expect(fresh()).toEqual([false, false, false, false, true, true, false, false, false, false]);
  });

  it('TG=4K NUM=0 SCALE=3: 2^3 = 8 pages, BASE .. BASE + 7 * 4K', () => {
    const { env, fresh } = pagesEnv();
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: BASE, tg: 1, scale: 3 }]]);
    expect(fresh()).toEqual([false, true, true, true, true, true, true, true, true, false]);
  });

  it('TG=0 invalidates one address only, whatever NUM/SCALE say (they are RES0)', () => {
    const { env, fresh } = pagesEnv();
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: BASE + 0x1000n, num: 7, scale: 3 }]]);
    expect(fresh()).toEqual([false, false, true, false, false, false, false, false, false, false]);
  });

  it('without SMMU_IDR3.RIL the range fields are ignored: a single-address invalidation', () => {
    const env = makeEnv({ profile: { ...QEMU_72_PROFILE, name: 'no-ril', IDR3: QEMU_72_PROFILE.IDR3 & ~0x400 } });
    const tb = s1Stream(env, 3, { asid: 1, root: 0xa000_0000n });
    tb.map(BASE, 0x4_0000_0000n, 3, { nG: true });
    tb.map(BASE + 0x1000n, 0x4_0000_1000n, 3, { nG: true });
    const look = (): string[] => [BASE, BASE + 0x1000n].map((addr) => res(env.dma({ sid: 3, addr })));
    look();
    tb.map(BASE, 0x5_0000_0000n, 3, { nG: true });
    tb.map(BASE + 0x1000n, 0x5_0000_1000n, 3, { nG: true });
    issue(env, [['TLBI_NH_VA', { asid: 1, addr: BASE, tg: 1, num: 1 }]]);
    expect(look()).toEqual(['0x500000000', '0x400001000']);
  });

  describe('blocks and level hints (TTL)', () => {
    const BLK = 0x4000_0000n; // 2 MiB block, level 2
    const PG = 0x4020_0000n; // 4K page in the next 2 MiB region, level 3

    function blockEnv() {
      const env = makeEnv();
      const tb = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
      tb.map(BLK, 0x4_0000_0000n, 2, { nG: true });
      tb.map(PG, 0x4_1000_0000n, 3, { nG: true });
      const look = (): string[] => [BLK + 0x12_3456n, PG + 0x10n].map((addr) => res(env.dma({ sid: 3, addr })));
      expect(look()).toEqual(['0x400123456', '0x410000010']);
      tb.map(BLK, 0x5_0000_0000n, 2, { nG: true });
      tb.map(PG, 0x5_1000_0000n, 3, { nG: true });
      expect(look()).toEqual(['0x400123456', '0x410000010']);
      return { env, look };
    }
    // [BLK, BLK + 2^10 * 4K = 4 MiB) covers both the block and the page.
    const R = { vmid: 1, asid: 1, addr: BLK, tg: 1, scale: 10 };

    it('TTL=3 removes only level-3 leaves, TTL=2 only level-2 leaves, TTL=1 neither', () => {
      const { env, look } = blockEnv();
      issue(env, [['TLBI_NH_VA', { ...R, ttl: 1 }]]);
      expect(look()).toEqual(['0x400123456', '0x410000010']);
      issue(env, [['TLBI_NH_VA', { ...R, ttl: 3 }]]);
      expect(look()).toEqual(['0x400123456', '0x510000010']);
      issue(env, [['TLBI_NH_VA', { ...R, ttl: 2 }]]);
      expect(look()).toEqual(['0x500123456', '0x510000010']);
    });

    it('TTL=0 removes leaves at any level', () => {
      const { env, look } = blockEnv();
      issue(env, [['TLBI_NH_VA', { ...R, ttl: 0 }]]);
      expect(look()).toEqual(['0x500123456', '0x510000010']);
    });

    it('a single-address TLBI anywhere inside a block removes the block; the address just past it does not', () => {
      const { env, look } = blockEnv();
      issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: PG + 0x1000n }]]); // page after PG: no entry
      issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: BLK + 0x20_0000n - 0x1000n }]]); // last 4K of the block
      expect(look()).toEqual(['0x500123456', '0x410000010']);
    });

    it('a range that overlaps part of a block removes it', () => {
      const { env, look } = blockEnv();
      // [BLK + 1 MiB, BLK + 1 MiB + 8K): inside the block only.
      issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: BLK + 0x10_0000n, tg: 1, num: 1 }]]);
      expect(look()).toEqual(['0x500123456', '0x410000010']);
    });
  });

  describe('granule (TG) matching', () => {
    const VA = 0x1000_0000n; // 64K-aligned

    /** SID 3: 4K granule (ASID 1); SID 4: 64K granule (ASID 2); both VMID 1, both map VA. */
    function twoGranules() {
      const env = makeEnv();
      const t4 = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
      const t64 = s1Stream(env, 4, { asid: 2, vmid: 1, root: 0xa100_0000n, granule: '64K' });
      t4.map(VA, 0x4_0000_0000n, 3, { nG: true });
      t64.map(VA, 0x4_1000_0000n, 3, { nG: true });
      const look = (): string[] => [3, 4].map((sid) => res(env.dma({ sid, addr: VA + 0x20n })));
      expect(look()).toEqual(['0x400000020', '0x410000020']);
      t4.map(VA, 0x5_0000_0000n, 3, { nG: true });
      t64.map(VA, 0x5_1000_0000n, 3, { nG: true });
      expect(look()).toEqual(['0x400000020', '0x410000020']);
      return { env, look };
    }

    it('TG=64K (one 64K page, TTL=3) removes the 64K entry; the 4K entry inside the range survives', () => {
      const { env, look } = twoGranules();
      issue(env, [['TLBI_NH_VAA', { vmid: 1, addr: VA, tg: 3, ttl: 3 }]]);
      expect(look()).toEqual(['0x400000020', '0x510000020']);
    });

    it('TG=4K (NUM=15: 16 * 4K = 64K) removes the 4K entry; the 64K entry survives', () => {
      const { env, look } = twoGranules();
      issue(env, [['TLBI_NH_VAA', { vmid: 1, addr: VA, tg: 1, num: 15 }]]);
      expect(look()).toEqual(['0x500000020', '0x410000020']);
    });

    it('TG=0 removes entries of every granule', () => {
      const { env, look } = twoGranules();
      issue(env, [['TLBI_NH_VAA', { vmid: 1, addr: VA }]]);
      expect(look()).toEqual(['0x500000020', '0x510000020']);
    });
  });
});

describe('walk cache and Leaf (§4.4, §3.21.1)', () => {
  const P1 = 0x4000_0000n;
  const P2 = 0x4000_1000n;
  const P3 = 0x4000_2000n;
  const T2 = 0xa080_0000n; // a second level-3 table

  /**
   * P1, P2, P3 share one 2 MiB region, so one level-2 table descriptor -> level-3 table T1 (A pages
   * 0x4_0000_x000).  T2 maps them to B pages 0x5_0000_x000.  Only P1 is translated before the change;
   * the change repoints the level-2 descriptor at T2.
   */
  function walkEnv() {
    const env = makeEnv();
    const tb = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    tb.map(P1, 0x4_0000_0000n, 3, { nG: true });
    tb.map(P2, 0x4_0000_1000n, 3, { nG: true });
    tb.map(P3, 0x4_0000_2000n, 3, { nG: true });
    const idx = (va: bigint): bigint => (va >> 12n) & 0x1ffn;
    for (const [va, oa] of [[P1, 0x5_0000_0000n], [P2, 0x5_0000_1000n], [P3, 0x5_0000_2000n]] as const) {
      env.mem.write(T2 + idx(va) * 8n, 8, tb.leaf(oa, 3, { nG: true }));
    }
    const look = (va: bigint): string => res(env.dma({ sid: 3, addr: va }));
    expect(look(P1)).toBe('0x400000000');
    env.mem.write(tb.slot(P1, 2), 8, T2 | 3n);
    return { env, look };
  }

  it('Leaf=1 keeps the cached level-2 table descriptor: another page of the region still walks the old table', () => {
    const { env, look } = walkEnv();
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P1, leaf: 1 }]]);
    expect(look(P2)).toBe('0x400001000'); // old table T1, through the walk cache
    expect(look(P1)).toBe('0x400000000');
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P1, leaf: 0 }]]);
    expect(look(P3)).toBe('0x500002000'); // new table T2
    expect(look(P1)).toBe('0x500000000');
    expect(look(P2)).toBe('0x400001000'); // P2's own leaf entry was not in scope of a TLBI for P1
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P2 }]]);
    expect(look(P2)).toBe('0x500001000');
  });

  it('range form: Leaf=1 keeps table entries; Leaf=0 with TTL=2 keeps the level-2 table entry; TTL=3 does not', () => {
    const { env, look } = walkEnv();
    // [P1, P1 + 4K) with TTL = 3.
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: P1, tg: 1, ttl: 3, leaf: 1 }]]);
    expect(look(P2)).toBe('0x400001000');
    // TTL = 2, Leaf = 0: level-2 leaves and table entries at levels 0 and 1 only (§4.4.1.1).
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: 0x4000_0000n, tg: 1, ttl: 2 }]]);
    expect(look(P3)).toBe('0x400002000');
    // TTL = 3, Leaf = 0 on the last page of the 2 MiB region, [0x401f_f000, 0x4020_0000): table entries at
    // levels 0..2 covering it go, including the level-2 descriptor of the whole region.
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: 0x4020_0000n - 0x1000n, tg: 1, ttl: 3 }]]);
    expect(look(P1)).toBe('0x500000000'); // P1 (no leaf entry since the first TLBI) now walks T2
    expect(look(P3)).toBe('0x400002000'); // P3's leaf entry, filled through T1 above, is outside the range
  });

  it.each<Cmd>([
    ['TLBI_NH_ASID', { vmid: 1, asid: 1 }],
    ['TLBI_NH_ALL', { vmid: 1 }],
    ['TLBI_NH_VAA', { vmid: 1, addr: P1 }],
    ['TLBI_S12_VMALL', { vmid: 1 }],
    ['TLBI_NSNH_ALL', {}],
  ])('%s %j removes walk-cache entries too', (...c) => {
    const { env, look } = walkEnv();
    issue(env, [c]);
    expect(look(P2)).toBe('0x500001000');
  });

  it.each<Cmd>([
    ['TLBI_NH_ASID', { vmid: 1, asid: 2 }],
    ['TLBI_NH_ALL', { vmid: 2 }],
    ['TLBI_NH_VAA', { vmid: 1, addr: 0x4020_0000n }], // the next 2 MiB region
    ['TLBI_S2_IPA', { vmid: 1, addr: P1 }],
    ['TLBI_EL2_ALL', {}],
    ['CFGI_ALL', {}],
  ])('%s %j keeps the walk-cache entries', (...c) => {
    const { env, look } = walkEnv();
    issue(env, [c]);
    expect(look(P2)).toBe('0x400001000');
  });
});

// ---------------------------------------------------------------------------

describe("caching policy 'none'", () => {
  it('every change to tables, CDs and STEs is seen at once, and the STE is fetched for every transaction', () => {
    const env = makeEnv({ caching: 'none' });
    const tb = s1Stream(env, 3, { asid: 1, root: 0xa000_0000n });
    tb.map(0x1000_0000n, 0x4_0000_0000n, 3, { nG: true });
    const look = (): string => res(env.dma({ sid: 3, addr: 0x1000_0000n }));
    expect(look()).toBe('0x400000000');
    expect(look()).toBe('0x400000000');
    expect(env.rec.fetches).toEqual([3, 3]);
    tb.map(0x1000_0000n, 0x5_0000_0000n, 3, { nG: true });
    expect(look()).toBe('0x500000000');
    // A new level-3 table for the region, with no TLBI: seen at once (no walk cache either).
    const T2 = 0xa080_0000n;
    env.mem.write(T2, 8, tb.leaf(0x6_0000_0000n, 3, { nG: true }));
    env.mem.write(tb.slot(0x1000_0000n, 2), 8, T2 | 3n);
    expect(look()).toBe('0x600000000');
    writeQwords(env.mem, cdAddr(3), Array<bigint>(8).fill(0n));
    expect(look()).toBe('C_BAD_CD');
    writeSte(env, 3, { V: 1, Config: 4 });
    expect(look()).toBe('bypass');
    expect(env.rec.fetches).toEqual([3, 3, 3, 3, 3, 3]);
    expect(env.smmu.tlb.size).toEqual({ tlb: 0, walk: 0 });
    expect(env.smmu.config.size).toEqual({ l1std: 0, ste: 0, l1cd: 0, cd: 0 });
  });

  it('a 2-level stream table and stage 2 are re-read every time too', () => {
    const env = makeEnv({ caching: 'none', fmt: '2lvl' });
    env.mem.write(STRTAB, 8, 0x8800_0000n | 7n);
    const s2 = s2Builder(env, 0xc000_0000n);
    writeSte(env, 6, { V: 1, Config: 6, ...s2Fields(5, s2.root) }, 0x8800_0000n);
    s2.map(0x4000_0000n, 0x4_0000_0000n);
    const look = (): string => res(env.dma({ sid: 6, addr: 0x4000_0000n }));
    expect(look()).toBe('0x400000000');
    s2.map(0x4000_0000n, 0x5_0000_0000n);
    expect(look()).toBe('0x500000000');
    env.mem.write(STRTAB, 8, 0x8900_0000n | 7n); // STE 6 in the new L2 table is all zero: V = 0
    expect(look()).toBe('C_BAD_STE');
  });
});

describe('more edge cases', () => {
  it('CFGI commands re-fetch configuration but leave TLB entries in use (§4.3)', () => {
    const env = makeEnv();
    const tb = s1Stream(env, 3, { asid: 1, vmid: 1, root: 0xa000_0000n });
    tb.map(0x1000_0000n, 0x4_0000_0000n, 3, { nG: true });
    const look = (): string => res(env.dma({ sid: 3, addr: 0x1000_0000n }));
    expect(look()).toBe('0x400000000');
    tb.map(0x1000_0000n, 0x5_0000_0000n, 3, { nG: true });
    issue(env, [['CFGI_ALL', {}]]);
    expect(look()).toBe('0x400000000');
    issue(env, [['CFGI_STE', { sid: 3 }]]);
    expect(look()).toBe('0x400000000');
    expect(env.rec.fetches).toEqual([3, 3, 3]); // the STE was fetched again after each CFGI
    issue(env, [['TLBI_NH_ALL', { vmid: 1 }]]);
    expect(look()).toBe('0x500000000');
  });

  it('stage-2 walk cache: TLBI_S2_IPA Leaf=1 keeps the level-2 table entry, Leaf=0 removes it', () => {
    const env = makeEnv();
    const tb = s2Stream(env, 6, 5, 0xc000_0000n);
    const I = 0x4000_0000n;
    tb.map(I, 0x4_0000_0000n);
    tb.map(I + 0x1000n, 0x4_0000_1000n);
    tb.map(I + 0x2000n, 0x4_0000_2000n);
    const look = (ipa: bigint): string => res(env.dma({ sid: 6, addr: ipa }));
    expect(look(I)).toBe('0x400000000');
    // A new level-3 table for the 2 MiB region at IPA I.
    const T2 = 0xc080_0000n;
    env.mem.write(T2 + 1n * 8n, 8, tb.leaf(0x5_0000_1000n, 3));
    env.mem.write(T2 + 2n * 8n, 8, tb.leaf(0x5_0000_2000n, 3));
    env.mem.write(tb.slot(I, 2), 8, T2 | 3n);
    issue(env, [['TLBI_S2_IPA', { vmid: 5, addr: I, leaf: 1 }]]);
    expect(look(I + 0x1000n)).toBe('0x400001000');
    issue(env, [['TLBI_S2_IPA', { vmid: 5, addr: I, leaf: 0 }]]);
    expect(look(I + 0x2000n)).toBe('0x500002000');
  });

  it('TTB1 (upper VA range) entries are invalidated by their full sign-extended VA', () => {
    const env = makeEnv();
    const VA1 = 0xffff_0000_1000_0000n;
    const t0 = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
    const t1 = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa010_0000n);
    writeSte(env, 3, { V: 1, Config: 5, S1ContextPtr: cdAddr(3), S2VMID: 1 });
    // TTB1 enabled: EPD1 = 0, T1SZ = 16, TG1 = 0b10 (4K in the TG1 encoding).
    writeQwords(env.mem, cdAddr(3), basicCd(t0.root, 1, { EPD1: 0, T1SZ: 16, TG1: 2, TTB1: t1.root }));
    t0.map(0x1000_0000n, 0x4_0000_0000n, 3, { nG: true });
    t1.map(VA1, 0x4_1000_0000n, 3, { nG: true });
    const look = (): string[] => [0x1000_0000n, VA1].map((addr) => res(env.dma({ sid: 3, addr })));
    expect(look()).toEqual(['0x400000000', '0x410000000']);
    t0.map(0x1000_0000n, 0x5_0000_0000n, 3, { nG: true });
    t1.map(VA1, 0x5_1000_0000n, 3, { nG: true });
    issue(env, [['TLBI_NH_VA', { vmid: 1, asid: 1, addr: VA1 }]]);
    // Only the TTB1 entry: the TTB0 entry at the same low 48 bits is another address.
    expect(look()).toEqual(['0x400000000', '0x510000000']);
  });
});
