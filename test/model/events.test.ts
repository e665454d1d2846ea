/**
 * Event records (IHI0070 §7.3): every event type the model raises, produced
 * through Smmu.translate and read back from the event queue memory
 * (EVENTQ_BASE + 32 * index), plus encode/decode round trips for every type.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  decodeEvent, encodeEvent, EVENT_FIELDS, EVENT_TYPES, eventLayout, eventNameOf, eventType, formatEventDetail, isEventName,
  type EventFieldName, type EventName, type EventRecord,
} from '../../src/model/events.js';
import { reservedBitsSet, reservedMasks } from '../../src/model/fields.js';
import { EABT } from '../../src/model/memory.js';
import type { CdField } from '../../src/model/cd.js';
import { basicCd, EVTQ, makeEnv, STRTAB, TableBuilder, writeQwords, writeSte, type Env, type MapAttrs } from '../helpers/env.js';

/** Raw doublewords and decoded record of event-queue slot `idx`. */
function slot(env: Env, idx: number): { q: bigint[]; rec: EventRecord | undefined; code: number } {
  const q = env.mem.readQwords(EVTQ + BigInt(32 * idx), 4);
  if (q === EABT) throw new Error('event queue read aborted');
  const d = decodeEvent(q);
  return { q, rec: d.record, code: d.code };
}

const CTX = 0x9000_0000n;
const TABLES = 0xa000_0000n;

/**
 * SID 3: stage 1 only, two linear CDs (S1CDMax=1) at CTX sharing one set of 4K tables
 * (T0SZ=16, start level 0); S1DSS=substream0 so that no-SSID traffic uses CD 0.
 */
function s1Env(cd: Partial<Record<CdField, bigint | number>> = {}): { env: Env; tb: TableBuilder } {
  const env = makeEnv();
  writeSte(env, 3, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 1, S1DSS: 2 });
  const tb = TableBuilder.of(env.mem, 1, '4K', 48, 0, TABLES);
  writeQwords(env.mem, CTX, basicCd(tb.root, 1, cd));
  writeQwords(env.mem, CTX + 64n, basicCd(tb.root, 2, cd));
  return { env, tb };
}

function map(tb: TableBuilder, va: bigint, pa: bigint, a: MapAttrs = {}): void {
  tb.map(va, pa, 3, a);
}

// DW1 bit positions (§7.3.13 and Linux arm-smmu-v3.h): PnU 33, InD 34, RnW 35, S2 39, CLASS [41:40].
const PNU = 1n << 33n, IND = 1n << 34n, RNW = 1n << 35n, S2 = 1n << 39n;
const CLASS = (c: bigint) => c << 40n;

describe('configuration events through Smmu.translate', () => {
  it('C_BAD_STREAMID (0x02, §7.3.3): StreamID beyond 2^LOG2SIZE', () => {
    const env = makeEnv({ log2size: 8 });
    env.dma({ sid: 0x300, addr: 0x1000n });
    const { q, rec, code } = slot(env, 0);
    expect(code).toBe(0x02);
    expect(q).toEqual([0x0000_0300_0000_0002n, 0n, 0n, 0n]); // 0x02 | 0x300 << 32
    expect(rec).toEqual({ type: 'C_BAD_STREAMID', sid: 0x300, fields: {} });
  });

  it('F_STE_FETCH (0x03, §7.3.4): the STE read aborts', () => {
    const env = makeEnv();
    env.mem.declareAbort(STRTAB + 0x11n * 64n, 64n); // 0x8000_0440
    env.dma({ sid: 0x11, ssid: 2, addr: 0x1000n });
    const { q, rec } = slot(env, 0);
    // DW0 = 0x03 | 0x800 | 2 << 12 | 0x11 << 32; DW3 = FetchAddr = 0x8000_0440.
    expect(q).toEqual([0x0000_0011_0000_2803n, 0n, 0n, 0x8000_0440n]);
    expect(rec).toEqual({ type: 'F_STE_FETCH', sid: 0x11, ssid: 2, fields: { Reason: 0n, FetchAddr: 0x8000_0440n } });
  });

  it('C_BAD_STE (0x04, §7.3.5): STE.V=0', () => {
    const env = makeEnv();
    env.dma({ sid: 0x12, addr: 0x1000n });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([0x0000_0012_0000_0004n, 0n, 0n, 0n]);
    expect(rec).toEqual({ type: 'C_BAD_STE', sid: 0x12, fields: {} });
  });

  it('F_STREAM_DISABLED (0x06, §7.3.7): no SubstreamID with S1CDMax > 0 and S1DSS=terminate', () => {
    const env = makeEnv();
    writeSte(env, 0x13, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 4, S1DSS: 0 });
    env.dma({ sid: 0x13, addr: 0x1000n });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([0x0000_0013_0000_0006n, 0n, 0n, 0n]);
    expect(rec).toEqual({ type: 'F_STREAM_DISABLED', sid: 0x13, fields: {} });
  });

  it('C_BAD_SUBSTREAMID (0x08, §7.3.9): SubstreamID >= 2^S1CDMax; no SSV bit, SubstreamID always present', () => {
    const env = makeEnv();
    writeSte(env, 0x14, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 4 });
    env.dma({ sid: 0x14, ssid: 0x10, addr: 0x1000n }); // 0x10 = 2^4
    const { q, rec } = slot(env, 0);
    // DW0 = 0x08 | 0x10 << 12 (0x10000) | 0x14 << 32; bit 11 (SSV position) is 0.
    expect(q).toEqual([0x0000_0014_0001_0008n, 0n, 0n, 0n]);
    expect((q[0]! >> 11n) & 1n).toBe(0n);
    expect(rec).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 0x14, ssid: 0x10, fields: {} });
  });

  it('F_CD_FETCH (0x09, §7.3.10): the CD read aborts; FetchAddr in DW3', () => {
    const env = makeEnv();
    writeSte(env, 0x15, { V: 1, Config: 5, S1ContextPtr: CTX });
    env.mem.declareAbort(CTX, 64n);
    env.dma({ sid: 0x15, addr: 0x1000n });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([0x0000_0015_0000_0009n, 0n, 0n, 0x9000_0000n]);
    expect(rec).toEqual({ type: 'F_CD_FETCH', sid: 0x15, fields: { Reason: 0n, FetchAddr: 0x9000_0000n } });
  });

  it('C_BAD_CD (0x0a, §7.3.11): ILLEGAL CD (T0SZ=40 > 39)', () => {
    const env = makeEnv();
    writeSte(env, 0x16, { V: 1, Config: 5, S1ContextPtr: CTX, S1CDMax: 1 });
    writeQwords(env.mem, CTX + 64n, basicCd(TABLES, 1, { T0SZ: 40 }));
    env.dma({ sid: 0x16, ssid: 1, addr: 0x1000n });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([0x0000_0016_0000_180an, 0n, 0n, 0n]); // 0x0a | 0x800 | 1 << 12 | 0x16 << 32
    expect(rec).toEqual({ type: 'C_BAD_CD', sid: 0x16, ssid: 1, fields: {} });
  });
});

describe('translation events through Smmu.translate', () => {
  it('F_WALK_EABT (0x0b, §7.3.12): a stage-1 descriptor fetch aborts: S2=0, CLASS=TT, FetchAddr = descriptor PA', () => {
    const { env, tb } = s1Env();
    env.mem.declareAbort(tb.root, 0x1000n); // the level-0 table
    // VA 0x80_0000_1000: level-0 index = VA >> 39 = 1, descriptor at root + 8.
    env.dma({ sid: 3, addr: 0x80_0000_1000n });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([
      0x0000_0003_0000_000bn, // no SubstreamID: SSV=0
      PNU | RNW | CLASS(1n), // 0x0000_010a_0000_0000
      0x80_0000_1000n,
      TABLES + 8n,
    ]);
    expect(q[1]).toBe(0x0000_010a_0000_0000n);
    expect(rec).toEqual({
      type: 'F_WALK_EABT', sid: 3,
      fields: { Reason: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 1n, InputAddr: 0x80_0000_1000n, FetchAddr: 0xa000_0008n },
    });
  });

  it('F_WALK_EABT is recorded even when CD.R=0 (§5.5: only the four translation faults follow R)', () => {
    const { env, tb } = s1Env({ R: 0 });
    env.mem.declareAbort(tb.root, 0x1000n);
    expect(env.dma({ sid: 3, addr: 0x80_0000_1000n }).outcome).toBe('fault');
    expect(slot(env, 0).rec?.type).toBe('F_WALK_EABT');
  });

  it('F_TRANSLATION (0x10, §7.3.13): stage 1, unprivileged instruction fetch with SubstreamID 1', () => {
    const { env } = s1Env();
    env.dma({ sid: 3, ssid: 1, addr: 0x55_0000_0040n, priv: false, instr: true });
    const { q, rec } = slot(env, 0);
    // DW0 = 0x10 | 0x800 | 1 << 12 | 3 << 32; DW1 = InD | RnW | CLASS IN = 0x0000_020c_0000_0000.
    expect(q).toEqual([0x0000_0003_0000_1810n, 0x0000_020c_0000_0000n, 0x55_0000_0040n, 0n]);
    expect(q[1]).toBe(IND | RNW | CLASS(2n));
    expect(rec).toEqual({
      type: 'F_TRANSLATION', sid: 3, ssid: 1,
      fields: { STAG: 0n, Stall: 0n, PnU: 0n, InD: 1n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: 0x55_0000_0040n, IPA: 0n },
    });
  });

  it('F_TRANSLATION (0x10, §7.3.13): stage 2 of a stage-2-only stream: S2=1, CLASS=IN, IPA', () => {
    const env = makeEnv();
    // 4K, S2T0SZ=24 (40-bit IPA), start level 1 with 2 concatenated tables at 0xb000_0000.
    const s2 = TableBuilder.of(env.mem, 2, '4K', 40, 1, 0xb000_0000n, 2);
    writeSte(env, 6, {
      V: 1, Config: 6, S2VMID: 1, S2T0SZ: 24, S2SL0: 1, S2TG: 0, S2PS: 5, S2AA64: 1, S2R: 1, S2TTB: s2.root,
    });
    s2.map(0x1000n, 0x7000_0000n);
    expect(env.dma({ sid: 6, addr: 0x1010n })).toMatchObject({ outcome: 'translated', pa: 0x7000_0010n });
    // A write (so RnW=0 and InD=0 even though instr is set: writes are data, §13.1.2).
    env.dma({ sid: 6, addr: 0x12_3456_7890n, write: true, instr: true });
    const { q, rec } = slot(env, 0);
    // DW1 = PnU | S2 | CLASS IN = 0x2_0000_0000 + 0x80_0000_0000 + 0x200_0000_0000.  DW3 = IPA[55:12].
    expect(q).toEqual([0x0000_0006_0000_0010n, 0x0000_0282_0000_0000n, 0x12_3456_7890n, 0x12_3456_7000n]);
    expect(q[1]).toBe(PNU | S2 | CLASS(2n));
    expect(rec).toEqual({
      type: 'F_TRANSLATION', sid: 6,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 1n, CLASS: 2n, InputAddr: 0x12_3456_7890n, IPA: 0x12_3456_7000n },
    });
  });

  it('F_TRANSLATION is not recorded when CD.R=0: the transaction aborts silently', () => {
    const { env } = s1Env({ R: 0 });
    expect(env.dma({ sid: 3, addr: 0x55_0000_0040n }).outcome).toBe('abort');
    expect(env.read('EVENTQ_PROD')).toBe(0n);
  });

  it('F_ADDR_SIZE (0x11, §7.3.14): a stage-1 leaf output beyond the effective IPS (32 bits)', () => {
    const { env, tb } = s1Env({ IPS: 0 }); // tables at 0xa000_0000 fit in 32 bits
    map(tb, 0x4000_0000n, 0x1_0000_0000n); // OA = 2^32
    env.dma({ sid: 3, addr: 0x4000_0123n, priv: false });
    const { q, rec } = slot(env, 0);
    expect(q).toEqual([0x0000_0003_0000_0011n, RNW | CLASS(2n), 0x4000_0123n, 0n]);
    expect(rec).toEqual({
      type: 'F_ADDR_SIZE', sid: 3,
      fields: { STAG: 0n, Stall: 0n, PnU: 0n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: 0x4000_0123n, IPA: 0n },
    });
  });

  it('F_ADDR_SIZE (0x11, §5.2 Config=0b100, §3.4): a bypass STE and an address beyond the 48-bit OAS', () => {
    const env = makeEnv();
    writeSte(env, 8, { V: 1, Config: 4 });
    expect(env.dma({ sid: 8, addr: 0xffff_ffff_ffffn }).outcome).toBe('bypass'); // 2^48 - 1
    env.dma({ sid: 8, addr: 0x1_0000_0000_0000n, write: true });
    expect(slot(env, 0).rec).toEqual({
      type: 'F_ADDR_SIZE', sid: 8,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: 0x1_0000_0000_0000n, IPA: 0n },
    });
  });

  it('F_ACCESS (0x12, §7.3.15): the leaf descriptor has AF=0 (AFFD=0, no HTTU)', () => {
    const { env, tb } = s1Env();
    map(tb, 0x4000_0000n, 0x6000_0000n, { af: false });
    env.dma({ sid: 3, ssid: 1, addr: 0x4000_0008n });
    const { q, rec } = slot(env, 0);
    // DW0 = 0x12 | 0x800 | 1 << 12 | 3 << 32.
    expect(q).toEqual([0x0000_0003_0000_1812n, PNU | RNW | CLASS(2n), 0x4000_0008n, 0n]);
    expect(rec).toEqual({
      type: 'F_ACCESS', sid: 3, ssid: 1,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 1n, S2: 0n, CLASS: 2n, InputAddr: 0x4000_0008n, IPA: 0n },
    });
    // With CD.AFFD=1 the same page translates (AF treated as 1).
    const { env: env2, tb: tb2 } = s1Env({ AFFD: 1 });
    map(tb2, 0x4000_0000n, 0x6000_0000n, { af: false });
    expect(env2.dma({ sid: 3, addr: 0x4000_0008n })).toMatchObject({ outcome: 'translated', pa: 0x6000_0008n });
  });

  it('F_PERMISSION (0x13, §7.3.16): a write to a read-only (AP=0b10) page; TTRnW=0 for CLASS=IN', () => {
    const { env, tb } = s1Env();
    map(tb, 0x4000_0000n, 0x6000_0000n, { ap: 2 });
    expect(env.dma({ sid: 3, addr: 0x4000_0010n })).toMatchObject({ outcome: 'translated', pa: 0x6000_0010n });
    env.dma({ sid: 3, ssid: 1, addr: 0x4000_0010n, write: true });
    const { q, rec } = slot(env, 0);
    // DW0 = 0x13 | 0x800 | 1 << 12 | 3 << 32; DW1 = PnU | CLASS IN (RnW=0: a write).
    expect(q).toEqual([0x0000_0003_0000_1813n, PNU | CLASS(2n), 0x4000_0010n, 0n]);
    expect(rec).toEqual({
      type: 'F_PERMISSION', sid: 3, ssid: 1,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, TTRnW: 0n, InputAddr: 0x4000_0010n, IPA: 0n },
    });
  });

  it('records go to consecutive 32-byte slots and EVENTQ_PROD counts them', () => {
    const env = makeEnv();
    env.dma({ sid: 1, addr: 0n }); // C_BAD_STE
    env.dma({ sid: 0x1000, addr: 0n }); // C_BAD_STREAMID (LOG2SIZE 8)
    env.dma({ sid: 2, addr: 0n }); // C_BAD_STE
    expect(env.read('EVENTQ_PROD')).toBe(3n);
    expect([0, 1, 2].map((i) => slot(env, i).rec)).toEqual([
      { type: 'C_BAD_STE', sid: 1, fields: {} },
      { type: 'C_BAD_STREAMID', sid: 0x1000, fields: {} },
      { type: 'C_BAD_STE', sid: 2, fields: {} },
    ]);
    expect(env.rec.events).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------
// Encode / decode.

function fieldArb(name: EventFieldName): fc.Arbitrary<bigint> {
  const f = EVENT_FIELDS[name];
  return fc.bigInt({ min: 0n, max: (1n << BigInt(f.width)) - 1n }).map((v) => (f.addr ? v << BigInt(f.lo) : v));
}

function recordArb(name: EventName): fc.Arbitrary<EventRecord> {
  const t = eventType(name);
  const fields: Record<string, fc.Arbitrary<bigint>> = {};
  for (const n of t.fields) fields[n] = fieldArb(n);
  // C_BAD_SUBSTREAMID always carries a SubstreamID; the others may or may not.
  const ssid = name === 'C_BAD_SUBSTREAMID'
    ? fc.integer({ min: 0, max: 0xfffff })
    : fc.option(fc.integer({ min: 0, max: 0xfffff }), { nil: undefined });
  return fc.record({ sid: fc.integer({ min: 0, max: 0xffff_ffff }), ssid, fields: fc.record(fields) }).map((r) => ({
    type: name,
    sid: r.sid,
    ...(r.ssid !== undefined ? { ssid: r.ssid } : {}),
    fields: r.fields as Partial<Record<EventFieldName, bigint>>,
  }));
}

describe('event record encode/decode (fast-check, fixed seeds)', () => {
  it.each(EVENT_TYPES.map((t) => [t.name, `0x${t.code.toString(16).padStart(2, '0')}`, t.code] as const))('%s (%s): decode(encode(record)) = record, and no RES0 bit is set', (name, _hex, code) => {
    fc.assert(fc.property(recordArb(name), (rec) => {
      const q = encodeEvent(rec);
      expect(q).toHaveLength(4);
      expect(Number(q[0]! & 0xffn)).toBe(code);
      expect(decodeEvent(q)).toEqual({ code, record: rec });
      expect(reservedBitsSet(eventLayout(name), q)).toEqual([]);
    }), { seed: 0xe0 + code, numRuns: 100 });
  });

  it('SSV (DW0[11]) is set exactly when a SubstreamID is given, except for C_BAD_SUBSTREAMID', () => {
    fc.assert(fc.property(fc.constantFrom(...EVENT_TYPES.map((t) => t.name)), fc.integer({ min: 0, max: 0xfffff }), (name, ssid) => {
      const withSsid = encodeEvent({ type: name, sid: 1, ssid, fields: {} });
      const without = encodeEvent({ type: name, sid: 1, fields: {} });
      expect((withSsid[0]! >> 12n) & 0xfffffn).toBe(BigInt(ssid));
      expect((withSsid[0]! >> 11n) & 1n).toBe(name === 'C_BAD_SUBSTREAMID' ? 0n : 1n);
      expect((without[0]! >> 11n) & 1n).toBe(0n);
    }), { seed: 0xe55, numRuns: 200 });
  });

  it('C_BAD_SUBSTREAMID decodes its SubstreamID although SSV is 0; other types without SSV have no ssid', () => {
    // 0x08 | 0x12345 << 12 | 7 << 32.
    expect(decodeEvent([0x0000_0007_1234_5008n, 0n, 0n, 0n]).record).toEqual({ type: 'C_BAD_SUBSTREAMID', sid: 7, ssid: 0x12345, fields: {} });
    // The same DW0 with type C_BAD_STE (0x04) and SSV=0: the SubstreamID bits are UNKNOWN and not reported.
    expect(decodeEvent([0x0000_0007_1234_5004n, 0n, 0n, 0n]).record).toEqual({ type: 'C_BAD_STE', sid: 7, fields: {} });
  });

  it('hand-encoded F_PERMISSION: every field at its §7.3.16 position', () => {
    const q = encodeEvent({
      type: 'F_PERMISSION', sid: 0xabcd, ssid: 0x55,
      fields: { STAG: 0x1234n, Stall: 1n, PnU: 1n, InD: 1n, RnW: 1n, S2: 1n, CLASS: 1n, TTRnW: 1n, InputAddr: 0xffff_8000_0000_1000n, IPA: 0x00ff_ffff_ffff_f000n },
    });
    expect(q).toEqual([
      0x0000_abcd_0005_5813n, // 0x13 | SSV 0x800 | 0x55 << 12 | 0xabcd << 32
      // STAG 0x1234 | Stall 1<<31 | PnU 1<<33 | InD 1<<34 | RnW 1<<35 | S2 1<<39 | CLASS 1<<40 | TTRnW 1<<44
      0x0000_118e_8000_1234n,
      0xffff_8000_0000_1000n,
      0x00ff_ffff_ffff_f000n, // IPA[55:12]
    ]);
  });

  it('encodeEvent rejects values that do not fit (RangeError), e.g. an unaligned FetchAddr or a 33-bit StreamID', () => {
    expect(() => encodeEvent({ type: 'F_STE_FETCH', sid: 1, fields: { FetchAddr: 0x1004n } })).toThrow(RangeError);
    expect(() => encodeEvent({ type: 'C_BAD_STE', sid: 2 ** 32, fields: {} })).toThrow(RangeError);
    expect(() => encodeEvent({ type: 'C_BAD_STE', sid: 1, ssid: 1 << 20, fields: {} })).toThrow(RangeError);
  });

  it('an unknown type code decodes to its code only; names and formatting', () => {
    expect(decodeEvent([0xffn, 0n, 0n, 0n])).toEqual({ code: 0xff });
    expect(decodeEvent([0x0en, 0n, 0n, 0n])).toEqual({ code: 0x0e });
    expect(eventNameOf(0x0b)).toBe('F_WALK_EABT');
    expect(eventNameOf(0xe0)).toBe('UNKNOWN(0xe0)');
    expect(isEventName('F_ACCESS')).toBe(true);
    expect(isEventName('F_NOPE')).toBe(false);
    expect(formatEventDetail({ type: 'F_CD_FETCH', sid: 1, fields: { Reason: 0n, FetchAddr: 0x9000_00c0n } })).toBe('Reason=0 FetchAddr=0x900000c0');
    expect(formatEventDetail({ type: 'F_ACCESS', sid: 1, fields: { CLASS: 2n, RnW: 1n } })).toBe('RnW=1 CLASS=IN');
  });

  // IHI0070 §7.3.19 (figure readable in the spec copy): E_PAGE_REQUEST holds InputAddr[63:12] at record bits
  // [191:140] (DW2[63:12]), RES0 at [139:116] (DW2[11:0], DW1[63:52]), Span at [115:108] (DW1[51:44]) and the
  // pR/pW/pX/uR/uW/uX flags at bits 103/102/101/99/98/97 (DW1[39:37], DW1[35:33]).  (PRI is not modelled, so
  // the model never raises it; the layout matters for decode.)
  it('E_PAGE_REQUEST layout: InputAddr[63:12], Span and the permission flags (§7.3.19)', () => {
    const layout = eventLayout('E_PAGE_REQUEST');
    expect(reservedMasks(layout)[2]).toBe(0xfffn);
    expect(layout.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['Span', 'pR', 'pW', 'pX', 'uR', 'uW', 'uX']));
  });

  it('event codes are those of §7.3', () => {
    expect(Object.fromEntries(EVENT_TYPES.map((t) => [t.name, t.code]))).toEqual({
      F_UUT: 0x01, C_BAD_STREAMID: 0x02, F_STE_FETCH: 0x03, C_BAD_STE: 0x04, F_BAD_ATS_TREQ: 0x05, F_STREAM_DISABLED: 0x06,
      F_TRANSL_FORBIDDEN: 0x07, C_BAD_SUBSTREAMID: 0x08, F_CD_FETCH: 0x09, C_BAD_CD: 0x0a, F_WALK_EABT: 0x0b,
      F_TRANSLATION: 0x10, F_ADDR_SIZE: 0x11, F_ACCESS: 0x12, F_PERMISSION: 0x13, F_TLB_CONFLICT: 0x20,
      F_CFG_CONFLICT: 0x21, E_PAGE_REQUEST: 0x24, F_VMS_FETCH: 0x25,
    });
  });
});
