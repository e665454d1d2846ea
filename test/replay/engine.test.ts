import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { Replay, type Driver } from '../../src/replay/engine.js';
import type { DmaStreamRow, FaultRow, SteRow } from '../../src/replay/streams.js';
import { TraceError } from '../../src/trace/format.js';
import { parseTraceText } from '../../src/trace/parse.js';

interface Out { ste: SteRow[]; faults: FaultRow[]; dma: DmaStreamRow[] }

async function replay(text: string, driver?: Driver): Promise<{ out: Out; r: Replay; summary: ReturnType<Replay['finish']> }> {
  const out: Out = { ste: [], faults: [], dma: [] };
  const r = new Replay({ file: 't.csv', variant: 'hw', profile: DEFAULT_PROFILE, caching: 'max', driver }, {
    ste: (x) => out.ste.push(x), fault: (x) => out.faults.push(x), dma: (x) => out.dma.push(x),
  });
  for (const row of await parseTraceText(text, 't.csv')) r.apply(row);
  return { out, r, summary: r.finish() };
}

// A minimal enabled SMMU: linear stream table at 0x8000_0000 (256 STEs), queues, RECINVSID.
const PROLOGUE = `mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,8
mmio_write,CMDQ_BASE,0x8100_0008
mmio_write,EVENTQ_BASE,0x8200_0004
mmio_write,CR2,2
mmio_write,CR0,0xd
`;

describe('DMA rows', () => {
  it('are split at 4 KiB boundaries and write their data at the output address', async () => {
    // SID 1 bypasses. 12 bytes at 0x4000_0ffc: pieces [0xffc, 0x1000) and [0x1000, 0x1008).
    const { out, r } = await replay(`${PROLOGUE}mem_write,0x8000_0040,0x9
cmd,CFGI_ALL
dma,1,0x4000_0ffc,w,size=8,data=0x1122334455667788
`);
    expect(out.dma.map((d) => [d.addr, d.outcome, d.pa])).toEqual([
      [0x4000_0ffcn, 'bypass', 0x4000_0ffcn],
      [0x4000_1000n, 'bypass', 0x4000_1000n],
    ]);
    // Little-endian data: bytes 0x88 0x77 0x66 0x55 at 0xffc..0xfff, 0x44 0x33 0x22 0x11 at 0x1000..
    expect(r.smmu.memory.read(0x4000_0ffcn, 4)).toBe(0x55667788n);
    expect(r.smmu.memory.read(0x4000_1000n, 4)).toBe(0x11223344n);
  });
  it('expectations become check rows on mismatch and are counted', async () => {
    const { out, summary } = await replay(`${PROLOGUE}mem_write,0x8000_0040,0x9
cmd,CFGI_ALL
dma,1,0x4000_0000,r,expect=bypass
dma,1,0x4000_0000,r,expect=abort
dma,2,0x4000_0000,r,expect=fault:C_BAD_STE
dma,2,0x4000_0000,r,expect=pa:0x1234
`);
    expect(summary.checks).toEqual({ matched: 2, explained: 0, mismatched: 2 });
    const checks = out.faults.filter((f) => f.source === 'check');
    expect(checks.map((c) => [c.line, c.detail])).toEqual([
      [10, 'expected abort, got bypass'],
      [12, 'expected pa:0x0000000000001234, got fault:C_BAD_STE'],
    ]);
  });
  it('an unknown access direction translates as a read without permission checks', async () => {
    // SID 1: stage 1, VA 0x1000 -> 0x5000 read-only (AP=0b10); a write faults, '-' translates.
    const { out } = await replay(`${PROLOGUE}mem_write,0x9000_0000,0x0001e205c0000010
mem_write,0x9000_0008,0xa000_0000
mem_write,0xa000_0000,0xa000_1003
mem_write,0xa000_1000,0xa000_2003
mem_write,0xa000_2000,0xa000_3003
mem_write,0xa000_3008,0x5783
mem_write,0x8000_0040,0x9000000b
cmd,CFGI_ALL
dma,1,0x1000,w
dma,1,0x1000,-
`);
    expect(out.dma.map((d) => d.outcome)).toEqual(['fault', 'translated']);
    expect(out.dma[1]!.pa).toBe(0x5000n);
  });
});

describe('commands', () => {
  it('a cmd row goes to the slot CMDQ_PROD names and advances PROD; wraps with the queue', async () => {
    // LOG2SIZE=1: two slots; the third command wraps to slot 0 with the wrap bit toggled.
    const { r } = await replay(`mmio_write,CMDQ_BASE,0x8100_0001
mmio_write,CR0,0x8
cmd,CMD_SYNC
cmd,CFGI_STE,sid=7
cmd,CMD_SYNC,cs=1
`);
    // PROD: 0 -> 1 -> 2 (index 0, wrap 1) -> 3 (index 1, wrap 1)
    expect(r.smmu.reg('CMDQ_PROD')).toBe(3n);
    expect(r.smmu.reg('CMDQ_CONS')).toBe(3n);
    // slot 0 was overwritten by the third command: CMD_SYNC with CS=1 (0x46 | 1 << 12)
    expect(r.smmu.memory.read(0x8100_0000n, 8)).toBe(0x1046n);
  });
  it('a full command queue drops the row with a model row', async () => {
    const { out } = await replay(`mmio_write,CMDQ_BASE,0x8100_0001
cmd,CMD_SYNC
cmd,CMD_SYNC
cmd,CMD_SYNC
`);
    // CMDQEN=0: nothing is consumed, two slots fill, the third row is dropped
    expect(out.faults.map((f) => [f.line, f.source, f.type])).toEqual([[4, 'model', 'CMDQ_FULL']]);
  });
});

describe('the STE stream', () => {
  it('recognises stores through a 2-level table once the L1STD points at the level-2 array', async () => {
    // 2-level, SPLIT=6, LOG2SIZE=8: 4 L1STDs. L1STD[1] (SIDs 0x40-0x7f) Span=7 -> 0x8001_0000.
    // The store to 0x8001_0080 is SID 0x40 + 0x80/64 = 0x42, DW0.
    const { out } = await replay(`mmio_write,STRTAB_BASE,0x8000_0000
mmio_write,STRTAB_BASE_CFG,0x10188
mem_write,0x8001_0080,0x9
mem_write,0x8000_0008,0x8001_0007
mem_write,0x8001_0080,0x1
mem_write,0x8001_0088,0x5
`);
    expect(out.ste.map((s) => [s.line, s.sid, s.action, s.qword, s.value])).toEqual([
      [5, 0x42, 'store', 0, 1n],
      [6, 0x42, 'store', 1, 5n],
    ]);
  });
  it('a stale cached STE is flagged in the DMA detail until a CFGI covers it', async () => {
    const { out } = await replay(`${PROLOGUE}mem_write,0x8000_0040,0x9
cmd,CFGI_STE,sid=1
dma,1,0x1000,r
mem_write,0x8000_0040,0x1
dma,1,0x1000,r
mem_write,0x8000_0040,0x9
dma,1,0x1000,r
`);
    // The second DMA uses the cached bypass STE while memory says abort; after the STE is written back to
    // the cached value, the cache matches memory again and there is nothing to flag.
    expect(out.dma.map((d) => d.detail.includes('stale STE'))).toEqual([false, true, false]);
  });
});

describe('mem_read rows', () => {
  it('check what memory holds: matched, or a located check row; a read of an abort range is a mismatch', async () => {
    const { out, summary } = await replay(`mem_write,0x4000_0000,0x1122334455667788
mem_read,0x4000_0000,expect=0x1122334455667788
mem_read,0x4000_0004,size=4,expect=0x11223344
mem_read,0x4000_0000,size=2,expect=0x1234
mem_read,0x4000_0000
mem_abort,0x5000_0000,8
mem_read,0x5000_0000,expect=0
`);
    expect(summary.checks).toEqual({ matched: 2, explained: 0, mismatched: 2 });
    expect(out.faults.map((f) => [f.line, f.source, f.type, f.addr, f.detail])).toEqual([
      [4, 'check', 'mem_read', 0x4000_0000n, 'expected 0x1234, read 0x7788'],
      [7, 'check', 'mem_read', 0x5000_0000n, 'expected 0x0000000000000000, read an external abort'],
    ]);
  });
});

describe('a trace whose memory is observed (meta,memory,observed)', () => {
  it('stores to STEs are observations: state observed, no window judged', async () => {
    // Writing qword 0 of an S1 STE before qword 1 would be an unsafe window for software; here it is only
    // the order in which an importer writes what the SMMU was seen to read.
    const trace = `${PROLOGUE}mem_write,0x8000_0040,0x9000000b
mem_write,0x8000_0048,0xd6
cmd,CFGI_STE,sid=1
`;
    const plain = await replay(trace);
    expect(plain.out.ste.filter((r) => r.action === 'store').map((r) => r.state)).toEqual(['unsafe', 'new']);
    const observed = await replay(`meta,memory,observed\n${trace}`);
    expect(observed.out.ste.filter((r) => r.action === 'store').map((r) => r.state)).toEqual(['observed', 'observed']);
  });
});

describe('op rows', () => {
  it('without a driver they are an error at their line', async () => {
    await expect(replay(`${PROLOGUE}op,attach,sid=1`)).rejects.toThrow(TraceError);
    await expect(replay(`${PROLOGUE}op,attach,sid=1`)).rejects.toThrow(/t\.csv:7: 'op' rows are driver operations/);
  });
  it('a driver applies low-level rows attributed to the op line and reports driver rows', async () => {
    const driver: Driver = {
      op(row, ctx) {
        ctx.apply({ kind: 'mem_write', line: 0, addr: 0x8000_0040n, value: 0x9n, size: 8 });
        ctx.apply({ kind: 'cmd', line: 0, def: undefined, fields: {}, raw: [0x0000_0001_0000_0003n, 0n] });
        ctx.driverFault('WARN', `${row.name}: example`, 1);
      },
    };
    const { out } = await replay(`${PROLOGUE}op,attach,sid=1`, driver);
    expect(out.ste.map((s) => [s.line, s.action])).toEqual([[7, 'store'], [7, 'cfgi']]);
    expect(out.faults).toEqual([{ line: 7, source: 'driver', type: 'WARN', sid: 1, ssid: undefined, addr: undefined, detail: 'attach: example' }]);
  });
});

describe('memory cap', () => {
  it('a trace touching more memory than the cap is a located error', async () => {
    const r = new Replay({ file: 'cap.csv', variant: 'hw', profile: DEFAULT_PROFILE, caching: 'max', memoryCapPages: 2 }, { ste() {}, fault() {}, dma() {} });
    const rows = await parseTraceText('mem_write,0x1000,1\nmem_write,0x2000,1\nmem_write,0x3000,1\n', 'cap.csv');
    r.apply(rows[0]!);
    r.apply(rows[1]!);
    expect(() => r.apply(rows[2]!)).toThrow(/cap\.csv:3: the trace touches more than 2 pages/);
  });
});
