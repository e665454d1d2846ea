import { describe, expect, it } from '@jest/globals';
import { basicCd, makeEnv, TableBuilder, writeQwords, writeSte } from '../helpers/env.js';

describe('end-to-end stage-1 translation', () => {
  it('translates a 4K page through a four-level walk and hits the TLB the second time', () => {
    const env = makeEnv();
    // STE for SID 3 at STRTAB + 3*64 = 0x8000_00c0: V=1, Config=0b101 (S1), S1ContextPtr = 0x9000_0000.
    writeSte(env, 3, { V: 1, Config: 5, S1ContextPtr: 0x9000_0000n });
    // 4K granule, T0SZ=16 -> 48-bit VA, start level 0 (4 - floor(44/9) = 0).
    const tb = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
    writeQwords(env.mem, 0x9000_0000n, basicCd(tb.root));
    // VA 0x12_3456_7000 -> PA 0x4200_0000, AP=0b00 (EL1 RW).
    tb.map(0x12_3456_7000n, 0x4200_0000n);
    const r = env.dma({ sid: 3, addr: 0x12_3456_7abcn });
    expect(r).toEqual({ outcome: 'translated', pa: 0x4200_0abcn, detail: 'stage 1' });
    const again = env.dma({ sid: 3, addr: 0x12_3456_7010n, write: true });
    expect(again).toEqual({ outcome: 'translated', pa: 0x4200_0010n, detail: 'stage 1 (TLB hit)' });
    expect(env.rec.fetches).toEqual([3]);
  });

  it('records F_TRANSLATION for an unmapped VA with the full record', () => {
    const env = makeEnv();
    writeSte(env, 3, { V: 1, Config: 5, S1ContextPtr: 0x9000_0000n });
    const tb = TableBuilder.of(env.mem, 1, '4K', 48, 0, 0xa000_0000n);
    writeQwords(env.mem, 0x9000_0000n, basicCd(tb.root));
    const r = env.dma({ sid: 3, addr: 0x55_0000_0040n, write: true });
    expect(r.outcome).toBe('fault');
    expect(env.rec.events).toHaveLength(1);
    expect(env.rec.events[0]).toEqual({
      type: 'F_TRANSLATION', sid: 3,
      fields: { STAG: 0n, Stall: 0n, PnU: 1n, InD: 0n, RnW: 0n, S2: 0n, CLASS: 2n, InputAddr: 0x55_0000_0040n },
    });
    // The record is in queue memory at EVTQ slot 0 and EVENTQ_PROD moved to 1.
    expect(env.read('EVENTQ_PROD')).toBe(1n);
  });
});
