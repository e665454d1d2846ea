/**
 * Rows packed for the parse thread come back as the same Row objects
 * (fast-check, fixed seed): every row kind, every field, the extremes of
 * each (a DMA size of 2^32, StreamID 2^32 - 1, 64-bit values), and plain dma
 * lines packed straight from their text.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseDmaLineFast, parseTraceTextSync } from '../../src/trace/parse.js';
import { PackedCollector, packRows, unpackRows } from '../../src/trace/rowCodec.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((v) => `0x${v.toString(16)}`);
const rowText = fc.oneof(
  fc.record({
    sid: fc.constantFrom('0', '0x10', '0xffffffff'), addr: fc.constantFrom('0', '0x1000', '0xffff_ffff_0000_0000'),
    access: fc.constantFrom('r', 'w', 'x', '-'),
    ssid: fc.constantFrom(undefined, 'ssid=0', 'ssid=0xfffff'), size: fc.constantFrom(undefined, 'size=1', 'size=0x100000000'), priv: fc.constantFrom(undefined, 'priv=0'),
    expect: fc.constantFrom(undefined, 'expect=abort', 'expect=bypass', 'expect=pa:0xffffffffffffffff', 'expect=fault:C_BAD_STE', 'expect=fault:F_PERMISSION'),
  }).map((d) => {
    // A size of 2^32 keeps the access inside the 64-bit space only for the small addresses.
    const size = d.size === 'size=0x100000000' && d.addr.startsWith('0xffff') ? undefined : d.size;
    return ['dma', d.sid, d.addr, d.access, d.ssid, size, d.priv, d.expect].filter((x) => x !== undefined).join(',');
  }),
  fc.tuple(u64, fc.constantFrom('1', '2', '4', '8')).map(([a, size]) => `mem_write,${a === '0xffffffffffffffff' ? '0x0' : a},0x1,size=${size}`),
  fc.tuple(fc.constantFrom('CR0', 'STRTAB_BASE', '0x84', '0x10000'), fc.constantFrom('0x0', '0xffffffff')).map(([r, v]) => `mmio_write,${r},${v}`),
  fc.tuple(fc.constantFrom('CMDQ_CONS', 'STRTAB_BASE', '0x84'), fc.boolean()).map(([r, e]) => `mmio_read,${r}${e ? ',expect=0x1' : ''}`),
  fc.constantFrom('cmd,CFGI_STE,sid=0x10,leaf=1', 'cmd,CMD_SYNC', 'cmd,RAW,dw0=0x46,dw1=0', 'op,map,domain=d,iova=0x1000,pa=0x2000,size=0x1000',
    'meta,kernel,6.1', 'mem_abort,0x1000,0x10'),
);

describe('packed rows', () => {
  it('unpack to the rows that were packed', () => {
    fc.assert(fc.property(fc.array(rowText, { minLength: 1, maxLength: 30 }), (lines) => {
      const rows = parseTraceTextSync(lines.join('\n'), 'p.csv');
      expect(unpackRows(packRows(rows))).toStrictEqual(rows);
    }), { seed: 0xc0dec, numRuns: 300 });
  });
  it('dma lines packed from their text unpack to the row the parser makes of them', () => {
    const c = new PackedCollector(2);
    const lines = ['dma,0x10,0x1000,r', 'dma,16,4096,W', 'dma,0xffffffff,0xfffffffffffffffb,-', 'dma,1,2,x'];
    lines.forEach((l, i) => expect(c.addDmaLine(i + 1, l)).toBe(true));
    expect(c.addDmaLine(9, 'dma,1,0x1000,r,size=8')).toBe(false);
    expect(unpackRows(c.take())).toStrictEqual(lines.map((l, i) => parseDmaLineFast(i + 1, l)));
  });
});
