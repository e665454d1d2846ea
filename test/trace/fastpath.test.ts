/**
 * The parser's fast path (plain dma, mem_write, mmio_write, mmio_read and cmd
 * rows) against the general path, on random cells around every rule: where
 * the fast path gives a row, the general path gives an equal one; where the
 * general path refuses the row, the fast path gives nothing (so the general
 * path words the error).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Row } from '../../src/trace/format.js';
import { parseDmaLineFast, parseRow, parseRowFast, parseRowGeneral } from '../../src/trace/parse.js';

const num = fc.oneof(
  fc.constantFrom('0', '1', '2', '4', '8', '3', '16', '4096', '4097', '08', '0x0', '0x1', '0xff', '0x100', '0xffff', '0xf_ffff', '0x10_0000',
    '0xffffffff', '0x100000000', '0xffff_ffff_ffff_ffff', '0xffffffffffffffff', '0x10000000000000000', '0xfffffffffffffffc',
    '18446744073709551615', '18446744073709551616', '123456789012345', '1234567890123456', '-1', '', 'zz', '0x', '0X1F', '1e3', ' 7', '+1', '0b1'),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => `0x${v.toString(16)}`),
  fc.integer({ min: 0, max: 70000 }).map(String),
);
const expectArb = fc.oneof(
  fc.constantFrom('abort', 'bypass', 'fault:F_TRANSLATION', 'fault:C_BAD_STE', 'fault:F_BOGUS', 'maybe', 'pa:', 'ABORT'),
  num.map((n) => `pa:${n}`),
);
const keyCell = (keys: readonly string[]) => fc.oneof(
  fc.tuple(fc.constantFrom(...keys), num).map(([k, v]) => `${k}=${v}`),
  fc.constantFrom('bogus=1', 'SIZE=4', 'size =4', '=4', '1x=2', ''),
);

const dma = fc.tuple(
  fc.constantFrom('dma', 'dma', 'dma', 'DMA'), num, num, fc.constantFrom('r', 'w', 'x', '-', 'R', 'W', 'q', ''),
  fc.array(fc.oneof(keyCell(['ssid', 'size', 'priv', 'data']), expectArb.map((e) => `expect=${e}`)), { maxLength: 4 }),
).map(([k, s, a, acc, keys]) => [k, s, a, acc, ...keys]);
const memWrite = fc.tuple(fc.constantFrom('mem_write', 'Mem_Write'), num, num, fc.array(keyCell(['size']), { maxLength: 2 }))
  .map(([k, a, v, keys]) => [k, a, v, ...keys]);
const reg = fc.constantFrom('CR0', 'cr0', 'STRTAB_BASE', 'CMDQ_PROD', 'EVENTQ_CONS', 'GERRORN', 'IDR0', '0x20', '0x84', 'BOGUS');
const mmioWrite = fc.tuple(fc.constantFrom('mmio_write'), reg, num, fc.array(keyCell(['size']), { maxLength: 1 }))
  .map(([k, r, v, keys]) => [k, r, v, ...keys]);
const mmioRead = fc.tuple(fc.constantFrom('mmio_read'), reg, fc.array(keyCell(['expect', 'size']), { maxLength: 2 }))
  .map(([k, r, keys]) => [k, r, ...keys]);
const cmd = fc.tuple(
  fc.constantFrom('cmd'), fc.constantFrom('CFGI_STE', 'cfgi_ste', 'CMD_SYNC', 'SYNC', 'TLBI_NH_VA', 'TLBI_S2_IPA', 'CFGI_ALL', 'RAW', 'BOGUS'),
  fc.array(keyCell(['sid', 'leaf', 'asid', 'vmid', 'addr', 'cs', 'msiaddr', 'tg', 'num', 'scale', 'ttl', 'dw0']), { maxLength: 4 }),
).map(([k, n, keys]) => [k, n, ...keys]);
// Sometimes a trailing comma (an empty last cell).
const cellsArb = fc.tuple(fc.oneof(dma, memWrite, mmioWrite, mmioRead, cmd), fc.boolean())
  .map(([c, trailing]) => (trailing ? [...c, ''] : c));

describe('fast path = general path (fast-check, fixed seed)', () => {
  it('equal rows where the fast path answers; no answer where the general path refuses', () => {
    let fastRows = 0;
    let refused = 0;
    fc.assert(fc.property(cellsArb, (cells) => {
      let general: Row | Error;
      try {
        general = parseRowGeneral('t.csv', 7, cells);
      } catch (e) {
        general = e as Error;
      }
      const fast = parseRowFast(7, cells);
      if (general instanceof Error) {
        refused++;
        expect(fast).toBeUndefined();
      } else if (fast) {
        fastRows++;
        expect(fast).toStrictEqual(general);
      }
      // parseRow is the fast path with the general path behind it.
      if (general instanceof Error) expect(() => parseRow('t.csv', 7, cells)).toThrow(general.message);
      else expect(parseRow('t.csv', 7, cells)).toStrictEqual(general);
    }), { seed: 0xfa57, numRuns: 3000 });
    // Not vacuous: both sides of the property were exercised many times.
    // (With this seed: 544 fast rows, 2192 refused.)
    expect(fastRows).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(1000);
  });
  it('whole dma lines: the line parser gives the row of the general path, or nothing', () => {
    let taken = 0;
    const lineArb = fc.tuple(
      fc.constantFrom('dma', 'dma', 'DMA', ' dma'), fc.oneof(num, fc.constant('0x10')), num,
      fc.constantFrom('r', 'w', 'x', '-', 'R', 'q', 'rw', ''), fc.constantFrom('', '', '', ',', ',size=8', ' ', ',expect=abort'),
    ).map(([k, s, a, acc, tail]) => `${k},${s},${a},${acc}${tail}`);
    fc.assert(fc.property(lineArb, (text) => {
      const cells = text.split(',').map((c) => c.trim());
      let general: Row | Error;
      try {
        general = parseRowGeneral('t.csv', 3, cells);
      } catch (e) {
        general = e as Error;
      }
      const fast = parseDmaLineFast(3, text);
      if (fast === undefined) return;
      taken++;
      expect(fast).toStrictEqual(general);
    }), { seed: 0xd3a, numRuns: 3000 });
    // (With this seed the line parser took 268 of the 3000 lines; the rest were the general path's.)
    expect(taken).toBeGreaterThan(200);
  });
  it('takes the rows of a large capture: plain dma, mem_write, mmio and cmd rows', () => {
    for (const text of [
      'dma,0x10,0x1000_0010,r', 'dma,0x10,0x10000010,w,size=8,data=0x1122334455667788', 'dma,0x10,0x10000010,r,ssid=3,expect=pa:0x42000010',
      'mem_write,0x80000400,0x000000009000000b', 'mem_write,0x80000400,0xb,size=4', 'mmio_write,CMDQ_PROD,0x3', 'mmio_read,CMDQ_CONS,expect=3',
      'cmd,CFGI_STE,sid=0x10,leaf=1', 'cmd,CMD_SYNC',
    ]) {
      const cells = text.split(',');
      expect({ text, fast: parseRowFast(1, cells) !== undefined }).toEqual({ text, fast: !text.includes('_0010') });
    }
  });
});
