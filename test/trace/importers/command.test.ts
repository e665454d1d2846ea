import { describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { TraceError } from '../../../src/trace/format.js';
import { gunzipOrLocate } from '../../../src/trace/importers/command.js';

describe('gunzipOrLocate', () => {
  it('gunzips a whole stream', () => {
    expect(gunzipOrLocate(gzipSync(Buffer.from('a\nb\n')), 'cap/trace.log.gz').toString()).toBe('a\nb\n');
  });

  it('names the line where a cut stream breaks off', () => {
    // 3 whole lines, then the stream is cut short: the error is at line 4.
    const gz = gzipSync(Buffer.from('one\ntwo\nthree\nfour and more text to come\n'.repeat(50)));
    const e = (() => { try { gunzipOrLocate(gz.subarray(0, gz.length - 12), 'cap/trace.log.gz'); } catch (x) { return x; } return undefined; })();
    expect(e).toBeInstanceOf(TraceError);
    expect((e as TraceError).message).toMatch(/^cap\/trace\.log\.gz:\d+: the gzip stream breaks off after \d+ bytes of text/);
  });

  it('refuses more than its limit after gunzip (a decompression bomb), with what to do', () => {
    // 2 MiB of zeros compress to about 2 KiB; with a 1 MiB limit, gunzip stops at the limit.
    const bomb = gzipSync(Buffer.alloc(2 << 20), { level: 9 });
    expect(bomb.length).toBeLessThan(4096);
    expect(() => gunzipOrLocate(bomb, 'cap/trace.log.gz', 1 << 20)).toThrow(
      'cap/trace.log.gz:1: more than 1 MiB (after gunzip): the importer reads each capture file whole; record a shorter run, or split the log at a snapshot point');
  });
});
