import { describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeAtomically } from '../../src/report/golden.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { ALL_LINES, EVTQ_WORDS, dumpText, memory, ramImage } from '../trace/importers/capture.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'smmu-cli-'));
}

describe('usage', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await runCli(['--help'], ROOT);
    expect(r.code).toBe(0);
    for (const c of ['replay', 'check', 'decode', 'encode']) expect(r.out).toContain(c);
  });
  it('no command, an unknown command or an unknown option exits 2 with a message', async () => {
    expect((await runCli([], ROOT)).code).toBe(2);
    const a = await runCli(['frobnicate'], ROOT);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/smmu-replay: /);
    const b = await runCli(['replay', 'traces/s1-translate.csv', '--bogus'], ROOT);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/Unknown argument/i);
  });
});

describe('replay', () => {
  it('--json summarises streams, commands, faults, DMA outcomes and checks', async () => {
    const r = await runCli(['replay', 'traces/s1-translate.csv', '--json'], ROOT);
    expect(r.code).toBe(0);
    const [s] = JSON.parse(r.out);
    expect(s).toMatchObject({
      trace: 'traces/s1-translate.csv', variant: 'hw', profile: 'default', caching: 'max',
      ste: { store: 1, cfgi: 1, fetch: 1 },
      commands: { CFGI_STE: 1, CMD_SYNC: 1 },
      faults: { F_PERMISSION: 3, F_TRANSLATION: 1 },
      // 9 dma rows, one split in two pieces -> 10 transactions
      dma: { translated: 6, fault: 4 },
      hazards: 0,
      checks: { matched: 10, explained: 0, mismatched: 0 },
    });
    expect(s.rows).toEqual({ ste: 3, faults: 4, dma: 10 });
  });
  it('--out writes one file per stream under <out>/<trace-stem>/', async () => {
    const d = tmp();
    const r = await runCli(['replay', join(ROOT, 'traces/stale-ste.csv'), '--out', d], d);
    expect(r.code).toBe(0);
    expect(readdirSync(join(d, 'stale-ste')).sort()).toEqual(['hw.dma.csv', 'hw.faults.csv', 'hw.ste.csv']);
    expect(readFileSync(join(d, 'stale-ste', 'hw.ste.csv'), 'utf8')).toBe(readFileSync(join(ROOT, 'golden/stale-ste/hw.ste.csv'), 'utf8'));
  });
  it('a malformed trace exits 2 with file:line and writes nothing', async () => {
    const d = tmp();
    writeFileSync(join(d, 'good.csv'), 'mmio_write,CR0,0xd\n');
    writeFileSync(join(d, 'bad.csv'), '# header\nmmio_write,CR0,0xd\ndma,1,0x1000,q\n');
    const r = await runCli(['replay', 'good.csv', 'bad.csv', '--out', 'out'], d);
    expect(r.code).toBe(2);
    expect(r.err).toBe("smmu-replay: bad.csv:3:4: access must be r, w, x or -, not 'q'\n");
    expect(existsSync(join(d, 'out'))).toBe(false);
  });
  it('a failed expectation makes replay exit 1 and prints the counts', async () => {
    const d = tmp();
    writeFileSync(join(d, 't.csv'), 'dma,1,0x1000,r,expect=abort\ndma,1,0x1000,r,expect=bypass\n');
    const r = await runCli(['replay', 't.csv'], d);
    expect(r.code).toBe(1);
    expect(r.out).toContain('1 matched, 0 explained, 1 mismatched');
  });
  it('a missing file is exit 2', async () => {
    const r = await runCli(['replay', 'nope.csv'], tmp());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope\.csv: no such file/);
  });
});

describe('check', () => {
  // Replays every bundled trace under every variant, the imported capture's thousands of rows included: seconds on a loaded machine, so not the default 5 s.
  it('every bundled trace matches its golden files', async () => {
    const r = await runCli(['check'], ROOT);
    expect(r.out).toMatch(/0 differences\n$/);
    expect(r.code).toBe(0);
  }, 60_000);
  it('missing goldens are a difference; --update writes them; a changed golden shows a unified diff', async () => {
    const d = tmp();
    mkdirSync(join(d, 'traces'));
    cpSync(join(ROOT, 'traces/stale-ste.csv'), join(d, 'traces/stale-ste.csv'));
    const first = await runCli(['check'], d);
    expect(first.code).toBe(1);
    expect(first.out).toContain('MISSING traces/stale-ste.csv [hw] ste');
    const upd = await runCli(['check', '--update'], d);
    expect(upd.code).toBe(0);
    expect(upd.out).toContain('updated golden/stale-ste/hw.ste.csv');
    expect(upd.out).toContain('3 golden files changed, 0 unchanged');
    expect((await runCli(['check'], d)).code).toBe(0);
    // A reviewer's golden says the fifth DMA bypasses: the diff shows the real abort.
    const g = join(d, 'golden/stale-ste/hw.dma.csv');
    writeFileSync(g, readFileSync(g, 'utf8').replace(/(\n39,0x5,,0x0000000040000000,r,)abort,,STE.Config=abort/, '$1bypass,0x0000000040000000,STE.Config=bypass'));
    const diff = await runCli(['check'], d);
    expect(diff.code).toBe(1);
    expect(diff.out).toContain('DIFF traces/stale-ste.csv [hw] dma (golden golden/stale-ste/hw.dma.csv)');
    expect(diff.out).toContain('--- a/golden/stale-ste/hw.dma.csv');
    expect(diff.out).toContain('-39,0x5,,0x0000000040000000,r,bypass,0x0000000040000000,STE.Config=bypass');
    expect(diff.out).toContain('+39,0x5,,0x0000000040000000,r,abort,,STE.Config=abort');
    expect(diff.out).toContain('reproduce: smmu-replay replay traces/stale-ste.csv --variant hw');
  });
  it('with no traces to check, exit 2', async () => {
    const r = await runCli(['check'], tmp());
    expect(r.code).toBe(2);
  });
});

describe('a trace that declares its profile (meta,profile)', () => {
  it('is replayed with it unless --profile says otherwise; an unknown one is a located error', async () => {
    const d = tmp();
    writeFileSync(join(d, 't.csv'), '# qemu\nmeta,profile,qemu-7.2\nmmio_read,IDR0,expect=0x0d40101a\n');
    const declared = await runCli(['replay', 't.csv'], d);
    expect([declared.code, declared.out.split('\n')[0]]).toEqual([0, '== t.csv [hw] profile=qemu-7.2 caching=max']);
    expect(declared.out).toContain('1 matched, 0 explained, 0 mismatched');
    const asked = await runCli(['replay', 't.csv', '--profile', 'default'], d);
    expect(asked.code).toBe(1);
    expect(asked.out).toContain('IDR0: expected 0xd40101a, read 0xd4c7e1b');
    writeFileSync(join(d, 'u.csv'), '# x\n\nmeta,profile,qemu-9.9\n');
    const unknown = await runCli(['replay', 'u.csv'], d);
    expect([unknown.code, unknown.err]).toEqual([2, "smmu-replay: u.csv:3: meta,profile: unknown profile 'qemu-9.9' (known: default, qemu-7.2, qemu-10.0)\n"]);
  });
});

describe('import qemu-log', () => {
  /** A capture directory holding the small hand-made capture of test/trace/importers/capture.ts. */
  function captureDir(opts: { ram?: boolean; version?: boolean; log?: Buffer | string } = {}): string {
    const d = tmp();
    const cap = join(d, 'cap');
    mkdirSync(cap);
    const m = memory(EVTQ_WORDS);
    const log = ALL_LINES.map((l) => `${l}\n`).join('');
    writeFileSync(join(cap, 'trace.log.gz'), opts.log ?? gzipSync(log));
    const offset = Buffer.byteLength(log);
    writeFileSync(join(cap, 'snapshots.json'), JSON.stringify({ snapshots: [{ name: 'end', trace_offset: offset, ram: { file: 'ram-end.bin', base: 0x4000_0000, size: 0x4_0000 } }] }));
    if (opts.ram) writeFileSync(join(cap, 'ram-end.bin'), ramImage(m, 0x4000_0000n, 0x4_0000));
    else writeFileSync(join(cap, 'mem-end.txt'), dumpText(m));
    if (opts.version) writeFileSync(join(cap, 'qemu-version.txt'), 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n');
    return d;
  }
  it('writes the trace and prints the summary; from sparse dumps or RAM images alike', async () => {
    const d = captureDir({ version: true });
    const r = await runCli(['import', 'qemu-log', 'cap', '-o', 'out.csv'], d);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^wrote out\.csv\n  capture cap: QEMU 7\.2; log 42 lines, \d+ bytes\n/);
    expect(r.out).toContain('  checks: 10 (3 dma expect=, 3 mmio_read expect=, 4 mem_read expect=)\n');
    const text = readFileSync(join(d, 'out.csv'), 'utf8');
    expect(text).toContain('\ndma,0x8,0x200000,r,size=4,priv=0,expect=fault:F_TRANSLATION\n');
    const ram = captureDir({ ram: true });
    const r2 = await runCli(['import', 'qemu-log', 'cap', '-o', 'out.csv.gz', '--qemu-version', '7.2'], ram);
    expect(r2.code).toBe(0);
    expect(gunzipSync(readFileSync(join(ram, 'out.csv.gz'))).toString('utf8')).toBe(text);
    // The trace replays with the profile it declares.
    const rep = await runCli(['replay', 'out.csv'], d);
    expect(rep.out).toContain('profile=qemu-7.2');
    expect(rep.out).toContain('9 matched, 1 explained, 0 mismatched');
  });

  it('a truncated or corrupt log, or a missing version, is an error with its location, and nothing is written', async () => {
    const log = ALL_LINES.map((l) => `${l}\n`).join('');
    const cut = gzipSync(log).subarray(0, 200);
    const d = captureDir({ version: true, log: cut });
    writeFileSync(join(d, 'out.csv'), 'previous\n');
    const r = await runCli(['import', 'qemu-log', 'cap', '-o', 'out.csv'], d);
    expect(r.code).toBe(2);
    const m = /^smmu-replay: cap\/trace\.log\.gz:(\d+): the gzip stream breaks off after (\d+) bytes of text \(line (\d+) is incomplete\): unexpected end of file\n$/.exec(r.err);
    expect(m).not.toBeNull();
    // The line named is the one the decodable text breaks off in: the lines ending before that byte, plus one.
    const bytes = Number(m![2]);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(log.length);
    expect(Number(m![1])).toBe(log.slice(0, bytes).split('\n').length);
    expect(m![3]).toBe(m![1]);
    expect(readFileSync(join(d, 'out.csv'), 'utf8')).toBe('previous\n');
    const bad = captureDir({ version: true, log: gzipSync(log.replace('smmuv3_get_cd CD addr: 0x40030000', 'smmuv3_get_cd CD addr: 0x4003zz')) });
    const r2 = await runCli(['import', 'qemu-log', 'cap', '-o', 'out.csv'], bad);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/^smmu-replay: cap\/trace\.log\.gz:20: smmuv3_get_cd at byte offset \d+: arguments 'CD addr: 0x4003zz' do not have QEMU 7\.2's format/);
    expect(existsSync(join(bad, 'out.csv'))).toBe(false);
    const nov = await runCli(['import', 'qemu-log', 'cap', '-o', 'out.csv'], captureDir());
    expect(nov.code).toBe(2);
    expect(nov.err).toMatch(/the QEMU version is not in the capture \(no qemu-version\.txt\): give --qemu-version/);
    const nodir = await runCli(['import', 'qemu-log', 'nowhere', '-o', 'out.csv'], d);
    expect([nodir.code, nodir.err]).toEqual([2, 'smmu-replay: nowhere: no such capture directory\n']);
  });
});

describe('compare', () => {
  it('flag vs cleared s1_cfg: raw and effective STE differences, first at the bypass line, exit 1', async () => {
    const raw = await runCli(['compare', 'traces/nested-bypass.csv', 'rfc-v3', 'rfc-v3-cleared'], ROOT);
    expect(raw.code).toBe(1);
    expect(raw.out).toContain('== traces/nested-bypass.csv: rfc-v3 vs rfc-v3-cleared\n');
    expect(raw.out).toMatch(/^ste: differ \(\d+ rows only in A, \d+ only in B; first at trace line 50\)$/m);
    expect(raw.out).toContain('dma: identical');
    // the summary table: both sides replayed the four DMAs
    expect(raw.out).toMatch(/DMA outcomes +translated=4 +translated=4/);
    const sem = await runCli(['compare', 'traces/nested-bypass.csv', 'rfc-v3', 'rfc-v3-cleared', '--semantic'], ROOT);
    expect(sem.code).toBe(1);
    // the first bypass: the flag variant's stage-2 entry lost SHCFG=incoming (qword 1 was rewritten)
    expect(sem.out).toContain('-50,0x10,cfgi,valid,V=1 Config=S2 S2VMID=1');
    expect(sem.out).toContain('+50,0x10,cfgi,valid,V=1 Config=S2 SHCFG=incoming S2VMID=1');
    expect(sem.out).toContain('ste: effective difference (2 rows only in A, 2 only in B; first at trace line 50)');
    expect(sem.out).toContain('-- raw STE stream diff');
    // The field-level view under the hunk (SHCFG is DW1[45:44], IHI0070 §5.2; 0 NSH, 1 incoming): the
    // flag variant rewrote qword 1 as 0xd4 (bits 45:44 = 0) while the cleared variant kept 0x1000000000d4.
    // A stage-2 entry uses SHCFG (arm_smmu_get_ste_used), so both sides use it.
    expect(sem.out).toContain('+51,0x10,fetch,valid,V=1 Config=S2 SHCFG=incoming S2VMID=1 S2T0SZ=24 S2SL0=1 S2IR0=WBRAWA S2OR0=WBRAWA S2SH0=ISH S2PS=48 S2AA64=1 S2PTW=1 S2R=1 S2TTB=0x100008000\n'
      + ' 52,0x10,cfgi,invalid,V=0\n');
    expect(sem.out).toContain('\n# STE fields of StreamID 0x10, rfc-v3 -> rfc-v3-cleared: line 50 cfgi, line 51 fetch\n'
      + '#   SHCFG: 0 (NSH) -> 1 (incoming)  DW1[45:44]  used by both\n-- raw STE stream diff\n');
    // the raw diff shows it too, from the store of qword 0 on (qword 0 is the same; the entry differs in qword 1)
    expect(sem.out).toContain('# STE fields of StreamID 0x10, rfc-v3 -> rfc-v3-cleared: line 50 store DW0, line 50 cfgi, line 51 fetch\n'
      + '#   SHCFG: 0 (NSH) -> 1 (incoming)  DW1[45:44]  used by both\n');
    // without --semantic, the same field lines without the used-by column
    expect(raw.out).toContain('#   SHCFG: 0 (NSH) -> 1 (incoming)  DW1[45:44]\n');
  });
  it('union vs split: the field changes name what the union wrote into s2_cfg', async () => {
    const r = await runCli(['compare', 'traces/union-aliasing.csv', 'rfc-v3', 'rfc-v3-union', '--semantic'], ROOT);
    expect(r.code).toBe(1);
    // vmid <- cdptr[15:0] = 0; vtcr[15:0] <- the two nested flag bytes = 0 (T0SZ [5:0], SL0 [7:6],
    // IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12]); vttbr <- cdptr_dma = the guest CD at 0x4000_0000.
    // S2PS (vtcr[18:16]) and S2TG (vtcr[15:14] = 0, 4K either way) keep their values.
    expect(r.out).toContain([
      '# STE fields of StreamID 0x22, rfc-v3 -> rfc-v3-union: line 50 cfgi, line 51 fetch',
      '#   S2VMID: 2 -> 0                    DW2[15:0]   used by both',
      '#   S2T0SZ: 24 -> 0                   DW2[37:32]  used by both',
      '#   S2SL0: 1 -> 0                     DW2[39:38]  used by both',
      '#   S2IR0: 1 (WBRAWA) -> 0 (NC)       DW2[41:40]  used by both',
      '#   S2OR0: 1 (WBRAWA) -> 0 (NC)       DW2[43:42]  used by both',
      '#   S2SH0: 3 (ISH) -> 0 (NSH)         DW2[45:44]  used by both',
      '#   S2TTB: 0x100012000 -> 0x40000000  DW3[51:4]   used by both',
      '',
    ].join('\n'));
    // the single-stage StreamIDs 0x20 and 0x21 have no field change
    expect(r.out).not.toMatch(/StreamID 0x2[01]/);
  });
  it('two variants that agree on a trace: three identical verdicts, exit 0', async () => {
    const r = await runCli(['compare', 'traces/legacy-lifecycle.csv', 'rfc-v3', 'rfc-v3-cleared'], ROOT);
    expect(r.out.split('\n').filter((l) => /^(ste|faults|dma): /.test(l))).toEqual(['ste: identical', 'faults: identical', 'dma: identical']);
    expect(r.code).toBe(0);
  });
  it('--semantic ignores bits an entry does not use; the hitless writer WARNs about them', async () => {
    const d = tmp();
    // Config=abort uses only V and Config (IHI0070 §5.2): qword 2 of an abort STE is ignored by the SMMU.
    const noisy = (name: string, base: string) => [
      `export default { name: '${name}', description: '${base} writing junk into qword 2 of abort STEs', extends: '${base}',`,
      '  hooks: { adjustSte: (q) => ((q[0] & 0xfn) === 0x1n ? q.map((x, i) => (i === 2 ? 0xdeadn : x)) : [...q]) } };',
      '',
    ].join('\n');
    writeFileSync(join(d, 'legacy.mjs'), noisy('noisy-legacy', 'linux-5.0'));
    writeFileSync(join(d, 'modern.mjs'), noisy('noisy-modern', 'linux-current'));
    const trace = join(ROOT, 'traces/legacy-lifecycle.csv');
    // The 2019 writer stores qwords 0-2 of an abort STE whatever they hold: only the raw stream differs.
    const raw = await runCli(['compare', trace, 'linux-5.0', 'noisy-legacy', '--variant-file', 'legacy.mjs'], d);
    expect(raw.code).toBe(1);
    expect(raw.out).toMatch(/^\+57,0x8,store,2,0x000000000000dead,/m);
    const sem = await runCli(['compare', trace, 'linux-5.0', 'noisy-legacy', '--variant-file', 'legacy.mjs', '--semantic'], d);
    expect(sem.out).toMatch(/^ste: no effective difference \(raw streams differ: .*\)$/m);
    expect(sem.out).toContain('faults: identical');
    expect(sem.out).toContain('dma: identical');
    expect(sem.code).toBe(0);
    // The used-bits writer requires a target to set only bits it uses (arm_smmu_entry_qword_diff
    // WARNs otherwise) and then counts qword 2 as a changed used qword: two critical qwords
    // (0 and 2) make the bypass -> abort switch of the blocking-domain attach break through V=0.
    const mod = await runCli(['compare', trace, 'linux-current', 'noisy-modern', '--variant-file', 'modern.mjs', '--semantic'], d);
    expect(mod.code).toBe(1);
    expect(mod.out).toMatch(/^\+55,driver,WARN,0x8,,,.*sets bits 0xdead of qword 2 that its used bits do not cover/m);
    expect(mod.out).toContain('+55,0x8,cfgi,invalid,V=0');
    // the loaded variants were forgotten when each command ended
    const again = await runCli(['compare', trace, 'linux-current', 'noisy-modern'], d);
    expect(again.code).toBe(2);
    expect(again.err).toContain("unknown variant 'noisy-modern'");
  });
  it('bad requests exit 2 with a message', async () => {
    const same = await runCli(['compare', 'traces/nested-bypass.csv', 'rfc-v3', 'rfc-v3'], ROOT);
    expect([same.code, same.err]).toEqual([2, 'smmu-replay: compare needs two different variants\n']);
    const unknown = await runCli(['compare', 'traces/nested-bypass.csv', 'rfc-v3', 'linux-9.9'], ROOT);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^smmu-replay: traces\/nested-bypass.csv: unknown variant 'linux-9.9' \(known: linux-5.0, /);
    const hw = await runCli(['compare', 'traces/s1-translate.csv', 'rfc-v3', 'linux-current'], ROOT);
    expect(hw.code).toBe(2);
    expect(hw.err).toContain("has no 'op' rows");
    expect(hw.out).toBe('');
  });
});

describe('atomic golden writes', () => {
  it('an interruption between renames leaves each file old or new, and no temporary files', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.csv'), 'old a\n');
    writeFileSync(join(d, 'b.csv'), 'old b\n');
    expect(() => writeAtomically(
      [{ path: join(d, 'a.csv'), text: 'new a\n' }, { path: join(d, 'b.csv'), text: 'new b\n' }],
      () => { throw new Error('interrupted'); },
    )).toThrow('interrupted');
    expect(readFileSync(join(d, 'a.csv'), 'utf8')).toBe('new a\n');
    expect(readFileSync(join(d, 'b.csv'), 'utf8')).toBe('old b\n');
    expect(readdirSync(d).sort()).toEqual(['a.csv', 'b.csv']);
  });
  it('a failure while staging changes nothing', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.csv'), 'old a\n');
    writeFileSync(join(d, 'blocker'), 'a file where a directory is needed');
    expect(() => writeAtomically([
      { path: join(d, 'a.csv'), text: 'new a\n' },
      { path: join(d, 'blocker', 'b.csv'), text: 'b\n' },
    ])).toThrow();
    expect(readFileSync(join(d, 'a.csv'), 'utf8')).toBe('old a\n');
    expect(readdirSync(d).sort()).toEqual(['a.csv', 'blocker']);
  });
});

describe('decode and encode', () => {
  it('decode ste names every field and gives the verdict', async () => {
    // DW0 = 0x9000_000b: V=1, Config=0b101 (S1), S1ContextPtr=0x9000_0000
    const r = await runCli(['decode', 'ste', '0x9000000b'], ROOT);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/DW0\[0:0\]\s+V\s+= 1\n/);
    expect(r.out).toMatch(/DW0\[3:1\]\s+Config\s+= 5 \(S1\)/);
    expect(r.out).toMatch(/DW0\[55:6\]\s+S1ContextPtr\s+= 0x90000000/);
    expect(r.out).toContain('verdict on profile default: translate: stage 1 (S1ContextPtr=0x90000000, S1CDMax=0, NS-EL1)');
  });
  it('decode flags reserved bits and ILLEGAL entries', async () => {
    // DW0 bit 56 is RES0 in an STE; Config=S2 with S2T0SZ=0 is ILLEGAL
    const r = await runCli(['decode', 'ste', '0x010000000000000d', '0', '0x000d004000000000', '0xa0000000'], ROOT);
    expect(r.out).toContain('reserved bits set: DW0 & 0x0100000000000000 (RES0)');
    expect(r.out).toContain('ILLEGAL (C_BAD_STE): S2T0SZ=0 outside [16, 39]');
  });
  it('decode cmd and event', async () => {
    // CFGI_STE SID 3 Leaf 1: DW0 = 3 << 32 | 0x03, DW1 = 1
    const c = await runCli(['decode', 'cmd', '0x300000003', '1'], ROOT);
    expect(c.out).toMatch(/StreamID\s+= 0x3/);
    expect(c.out).toContain('legal on profile default');
    const bad = await runCli(['decode', 'cmd', '0x0'], ROOT);
    expect(bad.out).toContain('CERROR_ILL: opcode 0x0 is reserved');
    // F_TRANSLATION (0x10) for SID 8 with InputAddr 0x5500000040
    const e = await runCli(['decode', 'event', '0x800000010', '0', '0x5500000040'], ROOT);
    expect(e.out).toMatch(/type\s+= 0x10/);
    expect(e.out).toMatch(/InputAddr\s+= 0x5500000040/);
  });
  it('encode then decode gives the fields back; bad fields exit 2', async () => {
    const enc = await runCli(['encode', 'cd', 'V=1', 'T0SZ=16', 'TG0=4K', 'EPD1=1', 'IPS=48', 'AA64=1', 'R=1', 'A=1', 'ASID=1', 'TTB0=0xa0000000'], ROOT);
    // DW0: ASID 1 << 48 | A (46) | R (45) | AA64 (41) | IPS 0b101 << 32 | V (31) | EPD1 (30) | T0SZ 16
    expect(enc.out.split('\n')[0]).toBe('DW0 0x00016205c0000010');
    const words = enc.out.trim().split('\n').map((l) => l.split(' ')[1]!);
    const dec = await runCli(['decode', 'cd', ...words], ROOT);
    expect(dec.out).toMatch(/TTB0\s+= 0xa0000000/);
    expect(dec.out).toContain('valid on profile default');
    const bad = await runCli(['encode', 'ste', 'Bogus=1'], ROOT);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/STE has no field 'Bogus'/);
    const wide = await runCli(['encode', 'ste', 'Config=9'], ROOT);
    expect(wide.code).toBe(2);
    expect(wide.err).toMatch(/Config: value 0x9 does not fit DW0\[3:1\]/);
  });
  it('encode --at prints mem_write rows a trace can use', async () => {
    const r = await runCli(['encode', 'ste', 'V=1', 'Config=bypass', '--at', '0x80000040'], ROOT);
    expect(r.out).toBe('mem_write,0x80000040,0x0000000000000009\n');
  });
});
