import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RamImage, SparseDump, parseSnapshotsJson } from '../../../src/trace/importers/snapshots.js';

const q = (v: number | bigint) => `0x${BigInt(v).toString(16).padStart(16, '0')}`;
const line = (pa: number, words: (number | bigint)[]) => `${pa.toString(16).padStart(16, '0')}: ${[...words, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 8).map(q).join(' ')}`;

describe('sparse dumps (mem-<snapshot>.txt)', () => {
  const dump = new SparseDump([
    '# region strtab.l1 base=0x1000 size=0x800',
    line(0x1000, [0x5b660009]),
    '# region cd@0x2000 base=0x2000 size=0x40',
    line(0x2000, [0x0001e204c0003510n, 0x430ec000, 0, 0xfffffffff404ff44n]),
    '',
  ].join('\n'), 'mem-x.txt');

  it('reads the qwords of a data line, little-endian qword k at PA + 8k', () => {
    expect(dump.qwords(0x2000n, 4)).toEqual([0x0001e204c0003510n, 0x430ec000n, 0n, 0xfffffffff404ff44n]);
    expect(dump.qwords(0x2008n, 1)).toEqual([0x430ec000n]);
  });
  it('inside a region, a missing 64-byte line is zero', () => {
    expect(dump.qwords(0x1040n, 2)).toEqual([0n, 0n]);
    expect(dump.qwords(0x17f8n, 1)).toEqual([0n]);
  });
  it('outside every region memory is unknown, also when only part of the range is covered', () => {
    expect(dump.qwords(0x1800n, 1)).toBeUndefined();
    expect(dump.qwords(0x2038n, 2)).toBeUndefined();
    expect(dump.qwords(0x0n, 1)).toBeUndefined();
  });
  it('refuses malformed lines with file and line', () => {
    expect(() => new SparseDump('# region a base=0x0 size=0x40\n0000000000000000: 0x1\n', 'm.txt')).toThrow('m.txt:2: not a region header or a data line');
    expect(() => new SparseDump(`# region a base=0x0 size=0x40\n${line(0x40, [1])}\n`, 'm.txt')).toThrow('m.txt:2: data line 0x40 is outside the region declared before it');
    expect(() => new SparseDump(`${line(0, [1])}\n`, 'm.txt')).toThrow('m.txt:1: data line 0x0 is outside the region');
  });
});

describe('RAM images (pmemsave)', () => {
  it('reads little-endian qwords at PA - base, and nothing outside [base, base + size)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-ram-'));
    const buf = Buffer.alloc(0x100);
    buf.writeBigUInt64LE(0x1122334455667788n, 0x40);
    buf.writeBigUInt64LE(0x99n, 0xf8);
    writeFileSync(join(dir, 'ram.bin'), buf);
    const ram = new RamImage(join(dir, 'ram.bin'), 0x4000_0000n, 0x100n);
    expect(ram.qwords(0x4000_0040n, 2)).toEqual([0x1122334455667788n, 0n]);
    expect(ram.qwords(0x4000_00f8n, 1)).toEqual([0x99n]);
    expect(ram.qwords(0x4000_00f8n, 2)).toBeUndefined();
    expect(ram.qwords(0x3fff_fff8n, 1)).toBeUndefined();
    // An image shorter than snapshots.json says (an interrupted pmemsave) covers only what it holds.
    const short = new RamImage(join(dir, 'ram.bin'), 0x4000_0000n, 0x1000n);
    expect(short.qwords(0x4000_0200n, 1)).toBeUndefined();
  });
});

describe('snapshots.json', () => {
  it('lists the snapshots in order with their log offsets and RAM images', () => {
    const s = parseSnapshotsJson(JSON.stringify({ snapshots: [
      { name: 'boot', trace_offset: 10, ram: { file: 'ram-boot.bin', base: 0x40000000, size: 4096 } },
      { name: 'final', trace_offset: 20 },
    ] }), 'snapshots.json');
    expect(s).toEqual([
      { name: 'boot', traceOffset: 10, ram: { file: 'ram-boot.bin', base: 0x40000000n, size: 4096n } },
      { name: 'final', traceOffset: 20, ram: undefined },
    ]);
  });
  it('refuses what it cannot use', () => {
    const p = (x: unknown) => () => parseSnapshotsJson(typeof x === 'string' ? x : JSON.stringify(x), 'snapshots.json');
    expect(p('{')).toThrow(/^snapshots\.json:1: not valid JSON/);
    expect(p({})).toThrow("snapshots.json:1: no 'snapshots' array");
    expect(p({ snapshots: [{ name: '../x', trace_offset: 1 }] })).toThrow("snapshots[0]: 'name' must be a plain file-name word");
    expect(p({ snapshots: [{ name: 'a', trace_offset: -1 }] })).toThrow("snapshots[0] (a): 'trace_offset' must be a byte offset");
    expect(p({ snapshots: [{ name: 'a', trace_offset: 5 }, { name: 'b', trace_offset: 4 }] })).toThrow("snapshots[1] (b): trace_offset 4 is before the previous snapshot's");
    expect(p({ snapshots: [{ name: 'a', trace_offset: 5 }, { name: 'a', trace_offset: 6 }] })).toThrow("snapshot name 'a' appears twice");
  });
});
