/**
 * Hostile but well-formed traces: every one must finish (no crash, no hang),
 * give the same streams twice, and where the architecture decides the
 * outcome, give that outcome.  The bounds that make this so are listed in
 * docs/model.md ("Every loop is bounded").
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { runSpec, variantByName } from '../../src/policy/registry.js';
import { Replay, type ReplayOptions } from '../../src/replay/engine.js';
import { SteTracker } from '../../src/replay/steTracker.js';
import { TextStreams } from '../../src/report/csv.js';
import { TraceError } from '../../src/trace/format.js';
import { parseTraceTextSync } from '../../src/trace/parse.js';
import { runCli } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs('smmu-cap-');

interface Run {
  streams: TextStreams;
  summary: ReturnType<Replay['finish']> | undefined;
  error: TraceError | undefined;
}

function replayOnce(text: string, o: Partial<ReplayOptions> = {}): Run {
  const streams = new TextStreams();
  const r = new Replay({ file: 't.csv', variant: 'hw', profile: DEFAULT_PROFILE, caching: 'max', ...o }, streams);
  try {
    for (const row of parseTraceTextSync(text, 't.csv')) r.apply(row);
    return { streams, summary: r.finish(), error: undefined };
  } catch (e) {
    if (!(e instanceof TraceError)) throw e;
    return { streams, summary: undefined, error: e };
  }
}

/** Replay twice; the two runs must give the same streams and the same outcome. */
function replay(text: string, o: Partial<ReplayOptions> = {}): Run {
  const a = replayOnce(text, o);
  const b = replayOnce(text, o);
  for (const s of ['ste', 'faults', 'dma'] as const) expect(b.streams.get(s)).toBe(a.streams.get(s));
  expect(b.error?.message).toBe(a.error?.message);
  return a;
}

const rowsOf = (t: TextStreams, s: 'ste' | 'faults' | 'dma'): string[] => t.get(s).trim().split('\n').slice(1);

// An enabled SMMU: linear stream table at 0x8000_0000 (256 STEs), command queue 0x8100_0000 (256
// entries), event queue 0x8200_0000 (16 entries), CR2.RECINVSID, SMMUEN|EVENTQEN|CMDQEN.
const PROLOGUE = `mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,8
mmio_write,CMDQ_BASE,0x8100_0008
mmio_write,EVENTQ_BASE,0x8200_0004
mmio_write,CR2,2
mmio_write,CR0,0xd
`;
// StreamID 0x10: Config=S1 with one CD at 0x9000_0000 (T0SZ=16, TG0=4K, EPD1, IPS=48, AA64, R, A,
// ASID 1); the CD's TTB0 comes after it.  (The values are those of traces/s1-translate.csv.)
const S1_STREAM = (ttb0: string): string => `mem_write,0x9000_0000,0x0001e205c0000010
mem_write,0x9000_0008,${ttb0}
mem_write,0x9000_0018,0x00000000000004ff
mem_write,0x8000_0400,0x000000009000000b
cmd,CFGI_STE,sid=0x10,leaf=1
cmd,CMD_SYNC
`;

describe('translation tables that point anywhere', () => {
  it('a table that points at itself: the walk still ends at level 3', () => {
    // L0[0] at 0xa000_0000 = 0xa000_0403: a table descriptor (bits[1:0]=0b11) whose next table is
    // 0xa000_0000 itself (bit 10, AF, is ignored in a table descriptor).  VA 0x10 indexes entry 0
    // at every level, so the walk reads the same descriptor four times; at level 3 type 0b11 is a
    // page with AF=1 and AP=0b00: PA 0xa000_0000 + 0x10.  VA 0x4000_0010 has L1 index 1: entry
    // 0xa000_0008 is zero, F_TRANSLATION at level 1.
    const r = replay(`${PROLOGUE}${S1_STREAM('0x00000000a0000000')}mem_write,0xa000_0000,0x00000000a0000403
dma,0x10,0x10,r
dma,0x10,0x4000_0010,r
`);
    expect(r.error).toBeUndefined();
    const dma = rowsOf(r.streams, 'dma');
    expect(dma[0]).toMatch(/^14,0x10,,0x0000000000000010,r,translated,0x00000000a0000010,stage 1$/);
    expect(dma[1]).toMatch(/^15,0x10,,0x0000000040000010,r,fault,,F_TRANSLATION S2=0 CLASS=IN level=1/);
  });
  it('a table that points at the command queue: its commands are read as descriptors', () => {
    // TTB0 = 0x8100_0000, the command queue.  Slot 0 holds the CFGI_STE just issued: DW0 =
    // 0x0000_0010_0000_0003 (StreamID 0x10 << 32 | opcode 3), a table descriptor to
    // 0x10_0000_0000 (bits [47:12]), where memory is zero: F_TRANSLATION at level 1.
    const r = replay(`${PROLOGUE}${S1_STREAM('0x0000000081000000')}dma,0x10,0x10,r
`);
    expect(r.error).toBeUndefined();
    expect(rowsOf(r.streams, 'dma')[0]).toMatch(/^13,0x10,,0x0000000000000010,r,fault,,F_TRANSLATION S2=0 CLASS=IN level=1/);
  });
  it('a 2-level stream table whose L1 descriptors point at itself, the queues, the top of memory and nowhere', () => {
    // FMT=2-level, SPLIT=6, LOG2SIZE=16 (0x1_0190): 1024 L1STDs at 0x8000_0000.
    //   L1[0] = 0x8000_0000 | Span 7: StreamIDs 0..63 have their STEs in the L1 array itself;
    //   L1[1] = 0x8100_0000 | Span 2: StreamIDs 64, 65 in the command queue;
    //   L1[2] = 0xffff_ffff_ff80 | Span 2: the top of the 48-bit space (zero memory);
    //   L1[3] Span 12 (reserved, as 0: no level-2 table); L1[4] Span 8 > SPLIT+1.
    // Then a store through L1[0]'s view of StreamID 1 (which is also L1[8..15]), and DMAs.
    const r = replay(`mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,0x10190
mmio_write,CMDQ_BASE,0x8100_0008
mmio_write,EVENTQ_BASE,0x8200_0004
mmio_write,CR2,2
mem_write,0x8000_0000,0x0000000080000007
mem_write,0x8000_0008,0x0000000081000002
mem_write,0x8000_0010,0x0000ffffffffff82
mem_write,0x8000_0018,0x000000000000000c
mem_write,0x8000_0020,0x0000000080040008
mmio_write,CR0,0xd
cmd,CFGI_ALL
cmd,CMD_SYNC
mem_write,0x8000_0040,0x0000000000000009
cmd,CFGI_STE,sid=1
cmd,CMD_SYNC
dma,0,0x1000,r
dma,1,0x1000,r
dma,64,0x1000,r
dma,65,0x1000,r
dma,128,0x1000,r
dma,192,0x1000,r
dma,256,0x1000,r
dma,0xffff,0x1000,r
dma,0x10000,0x1000,r
`);
    expect(r.error).toBeUndefined();
    const dma = rowsOf(r.streams, 'dma');
    expect(dma).toHaveLength(9);
    // StreamID 1's STE is the doubleword just stored at 0x8000_0040 (V=1, Config=bypass).
    expect(dma[1]).toMatch(/^18,0x1,,0x0000000000001000,r,bypass,0x0000000000001000,/);
    // StreamID 0's STE is L1[0..7] read as an STE: V=1 (bit 0 of 0x8000_0007), Config=0b011, a
    // reserved value that behaves as 0b000 (§5.2): abort, no event.
    expect(dma[0]).toMatch(/^17,0x0,,0x0000000000001000,r,abort,,STE.Config=abort$/);
    // Beyond 2^16 StreamIDs: C_BAD_STREAMID (recorded: RECINVSID=1).
    expect(dma[8]).toMatch(/^25,0x10000,,.*,fault,,C_BAD_STREAMID/);
    // The store to StreamID 1's STE is in the STE stream.
    expect(rowsOf(r.streams, 'ste').some((l) => l.startsWith('14,0x1,store,0,0x0000000000000009,'))).toBe(true);
  });
});

describe('queues at their limits', () => {
  it('maximum queue sizes and CMDQ_PROD far ahead of CMDQ_CONS: consumption stops at the first illegal command', () => {
    // CMDQS = EVENTQS = 19 on the default profile: 2^19-entry queues (8 MiB and 16 MiB).  Three
    // CMD_SYNCs are queued, then PROD is moved 2^19 - 1 entries ahead: the SMMU consumes the three
    // and then reads a zero slot (opcode 0 is reserved): CERROR_ILL, CONS stops there (§7.1).
    const r = replay(`mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,8
mmio_write,CMDQ_BASE,0x8100_0013
mmio_write,EVENTQ_BASE,0x8200_0013
mmio_write,CR0,0xd
cmd,CMD_SYNC
cmd,CMD_SYNC
cmd,CMD_SYNC
mmio_write,CMDQ_PROD,0x7ffff
mmio_read,CMDQ_CONS,expect=0x01000003
mmio_read,GERROR,expect=1
`);
    expect(r.error).toBeUndefined();
    expect(r.summary!.checks).toEqual({ matched: 2, explained: 0, mismatched: 0 });
    expect(r.summary!.commands).toEqual({ CMD_SYNC: 3 });
    expect(rowsOf(r.streams, 'faults')).toEqual(['9,gerror,CMDQ_ERR,,,,CERROR_ILL: opcode 0x00 is reserved']);
  });
  it('an event storm: a 2-entry event queue and 3000 faulting DMAs', () => {
    // EVENTQ_BASE LOG2SIZE=1: two records fit; the other 2998 are lost (queue full, §7.4), each a `lost` row.
    const dmas = Array.from({ length: 3000 }, (_v, i) => `dma,1,0x${(0x1000 + i * 8).toString(16)},r`).join('\n');
    const r = replay(`mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,8
mmio_write,CMDQ_BASE,0x8100_0008
mmio_write,EVENTQ_BASE,0x8200_0001
mmio_write,CR0,0xd
${dmas}
mmio_read,EVENTQ_PROD,expect=0x80000002
`);
    expect(r.error).toBeUndefined();
    expect(r.summary!.faults).toEqual({ C_BAD_STE: 2, 'lost:C_BAD_STE': 2998 });
    expect(r.summary!.checks.matched).toBe(1);
  });
  it('one DMA row of 16 MiB is 4096 transactions, each faulting', () => {
    const r = replay(`${PROLOGUE}dma,1,0x1000_0000,r,size=0x100_0000
`);
    expect(r.error).toBeUndefined();
    expect(r.summary!.rows.dma).toBe(4096);
    expect(r.summary!.rows.faults).toBe(4096);
  });
});

describe('memory: the cap, and many abort ranges', () => {
  it('a trace touching more memory than --memory-cap is a located error, exit 2, nothing written', async () => {
    // --memory-cap 1 = 256 pages.  Each row stores to a new page: the 257th row needs page 257.
    const d = tmp();
    writeFileSync(join(d, 't.csv'), Array.from({ length: 300 }, (_v, i) => `mem_write,0x${(0x1000_0000 + i * 4096).toString(16)},1`).join('\n') + '\n');
    const r = await runCli(['replay', 't.csv', '--memory-cap', '1', '--out', 'out'], d);
    expect(r.code).toBe(2);
    expect(r.err).toBe('smmu-replay: t.csv:257: the trace touches more than 256 pages (1 MiB) of simulated memory; raise --memory-cap if this is intended\n');
    expect(existsSync(join(d, 'out'))).toBe(false);
  });
  it('the cap holds for memory the driver allocates too', async () => {
    // 300 maps of one 4 KiB page, 2 MiB apart: each needs a level-3 table page of its own.
    const d = tmp();
    const maps = Array.from({ length: 300 }, (_v, i) => `op,map,domain=d,iova=0x${(0x4000_0000 + i * 0x20_0000).toString(16)},pa=0x2_0000_0000,size=0x1000`);
    writeFileSync(join(d, 'm.csv'), ['op,probe', 'op,domain_alloc,id=d,type=s1', 'op,attach,sid=0x10,domain=d', ...maps].join('\n') + '\n');
    const r = await runCli(['replay', 'm.csv', '--variant', 'linux-current', '--memory-cap', '1'], d);
    expect(r.code).toBe(2);
    const m = /^smmu-replay: m\.csv:(\d+): the trace touches more than 256 pages \(1 MiB\) of simulated memory; raise --memory-cap if this is intended\n$/.exec(r.err);
    expect(m).not.toBeNull();
    // The error is at one of the map rows (lines 4..303), not at the end of the trace.
    expect(Number(m![1])).toBeGreaterThanOrEqual(4);
    expect(Number(m![1])).toBeLessThan(303);
  });
  it('2000 abort ranges: stores inside them are ignored, stores beside them land', () => {
    // Ranges [0x1000_0000 + 64i, + 16) for i < 2000; stores of 8 bytes at +0 (inside), +16 (just
    // after: lands), +12 (straddles the end: aborts as a whole) of range 1000.
    const aborts = Array.from({ length: 2000 }, (_v, i) => `mem_abort,0x${(0x1000_0000 + 64 * i).toString(16)},16`).join('\n');
    const base = 0x1000_0000 + 64 * 1000;
    const r = replay(`${aborts}
mem_write,0x${base.toString(16)},1
mem_write,0x${(base + 16).toString(16)},2
mem_write,0x${(base + 12).toString(16)},3
`);
    expect(r.error).toBeUndefined();
    expect(rowsOf(r.streams, 'faults').map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['2001,model,IGNORED', '2003,model,IGNORED']);
  });
});

describe('the bounds that stop runaway rows', () => {
  it('a driver operation that would take more actions than the bound is refused at its line', () => {
    // 64 MiB with 4 KiB pages (PA offset by 4 KiB) is 16384 leaf stores: more than a bound of 1000.
    const r = replayOnce('op,probe\nop,domain_alloc,id=d,type=s1\nop,attach,sid=0x10,domain=d\nop,map,domain=d,iova=0x4000_0000,pa=0x2_0000_1000,size=0x400_0000\n', {
      variant: 'linux-current', driver: runSpec(variantByName('linux-current')!).makeDriver!('t.csv'), maxOpActions: 1000,
    });
    expect(r.error?.message).toBe("t.csv:4: 'map' would take more than 1000 register, memory and command actions (a size far beyond what a driver maps at once?); refused");
  });
  it('STE stores that are never invalidated fill the STE stream reorder buffer up to its bound', () => {
    // Stores to StreamID 1's STE and no CFGI: each store row waits; the 11th exceeds a bound of 10.
    const stores = Array.from({ length: 20 }, (_v, i) => `mem_write,0x8000_0040,0x${(i * 2 + 1).toString(16)}`).join('\n');
    const r = replayOnce(`${PROLOGUE}${stores}\n`, { maxHeldSteRows: 10 });
    // Lines 7.. are the stores: the first waits from line 7; the 11th (line 17) is one too many.
    expect(r.error?.message).toBe('t.csv:17: more than 10 rows of the STE stream are waiting for an invalidation: the store at line 7 to the STE of StreamID 0x1 has had no CFGI covering it since, and the rows after it cannot be written before it');
  });
  it('the reorder buffer lets rows go as soon as their invalidation comes', () => {
    const t = new SteTracker(() => undefined, 2);
    const e = [1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    for (let i = 0; i < 100; i++) {
      t.store(i, 1, 0, 1n, e, e);
      t.cfgi(i, 1, e, 'valid');
    }
    expect(t.maxHeld).toBe(1);
  });
});
