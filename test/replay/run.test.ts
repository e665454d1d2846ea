import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_PROFILE, profileByName } from '../../src/model/profiles.js';
import { profileFor, scanTrace } from '../../src/replay/run.js';
import { TraceError } from '../../src/trace/format.js';

const dir = mkdtempSync(join(tmpdir(), 'smmu-scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** `n` plain dma rows (20 bytes each: "dma,0x1,0x40001000,r" and an LF, 21). */
function dmaRows(n: number): string {
  return 'dma,0x1,0x40001000,r\n'.repeat(n);
}

describe('scanTrace', () => {
  it('finds the first meta,profile row with its line, and op rows, in a small trace', async () => {
    const p = file('small.csv', '# a comment\nmeta,kernel,6.1\n  "META" , profile , qemu-7.2\nmeta,profile,default\nop,probe\n');
    // Line 3 is the first profile row (spaced, quoted, upper case); line 4's second one is ignored.
    expect(await scanTrace(p)).toEqual({ hasOps: true, profile: { name: 'qemu-7.2', line: 3 } });
  });

  it('counts lines across the blocks it searches, and finds rows past them', async () => {
    // 60,000 rows of 21 bytes = 1,260,000 bytes: the profile row after them is many 64 KiB
    // blocks into the file; its line is 1 (comment) + 60,000 + 1 = 60,002.
    const p = file('long.csv', `# long\n${dmaRows(60_000)}meta,profile,qemu-10.0\n${dmaRows(10)}op,probe\n`);
    expect(await scanTrace(p)).toEqual({ hasOps: true, profile: { name: 'qemu-10.0', line: 60_002 } });
  });

  it('reads gzip files, CRLF line ends, and a last line without an LF', async () => {
    const text = 'meta,source,test\r\ndma,0x1,0x40001000,r\r\nmeta,profile,qemu-7.2';
    const p = file('t.csv.gz', gzipSync(Buffer.from(text)));
    expect(await scanTrace(p)).toEqual({ hasOps: false, profile: { name: 'qemu-7.2', line: 3 } });
  });

  it('does not take a cell that merely contains "op" or "profile" for a declaration', async () => {
    const p = file('nodecl.csv', 'meta,note,op,x\nmeta,comment,meta,profile,qemu-7.2\ndma,0x1,0x40001000,r\n# op,probe\n');
    expect(await scanTrace(p)).toEqual({ hasOps: false, profile: undefined });
  });

  it('reads past long lines, sees a declaration at the start of one, and stops at a line the parser refuses', async () => {
    // Line 1: 900,000 letters (many 64 KiB blocks, under the parser's 1,048,576-character limit);
    // lines 2 and 3 are the declarations.
    const p = file('longline.csv', `${'a'.repeat(900_000)}\nop,probe\nmeta,profile,qemu-7.2\n`);
    expect(await scanTrace(p)).toEqual({ hasOps: true, profile: { name: 'qemu-7.2', line: 3 } });
    // A profile row followed by 900,000 characters on the same line: its start is enough.
    const q = file('longdecl.csv', `meta,profile,qemu-10.0,${'x'.repeat(900_000)}`);
    expect(await scanTrace(q)).toEqual({ hasOps: false, profile: { name: 'qemu-10.0', line: 1 } });
    // Line 1 over the limit: the scan stops there (the parse refuses the file at line 1), so the
    // declarations after it are not seen.
    const r = file('toolong.csv', `${'a'.repeat(1_200_000)}\nop,probe\nmeta,profile,qemu-7.2\n`);
    expect(await scanTrace(r)).toEqual({ hasOps: false, profile: undefined });
  });

  it('declares nothing for a missing file (the parse reports it)', async () => {
    expect(await scanTrace(join(dir, 'missing.csv'))).toEqual({ hasOps: false, profile: undefined });
  });
});

describe('profileFor', () => {
  it('prefers the asked profile, then the declared one, then default', () => {
    const decl = { hasOps: false, profile: { name: 'qemu-7.2', line: 4 } };
    expect(profileFor(decl, 't.csv', profileByName('qemu-10.0'))).toBe(profileByName('qemu-10.0'));
    expect(profileFor(decl, 't.csv', undefined)).toBe(profileByName('qemu-7.2'));
    expect(profileFor({ hasOps: false, profile: undefined }, 't.csv', undefined)).toBe(DEFAULT_PROFILE);
  });

  it('refuses an unknown declared profile, naming its line', () => {
    const decl = { hasOps: false, profile: { name: 'qemu-1.0', line: 7 } };
    expect(() => profileFor(decl, 't.csv', undefined)).toThrow(TraceError);
    expect(() => profileFor(decl, 't.csv', undefined)).toThrow(/t\.csv:7.*unknown profile 'qemu-1\.0'/);
  });
});
