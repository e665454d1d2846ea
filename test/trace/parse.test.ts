import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TraceError, type Row } from '../../src/trace/format.js';
import { parseNumber, parseRow, parseTraceText, readTrace } from '../../src/trace/parse.js';

const row = (text: string, line = 1): Row => parseRow('t.csv', line, text.split(','));

function err(text: string): TraceError {
  try {
    row(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error(`no error for: ${text}`);
}

async function collect(path: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of readTrace(path)) rows.push(r);
  return rows;
}

async function collectError(path: string): Promise<Error> {
  try {
    await collect(path);
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error');
}

const dir = mkdtempSync(join(tmpdir(), 'smmu-parse-'));
function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('numbers', () => {
  it('reads decimal, hex and underscored hex', () => {
    expect(parseNumber('4096')).toBe(4096n);
    expect(parseNumber('0x4000_0000')).toBe(0x4000_0000n);
    expect(parseNumber('0XfFfF')).toBe(0xffffn);
    // 2^64 - 1 is the largest value: 0xffff_ffff_ffff_ffff
    expect(parseNumber('0xffff_ffff_ffff_ffff')).toBe((1n << 64n) - 1n);
    expect(parseNumber('18446744073709551615')).toBe((1n << 64n) - 1n);
  });
  it('refuses values above 2^64-1, negatives, junk and misplaced underscores', () => {
    expect(parseNumber('0x1_0000_0000_0000_0000')).toMatch(/above 2\^64-1/);
    expect(parseNumber('18446744073709551616')).toMatch(/above 2\^64-1/);
    expect(parseNumber('-1')).toMatch(/negative/);
    expect(parseNumber('12abc')).toMatch(/not a number/);
    expect(parseNumber('0x_10')).toMatch(/not a number/);
    expect(parseNumber('1_000')).toMatch(/not a number/);
    expect(parseNumber('')).toMatch(/not a number/);
  });
});

describe('rows of every kind', () => {
  it('mmio_write by name (64-bit written whole), by offset, and size=4 halves', () => {
    const a = row('mmio_write,STRTAB_BASE,0x8000_0000');
    expect(a).toMatchObject({ kind: 'mmio_write', offset: 0x80, size: 8, value: 0x8000_0000n });
    const b = row('mmio_write,cr0,0xd');
    expect(b).toMatchObject({ kind: 'mmio_write', offset: 0x20, size: 4, value: 0xdn });
    // 0x84 is the upper half of STRTAB_BASE: a 32-bit access to it is allowed (IHI0070 §6.2)
    const c = row('mmio_write,0x84,0x1');
    expect(c).toMatchObject({ kind: 'mmio_write', offset: 0x84, size: 4, reg: undefined });
    // Page 1: EVENTQ_CONS at 0x10000 + 0xac
    expect(row('mmio_write,EVENTQ_CONS,3')).toMatchObject({ offset: 0x100ac, size: 4 });
  });
  it('mmio_read with expect', () => {
    expect(row('mmio_read,CMDQ_CONS,expect=0x0100_0001')).toMatchObject({ kind: 'mmio_read', offset: 0x9c, expect: 0x0100_0001n });
    expect(row('mmio_read,GERROR')).toMatchObject({ kind: 'mmio_read', expect: undefined });
  });
  it('mem_write with sizes, mem_abort', () => {
    expect(row('mem_write,0x1000,0x1122334455667788')).toMatchObject({ kind: 'mem_write', addr: 0x1000n, size: 8 });
    expect(row('mem_write,0x1000,0xff,size=1')).toMatchObject({ size: 1, value: 0xffn });
    expect(row('mem_abort,0xa000_4000,4096')).toMatchObject({ kind: 'mem_abort', addr: 0xa000_4000n, size: 4096n });
  });
  it('mem_read with and without expect, sizes like mem_write', () => {
    expect(row('mem_read,0x8200_0008,expect=0x0000000800000000')).toEqual({ kind: 'mem_read', line: 1, addr: 0x8200_0008n, size: 8, expect: 0x8_0000_0000n });
    expect(row('mem_read,0x8200_0008,size=2')).toEqual({ kind: 'mem_read', line: 1, addr: 0x8200_0008n, size: 2, expect: undefined });
  });
  it('cmd by name with and without CMD_, fields by key, RAW', () => {
    const c = row('cmd,CFGI_STE,sid=0x10,leaf=1');
    expect(c.kind === 'cmd' && c.def?.name).toBe('CFGI_STE');
    expect(c.kind === 'cmd' && c.fields).toEqual({ sid: 0x10n, leaf: 1n });
    const s = row('cmd,cmd_sync,cs=1');
    expect(s.kind === 'cmd' && s.def?.name).toBe('CMD_SYNC');
    const r = row('cmd,RAW,dw0=0x46,dw1=0');
    expect(r).toMatchObject({ kind: 'cmd', def: undefined, raw: [0x46n, 0n] });
  });
  it('dma with every key', () => {
    const d = row('dma,0x10,0x1000_0ffc,w,size=8,priv=0,ssid=3,data=0x1122334455667788,expect=pa:0x4200_0ffc');
    expect(d).toMatchObject({
      kind: 'dma', sid: 0x10, addr: 0x1000_0ffcn, access: 'w', size: 8, priv: false, ssid: 3,
      data: 0x1122334455667788n, expect: { kind: 'pa', pa: 0x4200_0ffcn },
    });
    expect(row('dma,1,0x0,r')).toMatchObject({ size: 4, priv: true, ssid: undefined, expect: undefined });
    expect(row('dma,1,0x0,-,expect=bypass')).toMatchObject({ access: '-', expect: { kind: 'bypass' } });
    expect(row('dma,1,0x0,x,expect=fault:F_PERMISSION')).toMatchObject({ access: 'x', expect: { kind: 'fault', event: 'F_PERMISSION' } });
    expect(row('dma,1,0x0,r,expect=abort')).toMatchObject({ expect: { kind: 'abort' } });
  });
  it('op keeps its raw arguments and their columns; meta keeps key and value', () => {
    expect(row('op,attach,sid=1|2,domain=d1')).toMatchObject({ kind: 'op', name: 'attach', args: { sid: '1|2', domain: 'd1' }, argColumns: { sid: 3, domain: 4 } });
    expect(row('meta,kernel,6.1.0')).toMatchObject({ kind: 'meta', key: 'kernel', value: '6.1.0' });
  });
  it('keys are case-insensitive; a trailing comma is allowed', () => {
    expect(row('dma,1,0x10,R,EXPECT=abort,')).toMatchObject({ access: 'r', expect: { kind: 'abort' } });
  });
});

describe('every error names file, line and (where it helps) column', () => {
  const cases: [string, RegExp, number | undefined][] = [
    ['bogus,1,2', /unknown row kind 'bogus'/, 1],
    ['mmio_write,NOT_A_REG,1', /unknown register 'NOT_A_REG'/, 2],
    ['mmio_write,0x20000,1', /outside the 128 KiB SMMU frame/, 2],
    ['mmio_write,0x22,1', /not 4-byte aligned/, 2],
    ['mmio_write,CR0,0x1_0000_0000', /above the maximum 0xffffffff/, 3],
    ['mmio_write,CR0,1,size=8', /32-bit register; size=8 is not permitted/, 4],
    ['mmio_write,CR0', /takes 2 positional fields \(register, value\), found 1/, undefined],
    ['mmio_write,CR0,1,2', /found 3/, undefined],
    ['mmio_write,CR0,1,bogus=2', /unknown key 'bogus' for mmio_write \(known: size\)/, 4],
    ['mmio_read,CR0,expect=-1', /negative/, 3],
    ['mem_write,0x1000,0x100,size=1', /above the maximum 0xff/, 3],
    ['mem_write,0x1000,1,size=3', /size must be 1, 2, 4 or 8/, 4],
    ['mem_write,0xffff_ffff_ffff_fffc,1', /above the maximum/, 2],
    ['mem_abort,0x1000,0', /size must be at least 1/, 3],
    ['mem_read,0x1000,size=4,expect=0x1_0000_0000', /expect: 0x100000000 is above the maximum 0xffffffff/, 4],
    ['mem_read,0x1000,size=16', /size must be 1, 2, 4 or 8/, 3],
    ['mem_read,0x1000,0x5', /mem_read takes 1 positional field \(address\), found 2/, undefined],
    ['cmd,CFGI_BOGUS', /unknown command 'CFGI_BOGUS'/, 2],
    ['cmd,CFGI_STE,asid=1', /unknown key 'asid' for cmd \(known: ssec, sid, leaf\)/, 3],
    ['cmd,CFGI_STE,sid=0x1_0000_0000', /sid: 0x100000000 is above the maximum 0xffffffff/, 3],
    ['cmd,TLBI_NH_VA,asid=0x1_0000', /asid: 0x10000 is above the maximum 0xffff/, 3],
    ['dma,1,0x1000,q', /access must be r, w, x or -/, 4],
    ['dma,1,0x1000,r,data=5', /data= is only meaningful on a write/, 5],
    ['dma,1,0x1000,w,size=16,data=5', /data= needs size of at most 8/, 6],
    ['dma,1,0x1000,r,priv=2', /priv must be 0 or 1/, 5],
    ['dma,1,0x1000,r,expect=fault:F_BOGUS', /unknown event 'F_BOGUS'/, 5],
    ['dma,1,0x1000,r,expect=maybe', /expect must be pa:<address>, bypass, abort or fault:<EVENT>/, 5],
    ['dma,1,0x1000,r,ssid=0x10_0000', /above the maximum 0xfffff/, 5],
    ['dma,1,0xffff_ffff_ffff_fffe,r', /runs past the end of the 64-bit address space/, 3],
    ['dma,1,0x1000,r,size=4,size=8', /key 'size' given twice/, 6],
    ['dma,1,size=4,0x1000,r', /positional field '0x1000' after key=value options/, 4],
    ['meta,onlykey', /meta takes 2 positional fields/, undefined],
  ];
  for (const [text, re, col] of cases) {
    it(text, () => {
      const e = err(text);
      expect(e.problem).toMatch(re);
      expect(e.file).toBe('t.csv');
      expect(e.line).toBe(1);
      expect(e.column).toBe(col);
      expect(e.message.startsWith(`t.csv:1${col !== undefined ? `:${col}` : ''}: `)).toBe(true);
    });
  }
});

describe('a cell of any length is quoted in one short line', () => {
  it('a quoted cell over 64 characters is shown by its first 60 and its length', () => {
    // 'b' x 100 as the row kind: the message keeps 60 of them, then "...' (100 characters)".
    const e = err(`${'b'.repeat(100)},1,2`);
    expect(e.problem).toBe(`unknown row kind '${'b'.repeat(60)}...' (100 characters) (expected one of mmio_write, mmio_read, mem_write, mem_read, mem_abort, cmd, dma, op, meta)`);
    expect(e.message).toBe(`t.csv:1:1: ${e.problem}`);
  });

  it('a cell of 64 characters or fewer is quoted whole', () => {
    const e = err(`mmio_write,${'R'.repeat(64)},1`);
    expect(e.problem).toBe(`unknown register '${'R'.repeat(64)}' (a spec name such as CR0 or STRTAB_BASE, or a byte offset)`);
  });
});

describe('line length', () => {
  it('a line over 1,048,576 characters is refused at its line', async () => {
    // Line 1 is a good row; line 2 is 1,048,577 letters (one over the limit) and never ends.
    const e = await parseTraceText(`mem_write,0x1000,1\n${'q'.repeat(1_048_577)}`, 't.csv').then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(TraceError);
    expect((e as TraceError).message).toBe('t.csv:2: the line is longer than 1048576 characters (a trace row has at most a few hundred): not a trace, or a file without line ends?');
  });
});

describe('files', () => {
  it('counts comment and blank lines, accepts CRLF, a BOM and indented comments', async () => {
    // line 1 comment (after a BOM), 2 blank, 3 row, 4 an indented comment, 5 row
    const p = file('crlf.csv', '\ufeff# a comment\r\n\r\nmmio_write,CR0,0xd\r\n   # indented\r\ndma,1,0x10,r\r\n');
    const rows = await collect(p);
    expect(rows.map((r) => [r.kind, r.line])).toEqual([['mmio_write', 3], ['dma', 5]]);
  });
  it('a # inside a row is not a comment', async () => {
    const e = await collectError(file('hash.csv', 'mmio_write,CR0,0xd # enable\n'));
    expect(e.message).toMatch(/hash\.csv:1:3: value: '0xd # enable' is not a number/);
  });
  it('reads gzip traces and reports a truncated one', async () => {
    const text = '# gz\nmmio_write,CR0,0xd\n' + 'dma,1,0x10,r\n'.repeat(2000);
    const gz = gzipSync(Buffer.from(text));
    const rows = await collect(file('ok.csv.gz', gz));
    expect(rows).toHaveLength(2001);
    const cut = file('cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2)));
    const e = await collectError(cut);
    expect(e).toBeInstanceOf(TraceError);
    expect(e.message).toMatch(/cut\.csv\.gz:\d+: the gzip stream is truncated/);
  });
  it('refuses binary junk with its line', async () => {
    const e = await collectError(file('bin.csv', Buffer.from([0x6d, 0x65, 0x74, 0x61, 0x2c, 0x01, 0x02, 0x2c, 0x33, 0x0a])));
    expect(e.message).toMatch(/bin\.csv:1:2: binary or non-UTF-8 data/);
  });
  it('an empty file, or one of comments only, is an error (a failed capture); a missing file is an error naming it', async () => {
    expect((await collectError(file('empty.csv', ''))).message).toMatch(/empty\.csv:1: the file is empty: a trace needs at least one row$/);
    expect((await collectError(file('comments.csv', '# only\n\n'))).message).toMatch(/comments\.csv:1: the trace has no rows \(only comments and blank lines\)$/);
    const e = await collectError(join(dir, 'nope.csv'));
    expect(e.message).toMatch(/nope\.csv: no such file/);
  });
  it('a truncated last line without a newline still parses', async () => {
    const rows = await collect(file('trunc.csv', 'mmio_write,CR0,0xd\ndma,1,0x10,r'));
    expect(rows.map((r) => r.line)).toEqual([1, 2]);
  });
  it('an unterminated quote is a located CSV error', async () => {
    const e = await collectError(file('quote.csv', 'mmio_write,CR0,0xd\nmeta,"open,1\n'));
    expect(e).toBeInstanceOf(TraceError);
    expect(e.message).toMatch(/quote\.csv:\d+: CSV syntax/);
  });
  it('parseTraceText gives the same rows as the streaming reader', async () => {
    const text = '# x\nmmio_write,CR0,0xd\n\ndma,1,0x10,r,expect=abort\n';
    const a = await parseTraceText(text, 'x.csv');
    const b = await collect(file('x.csv', text));
    expect(a).toEqual(b);
  });
});
