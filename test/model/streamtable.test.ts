/**
 * The Stream table (IHI0070 §3.3.2, §5.1, §6.3.24, §6.3.25, §7.3.3, §7.3.4):
 * linear and 2-level layouts, L1STD Span semantics, C_BAD_STREAMID and
 * F_STE_FETCH through Smmu.translate, and the reverse lookup steAtAddress.
 */
import { describe, expect, it } from '@jest/globals';
import { decodeEvent, type EventRecord } from '../../src/model/events.js';
import { EABT } from '../../src/model/memory.js';
import { DEFAULT_PROFILE, featuresOf } from '../../src/model/profiles.js';
import type { SteField } from '../../src/model/ste.js';
import { locateSte, steAtAddress, stePlace, strtabGeometry, type StrtabConfig } from '../../src/model/streamTable.js';
import { EVTQ, makeEnv, steQwords, STRTAB, writeQwords, type Env, type EnvOptions } from '../helpers/env.js';

const DEF = featuresOf(DEFAULT_PROFILE); // SIDSIZE 16, ST_LEVEL 2-level

const BYPASS: Partial<Record<SteField, number>> = { V: 1, Config: 4 };

function geo(c: Partial<StrtabConfig>) {
  return strtabGeometry({ base: STRTAB, fmt: 0, log2size: 8, split: 6, ...c }, DEF);
}

function eventAt(env: Env, idx: number): { q: bigint[]; rec: EventRecord | undefined } {
  const q = env.mem.readQwords(EVTQ + BigInt(32 * idx), 4);
  if (q === EABT) throw new Error('event queue read aborted');
  return { q, rec: decodeEvent(q).record };
}

function steAt(env: Env, addr: bigint, f: Partial<Record<SteField, number>> = BYPASS): void {
  writeQwords(env.mem, addr, steQwords(f));
}

/** L1STD[index] = L2Ptr | Span at STRTAB + 8 * index. */
function l1std(env: Env, index: number, l2ptr: bigint, span: number): void {
  env.mem.write(STRTAB + BigInt(index) * 8n, 8, l2ptr | BigInt(span));
}

function twoLevel(split: number, extra: EnvOptions = {}): Env {
  return makeEnv({ fmt: '2lvl', log2size: 16, split, ...extra });
}

describe('strtabGeometry (§6.3.24 ADDR, §6.3.25 FMT/SPLIT/LOG2SIZE)', () => {
  it('linear: the base is aligned to the table size 64 * 2^LOG2SIZE', () => {
    // LOG2SIZE 8: 256 STEs * 64 B = 16 KiB = 2^14; 0x8000_1040 & ~0x3fff = 0x8000_0000.
    expect(geo({ base: 0x8000_1040n })).toEqual({ twoLevel: false, base: 0x8000_0000n, sidLimit: 256, split: 6, log2size: 8 });
  });

  it('linear: alignment uses the literal LOG2SIZE, the StreamID range MIN(LOG2SIZE, SIDSIZE)', () => {
    // LOG2SIZE 20 > SIDSIZE 16: alignment 2^(20+6) = 0x400_0000, so 0x8123_4540 -> 0x8000_0000
    // (with 16 it would be 2^22 -> 0x8120_0000); StreamIDs 0 .. 2^16 - 1.
    expect(geo({ base: 0x8123_4540n, log2size: 20 })).toMatchObject({ base: 0x8000_0000n, sidLimit: 65536, log2size: 20 });
  });

  it('2-level: SPLIT 6, 8, 10 are kept, every other value behaves as 6', () => {
    for (const s of [6, 8, 10]) expect(geo({ fmt: 1, log2size: 16, split: s }).split).toBe(s);
    for (const s of [0, 5, 7, 9, 11, 16, 31]) expect(geo({ fmt: 1, log2size: 16, split: s }).split).toBe(6);
  });

  it('2-level: the base is aligned to MAX(64 B, L1 table size) with the literal LOG2SIZE', () => {
    // LOG2SIZE 16, SPLIT 6: 2^10 L1STDs * 8 B = 8 KiB: 0x8000_1fc0 -> 0x8000_0000.
    expect(geo({ fmt: 1, log2size: 16, split: 6, base: 0x8000_1fc0n })).toMatchObject({ twoLevel: true, base: 0x8000_0000n });
    // LOG2SIZE 8, SPLIT 8: one L1STD (8 B) -> 64 B alignment: 0x8000_1040 stays.
    expect(geo({ fmt: 1, log2size: 8, split: 8, base: 0x8000_1040n }).base).toBe(0x8000_1040n);
    // LOG2SIZE 20 (> SIDSIZE), SPLIT 6: 2^14 * 8 B = 128 KiB: 0x8001_2340 -> 0x8000_0000.
    expect(geo({ fmt: 1, log2size: 20, split: 6, base: 0x8001_2340n }).base).toBe(0x8000_0000n);
  });

  it('FMT values other than 0b01 are linear; 0b01 needs SMMU_IDR0.ST_LEVEL', () => {
    expect(geo({ fmt: 2, log2size: 16, split: 8 }).twoLevel).toBe(false);
    expect(geo({ fmt: 3, log2size: 16, split: 8 }).twoLevel).toBe(false);
    const linearOnly = { ...DEF, twoLevelStreamTable: false };
    expect(strtabGeometry({ base: STRTAB, fmt: 1, log2size: 8, split: 6 }, linearOnly).twoLevel).toBe(false);
  });
});

describe('locateSte and stePlace (§3.3.2, §5.1)', () => {
  it('linear: STE address = base + 64 * StreamID', () => {
    // SID 5 -> 0x8000_0000 + 0x140; SID 255 -> + 0x3fc0.
    const g = geo({});
    expect(locateSte(g, 5, () => { throw new Error('no L1 in a linear table'); })).toEqual({ kind: 'ok', addr: 0x8000_0140n });
    expect(locateSte(g, 255, () => 0n)).toEqual({ kind: 'ok', addr: 0x8000_3fc0n });
    expect(locateSte(g, 256, () => 0n).kind).toBe('bad-streamid');
  });

  it('2-level: the L1STD of StreamID s is at base + 8 * (s >> SPLIT)', () => {
    const g = geo({ fmt: 1, log2size: 16, split: 8 });
    const seen: [number, bigint][] = [];
    const r = locateSte(g, 0x1234, (i, a) => { seen.push([i, a]); return 0x9000_0000n | 9n; });
    // L1 index 0x1234 >> 8 = 0x12 at 0x8000_0000 + 0x90; L2 index 0x34 -> 0x9000_0000 + 0x34 * 64 = 0x9000_0d00.
    expect(seen).toEqual([[0x12, 0x8000_0090n]]);
    expect(r).toEqual({ kind: 'ok', addr: 0x9000_0d00n, l1Index: 0x12 });
    // An aborted L1STD fetch reports the L1STD address.
    expect(locateSte(g, 0x1234, () => undefined)).toEqual({ kind: 'fetch-abort', fetchAddr: 0x8000_0090n });
  });

  it('§5.1 Span: 0 and the reserved 12..31 make every StreamID of the descriptor invalid', () => {
    for (const span of [0, 12, 20, 31]) expect(stePlace(0x9000_0000n | BigInt(span), 0, 10, 0).kind).toBe('bad-streamid');
    // Span 11 is the largest valid value (1024 STEs) and needs SPLIT = 10.
    expect(stePlace(0x9000_0000n | 11n, 1023, 10, 0)).toEqual({ kind: 'ok', addr: 0x9000_0000n + 1023n * 64n, l1Index: 0 });
  });

  it('§5.1 Span: larger than SPLIT + 1 is invalid', () => {
    // SPLIT 6: Span 7 (64 STEs) is the maximum.
    expect(stePlace(0x9000_0000n | 8n, 0, 6, 0).kind).toBe('bad-streamid');
    expect(stePlace(0x9000_0000n | 7n, 63, 6, 0)).toEqual({ kind: 'ok', addr: 0x9000_0fc0n, l1Index: 0 });
  });

  it('§5.1 Span: StreamID[SPLIT-1:0] >= 2^(Span-1) is invalid', () => {
    // Span 3: 2^2 = 4 STEs.  SID 0x43 (L2 index 3) is in range, 0x44 (index 4) is not.
    expect(stePlace(0x9000_0000n | 3n, 0x43, 6, 1)).toEqual({ kind: 'ok', addr: 0x9000_00c0n, l1Index: 1 });
    expect(stePlace(0x9000_0000n | 3n, 0x44, 6, 1).kind).toBe('bad-streamid');
  });

  it('§5.1 L2Ptr: bits below the L2 table size 64 << (Span - 1) are treated as zero', () => {
    // Span 3: 256 B table; L2Ptr 0x9000_0140 -> 0x9000_0100; L2 index 1 -> 0x9000_0140.
    expect(stePlace(0x9000_0140n | 3n, 1, 6, 0)).toEqual({ kind: 'ok', addr: 0x9000_0140n, l1Index: 0 });
    // Span 1: one 64 B STE; L2Ptr bits [5:0] are the Span and RES0 bit, so 0x9000_0040 stays.
    expect(stePlace(0x9000_0040n | 1n, 0, 6, 0)).toEqual({ kind: 'ok', addr: 0x9000_0040n, l1Index: 0 });
    // L2Ptr bits [63:56] are RES0 and ignored.
    expect(stePlace(0xff00_0000_9000_0000n | 2n, 1, 6, 0)).toEqual({ kind: 'ok', addr: 0x9000_0040n, l1Index: 0 });
  });
});

describe('linear stream table through Smmu.translate', () => {
  it('uses the STE at the aligned base + 64 * StreamID', () => {
    const env = makeEnv({ enable: false, log2size: 8 });
    env.write('STRTAB_BASE', 0x8000_1040n); // misaligned: 16 KiB table -> 0x8000_0000
    env.write('CR0', 0xd);
    steAt(env, 0x8000_0080n); // SID 2 at 0x8000_0000 + 2 * 64
    expect(env.dma({ sid: 2, addr: 0x42_0000n })).toMatchObject({ outcome: 'bypass', pa: 0x42_0000n });
    // SID 1's STE (0x8000_0040) is zero: C_BAD_STE, not a read of 0x8000_1080.
    expect(env.dma({ sid: 1, addr: 0x42_0000n }).outcome).toBe('fault');
    expect(eventAt(env, 0).rec?.type).toBe('C_BAD_STE');
  });

  it('§7.3.3 a StreamID >= 2^LOG2SIZE gives C_BAD_STREAMID when CR2.RECINVSID=1', () => {
    const env = makeEnv({ log2size: 8 });
    const r = env.dma({ sid: 256, ssid: 5, addr: 0x1000n });
    expect(r.outcome).toBe('fault');
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x02 | SSV 1<<11 | 5 << 12 | 256 << 32 = 0x0000_0100_0000_5802.
    expect(q).toEqual([0x0000_0100_0000_5802n, 0n, 0n, 0n]);
    expect(rec).toEqual({ type: 'C_BAD_STREAMID', sid: 256, ssid: 5, fields: {} });
  });

  it('§6.3.12 RECINVSID=0: an out-of-range StreamID aborts with no event', () => {
    const env = makeEnv({ log2size: 8, recinvsid: false });
    expect(env.dma({ sid: 256, addr: 0x1000n }).outcome).toBe('abort');
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.events).toEqual([]);
    expect(env.rec.lost).toEqual([]);
  });

  it('the StreamID range is 2^MIN(LOG2SIZE, SIDSIZE): LOG2SIZE 20 on a 16-bit SIDSIZE accepts 0xffff, rejects 0x10000', () => {
    const env = makeEnv({ log2size: 20 });
    steAt(env, STRTAB + 0xffffn * 64n); // 0x8000_0000 + 0x3f_ffc0
    expect(env.dma({ sid: 0xffff, addr: 0x2000n })).toMatchObject({ outcome: 'bypass', pa: 0x2000n });
    env.dma({ sid: 0x10000, addr: 0x2000n });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_STREAMID', sid: 0x10000, fields: {} });
  });

  it('§7.3.4 an aborting STE fetch gives F_STE_FETCH with FetchAddr = the STE address, and is not cached', () => {
    const env = makeEnv({ log2size: 8 });
    env.mem.declareAbort(STRTAB + 3n * 64n, 64n); // SID 3's STE at 0x8000_00c0
    const r = env.dma({ sid: 3, addr: 0x1000n });
    expect(r.outcome === 'fault' && r.event.type).toBe('F_STE_FETCH');
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x03 | 3 << 32; DW3 = FetchAddr[55:3] in place = 0x8000_00c0.
    expect(q).toEqual([0x0000_0003_0000_0003n, 0n, 0n, 0x8000_00c0n]);
    expect(rec).toEqual({ type: 'F_STE_FETCH', sid: 3, fields: { Reason: 0n, FetchAddr: 0x8000_00c0n } });
    // §5.2.1: a failed fetch does not cause the STE to be cached; the next transaction fetches again.
    env.dma({ sid: 3, addr: 0x1000n });
    expect(env.read('EVENTQ_PROD')).toBe(2n);
    expect(env.rec.fetches).toEqual([]);
  });
});

describe('2-level stream table through Smmu.translate', () => {
  it('SPLIT=8: SID 0x1234 -> L1STD[0x12], STE 0x34 of a 256-entry L2 table', () => {
    const env = twoLevel(8);
    // Span 9 = 256 STEs = 16 KiB (the most for SPLIT 8); STE at 0x9000_0000 + 0x34 * 64 = 0x9000_0d00.
    l1std(env, 0x12, 0x9000_0000n, 9);
    steAt(env, 0x9000_0d00n);
    expect(env.dma({ sid: 0x1234, addr: 0x7000n })).toMatchObject({ outcome: 'bypass', pa: 0x7000n });
  });

  it('SPLIT=10: SID 0x1234 -> L1STD[4], STE 0x234 of a 1024-entry L2 table', () => {
    const env = twoLevel(10);
    // 0x1234 >> 10 = 4; 0x1234 & 0x3ff = 0x234; 0x234 * 64 = 0x8d00.
    l1std(env, 4, 0x9100_0000n, 11);
    steAt(env, 0x9100_8d00n);
    expect(env.dma({ sid: 0x1234, addr: 0x7000n })).toMatchObject({ outcome: 'bypass', pa: 0x7000n });
  });

  it.each([6, 7, 0, 31])('SPLIT=%i (6, or a reserved value behaving as 6): SID 0x1234 -> L1STD[0x48], STE 0x34', (split) => {
    const env = twoLevel(split);
    // 0x1234 >> 6 = 0x48 (L1STD at STRTAB + 0x240); 0x1234 & 0x3f = 0x34 -> 0x9200_0d00.
    l1std(env, 0x48, 0x9200_0000n, 7);
    steAt(env, 0x9200_0d00n);
    expect(env.dma({ sid: 0x1234, addr: 0x7000n })).toMatchObject({ outcome: 'bypass', pa: 0x7000n });
  });

  it.each([
    ['Span=0', 0],
    ['Span=12 (reserved, as 0)', 12],
    ['Span=31 (reserved, as 0)', 31],
    ['Span=8 > SPLIT+1 = 7', 8],
  ])('§5.1 %s gives C_BAD_STREAMID', (_name, span) => {
    const env = twoLevel(6);
    l1std(env, 0x48, 0x9200_0000n, span);
    steAt(env, 0x9200_0d00n); // a valid STE where the L2 table would be: it must not be used
    env.dma({ sid: 0x1234, addr: 0x7000n });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_STREAMID', sid: 0x1234, fields: {} });
  });

  it('§5.1 a StreamID beyond the L2 table (SID[SPLIT-1:0] >= 2^(Span-1)) gives C_BAD_STREAMID; the one before is used', () => {
    const env = twoLevel(6);
    // L1STD[1] covers SIDs 0x40..0x7f; Span 3 -> 4 STEs (0x40..0x43).
    l1std(env, 1, 0x9300_0000n, 3);
    steAt(env, 0x9300_00c0n); // SID 0x43
    expect(env.dma({ sid: 0x43, addr: 0x10n })).toMatchObject({ outcome: 'bypass' });
    env.dma({ sid: 0x44, addr: 0x10n });
    expect(eventAt(env, 0).rec).toEqual({ type: 'C_BAD_STREAMID', sid: 0x44, fields: {} });
  });

  it('§6.3.12 an invalid L1STD with RECINVSID=0 aborts with no event', () => {
    const env = twoLevel(6, { recinvsid: false });
    expect(env.dma({ sid: 0x1234, addr: 0x10n }).outcome).toBe('abort'); // L1STD[0x48] is zero: Span 0
    expect(env.read('EVENTQ_PROD')).toBe(0n);
    expect(env.rec.lost).toEqual([]);
  });

  it('§5.1 L2Ptr is aligned to the L2 table size: L2Ptr 0x9000_0140 with Span 3 (256 B) means 0x9000_0100', () => {
    const env = twoLevel(6);
    l1std(env, 0, 0x9000_0140n, 3);
    steAt(env, 0x9000_0140n); // SID 1 = 0x9000_0100 + 64 (unaligned use would read 0x9000_0180)
    expect(env.dma({ sid: 1, addr: 0x10n })).toMatchObject({ outcome: 'bypass' });
  });

  it('§7.3.4 an aborting L1STD fetch gives F_STE_FETCH with FetchAddr = the L1STD address', () => {
    const env = twoLevel(8);
    env.mem.declareAbort(STRTAB + 0x90n, 8n); // L1STD[0x12]
    env.dma({ sid: 0x1234, ssid: 0x77, addr: 0x10n });
    const { q, rec } = eventAt(env, 0);
    // DW0 = 0x03 | SSV 0x800 | 0x77 << 12 (0x77000) | 0x1234 << 32; DW3 = 0x8000_0090.
    expect(q).toEqual([0x0000_1234_0007_7803n, 0n, 0n, 0x8000_0090n]);
    expect(rec).toEqual({ type: 'F_STE_FETCH', sid: 0x1234, ssid: 0x77, fields: { Reason: 0n, FetchAddr: 0x8000_0090n } });
  });

  it('§7.3.4 an aborting level-2 STE fetch gives F_STE_FETCH with FetchAddr = the STE address', () => {
    const env = twoLevel(8);
    l1std(env, 0x12, 0x9000_0000n, 9);
    env.mem.declareAbort(0x9000_0d00n, 64n);
    env.dma({ sid: 0x1234, addr: 0x10n });
    expect(eventAt(env, 0).rec).toEqual({ type: 'F_STE_FETCH', sid: 0x1234, fields: { Reason: 0n, FetchAddr: 0x9000_0d00n } });
  });
});

describe('steAtAddress (the reverse lookup for STE stores)', () => {
  it('linear: StreamID and doubleword of an address inside the table; undefined outside', () => {
    const g = geo({});
    const none = () => 0n;
    // 0x8000_0000 + 5 * 64 + 16 -> SID 5, DW2.
    expect(steAtAddress(g, 0x8000_0150n, none)).toEqual({ sid: 5, qword: 2 });
    expect(steAtAddress(g, 0x8000_3ff8n, none)).toEqual({ sid: 255, qword: 7 });
    expect(steAtAddress(g, 0x8000_4000n, none)).toBeUndefined(); // 256 * 64 = 0x4000: one past the end
    expect(steAtAddress(g, 0x7fff_fff8n, none)).toBeUndefined();
    // LOG2SIZE 20 with SIDSIZE 16: the table ends at 2^16 * 64 = 0x40_0000.
    const big = geo({ log2size: 20 });
    expect(steAtAddress(big, 0x803f_ffc0n, none)).toEqual({ sid: 0xffff, qword: 0 });
    expect(steAtAddress(big, 0x8040_0000n, none)).toBeUndefined();
  });

  it('2-level: follows the valid L1STDs; invalid or oversized Spans hide their L2 tables', () => {
    const g = geo({ fmt: 1, log2size: 16, split: 8 });
    const l1: Record<number, bigint> = {
      0x12: 0x9000_0000n | 9n, // 256 STEs, 16 KiB
      0x03: 0x9100_0000n | 0n, // Span 0
      0x04: 0x9200_0000n | 10n, // Span 10 > SPLIT + 1 = 9
    };
    const read = (i: number) => l1[i] ?? 0n;
    // 0x9000_0d08: L2 index 0x34, DW1 -> SID 0x12 << 8 | 0x34 = 0x1234.
    expect(steAtAddress(g, 0x9000_0d08n, read)).toEqual({ sid: 0x1234, qword: 1 });
    expect(steAtAddress(g, 0x9000_4000n, read)).toBeUndefined(); // past the 16 KiB table
    expect(steAtAddress(g, 0x9100_0000n, read)).toBeUndefined();
    expect(steAtAddress(g, 0x9200_0000n, read)).toBeUndefined();
  });
});
