import { describe, expect, it } from '@jest/globals';
import { TraceError } from '../../../src/trace/format.js';
import { parseQemuLog, type QemuEvent } from '../../../src/trace/importers/qemuLog.js';

const parse = (text: string) => parseQemuLog(Buffer.from(text, 'latin1'), 'trace.log');

function error(text: string): TraceError {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error('no error');
}

/** The event of a one-line log, without its position. */
function one(line: string): Omit<QemuEvent, 'line' | 'offset'> {
  const [e] = parse(`${line}\n`).events;
  const { line: _l, offset: _o, ...rest } = e!;
  return rest;
}

describe('QEMU 7.2 trace-log lines (lines as Debian QEMU 7.2.22 writes them with -msg timestamp=on)', () => {
  it('register accesses: offset as logged (Page 1 folded), value, size, MemTxResult', () => {
    expect(one('20554@1795458870.886871:smmuv3_read_mmio addr: 0x0 val:0xd40101a size: 0x4(0)'))
      .toEqual({ kind: 'mmio', write: false, addr: 0, value: 0xd40101an, size: 4, result: 0 });
    expect(one('20554@1795458870.893978:smmuv3_write_mmio addr: 0x80 val:0x40000000480bc000 size: 0x8(0)'))
      .toEqual({ kind: 'mmio', write: true, addr: 0x80, value: 0x40000000480bc000n, size: 8, result: 0 });
  });
  it('the same lines without the timestamp prefix', () => {
    expect(one('smmuv3_write_mmio addr: 0xac val:0x4 size: 0x4(0)')).toMatchObject({ kind: 'mmio', write: true, addr: 0xac, value: 4n });
  });
  it('command consumption: slot, opcode name, and the CFGI/TLBI detail lines', () => {
    expect(one('1@1.2:smmuv3_cmdq_consume prod=2 cons=0 prod.wrap=0 cons.wrap=0')).toEqual({ kind: 'cmdq_consume', prod: 2, cons: 0, prodWrap: 0, consWrap: 0 });
    expect(one('1@1.2:smmuv3_cmdq_opcode <--- SMMU_CMD_CFGI_STE_RANGE')).toEqual({ kind: 'cmdq_opcode', name: 'SMMU_CMD_CFGI_STE_RANGE' });
    expect(one('1@1.2:smmuv3_cmdq_cfgi_ste streamid= 0x18')).toEqual({ kind: 'cmdq_cfgi_ste', sid: 0x18 });
    expect(one('1@1.2:smmuv3_cmdq_cfgi_ste_range start=0x0 - end=0xffffffff')).toEqual({ kind: 'cmdq_cfgi_ste_range', start: 0, end: 0xffffffff });
    expect(one('1@1.2:smmuv3_cmdq_tlbi_nh_asid asid=3')).toEqual({ kind: 'cmdq_tlbi_nh_asid', asid: 3 });
  });
  it('a translation: cache lookup, stream-table walk, CD, descriptor reads, outcome', () => {
    expect(one('1@1.2:smmuv3_config_cache_miss Config cache MISS for sid=0x8 (hits=0, misses=1, hit rate=0)')).toEqual({ kind: 'config_lookup', sid: 8, hit: false });
    expect(one('1@1.2:smmuv3_config_cache_hit Config cache HIT for sid=0x10 (hits=1, misses=1, hit rate=50)')).toEqual({ kind: 'config_lookup', sid: 0x10, hit: true });
    expect(one('1@1.2:smmuv3_find_ste sid=0x8 features:0x1, sid_split:0x8')).toEqual({ kind: 'find_ste', sid: 8, twoLevel: true, split: 8 });
    expect(one('1@1.2:smmuv3_find_ste_2lvl strtab_base:0x40000000480bc000 l1ptr:0x480bc000 l1_off:0x0, l2ptr:0x5b660000 l2_off:0x8 max_l2_ste:511'))
      .toEqual({ kind: 'find_ste_2lvl', strtabBase: 0x40000000480bc000n, l1ptr: 0x480bc000n, l1Off: 0, l2ptr: 0x5b660000n, l2Off: 8, maxL2Ste: 511 });
    expect(one('1@1.2:smmuv3_get_ste STE addr: 0x5b660200')).toEqual({ kind: 'get_ste', addr: 0x5b660200n });
    expect(one('1@1.2:smmuv3_get_cd CD addr: 0x483bf000')).toEqual({ kind: 'get_cd', addr: 0x483bf000n });
    expect(one('1@1.2:smmuv3_decode_cd_tt TT[0]:tsz:16 ttb:0x430ec000 granule_sz:12 had:0'))
      .toEqual({ kind: 'decode_cd_tt', index: 0, tsz: 16, ttb: 0x430ec000n, granuleBits: 12, had: false });
    expect(one('1@1.2:smmu_get_pte baseaddr=0x430d4000 index=0x1fd, pteaddr=0x430d4fe8, pte=0x48099f47'))
      .toEqual({ kind: 'get_pte', base: 0x430d4000n, index: 0x1fd, pteAddr: 0x430d4fe8n, pte: 0x48099f47n });
    expect(one('1@1.2:smmuv3_translate_success smmuv3-iommu-memory-region-8-1 sid=0x8 iova=0xffffd002 translated=0x48099002 perm=0x3'))
      .toEqual({ kind: 'translate', outcome: 'success', sid: 8, iova: 0xffffd002n, translated: 0x48099002n });
    expect(one('1@1.2:smmuv3_translate_bypass smmuv3-iommu-memory-region-24-3 sid=0x18 STE bypass iova:0x40000000 is_write=1'))
      .toEqual({ kind: 'translate', outcome: 'bypass', sid: 0x18, iova: 0x40000000n, translated: undefined });
    expect(one('1@1.2:smmuv3_translate_abort smmuv3-iommu-memory-region-24-3 sid=0x18 abort on iova:0x1000 is_write=1')).toMatchObject({ outcome: 'abort', iova: 0x1000n });
    expect(one('1@1.2:smmuv3_translate_disable smmuv3-iommu-memory-region-24-3 sid=0x18 bypass (smmu disabled) iova:0x1000 is_write=0')).toMatchObject({ outcome: 'disable' });
    expect(one('1@1.2:smmuv3_record_event SMMU_EVT_F_TRANSLATION sid=0x18')).toEqual({ kind: 'record_event', event: 'SMMU_EVT_F_TRANSLATION', sid: 0x18 });
  });
  it('-d guest_errors lines: the failed translation and the memory core\'s report of the failed access', () => {
    expect(one('smmuv3-iommu-memory-region-24-3 translation failed for iova=0xdead004 (SMMU_EVT_F_TRANSLATION)'))
      .toEqual({ kind: 'translation_failed', iova: 0xdead004n, event: 'SMMU_EVT_F_TRANSLATION' });
    expect(one("Invalid read at addr 0xDEAD004, size 4, region '(null)', reason: rejected")).toEqual({ kind: 'invalid_access', write: false, addr: 0xdead004n, size: 4 });
    expect(one("Invalid write at addr 0xABC0000, size 4, region '(null)', reason: rejected")).toEqual({ kind: 'invalid_access', write: true, addr: 0xabc0000n, size: 4 });
  });
  it('events the trace does not need, other subsystems and other messages are kept as "other"', () => {
    expect(one('1@1.2:smmu_iotlb_lookup_hit IOTLB cache HIT asid=1 addr=0xffffd000 hit=1 miss=1 hit rate=50')).toEqual({ kind: 'other', event: 'smmu_iotlb_lookup_hit' });
    expect(one('1@1.2:virtio_queue_notify vdev 0x55ab60e73bb0 n 0 vq 0x55ab60e7e910')).toEqual({ kind: 'other', event: 'virtio_queue_notify' });
    expect(one('EDU: clamping DMA 0x1 to 0x1')).toEqual({ kind: 'other', event: undefined });
  });
  it('positions: 1-based lines counting every line, byte offset of each line start, the log length', () => {
    const log = parse('a\n1@1.2:smmuv3_get_ste STE addr: 0x40\n\nsmmuv3_get_cd CD addr: 0x80\n');
    // "a\n" is 2 bytes; the get_ste line is 6 + 14 + 15 = 35 bytes + LF, so line 3 starts at 2 + 36 = 38;
    // the empty line is 1 byte (39); the get_cd line is 13 + 14 = 27 bytes + LF: the log ends at 39 + 28 = 67.
    expect(log.events.map((e) => [e.line, e.offset, e.kind])).toEqual([[1, 0, 'other'], [2, 2, 'get_ste'], [3, 38, 'other'], [4, 39, 'get_cd']]);
    expect(log.lineStarts).toEqual([0, 2, 38, 39, 67]);
    expect([log.lines, log.bytes]).toEqual([4, 67]);
  });
});

describe('a truncated or corrupt log is an error naming the line and byte offset', () => {
  it('the last line has no line end (the log was cut off)', () => {
    // The first line is 35 bytes + LF: the cut-off second line starts at byte 36.
    const e = error('1@1.2:smmuv3_get_ste STE addr: 0x40\n1@1.2:smmuv3_get_cd CD ad');
    expect(e.message).toBe('trace.log:2: the log is truncated: its last line (byte offset 36) has no line end');
  });
  it('binary data', () => {
    // Line 2 starts at byte 36; the NUL is its third byte (36 + 2 = 38).
    const e = error('1@1.2:smmuv3_get_ste STE addr: 0x40\nab\u0000c\n');
    expect(e.message).toBe('trace.log:2:3: byte 0x00 at byte offset 38 is not log text (binary or corrupt data)');
  });
  it('a known SMMU event whose arguments do not have its QEMU 7.2 format', () => {
    const e = error('\n1@1.2:smmu_get_pte baseaddr=0x430d4000 index=0x1fd, pteaddr=0x430d4fe8\n');
    expect(e.message).toBe("trace.log:2: smmu_get_pte at byte offset 1: arguments 'baseaddr=0x430d4000 index=0x1fd, pteaddr=0x430d4fe8' do not have QEMU 7.2's format for this event (corrupt or another QEMU version)");
  });
  it('an SMMU event this importer does not know (another QEMU version)', () => {
    const e = error('1@1.2:smmuv3_translate_frobnicate x\n');
    expect(e.message).toMatch(/^trace\.log:1: unknown SMMU trace event 'smmuv3_translate_frobnicate' at byte offset 0/);
  });
});
