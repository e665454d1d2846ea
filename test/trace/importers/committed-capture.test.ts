/**
 * The committed capture (traces/captures/linux-6.1-qemu-7.2, Debian's Linux
 * 6.1 on QEMU 7.2) imports to exactly the committed trace, and the trace
 * agrees with the capture's own extraction of what the SMMU read: the STEs
 * and CDs of config-reads.json, the commands of cmdq-final, the event records
 * of evtq-final.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeCommand } from '../../../src/model/commands.js';
import { QEMU_72_PROFILE } from '../../../src/model/profiles.js';
import { explainCheck } from '../../../src/oracle/deviations.js';
import { Replay, type ReplaySummary } from '../../../src/replay/engine.js';
import type { FaultRow } from '../../../src/replay/streams.js';
import type { Row } from '../../../src/trace/format.js';
import { loadCapture } from '../../../src/trace/importers/command.js';
import { importQemuCapture, type ImportResult } from '../../../src/trace/importers/qemuImport.js';
import { parseTraceText } from '../../../src/trace/parse.js';
import { ROOT } from '../../helpers/cli.js';

const CAPTURE = join(ROOT, 'traces/captures/linux-6.1-qemu-7.2');
const TRACE = join(ROOT, 'traces/linux-6.1-qemu-7.2.csv.gz');
const gz = (f: string) => gunzipSync(readFileSync(join(CAPTURE, f))).toString('utf8');

let imported: ImportResult;
let rows: Row[];
let summary: ReplaySummary;
const faults: FaultRow[] = [];

beforeAll(async () => {
  imported = importQemuCapture(loadCapture(CAPTURE, 'traces/captures/linux-6.1-qemu-7.2', '7.2'));
  rows = await parseTraceText(imported.text, 'linux-6.1-qemu-7.2.csv');
  const r = new Replay({ file: 'linux-6.1-qemu-7.2.csv', variant: 'hw', profile: QEMU_72_PROFILE, caching: 'max', explain: explainCheck }, {
    ste() {}, fault: (f) => faults.push(f), dma() {},
  });
  for (const row of rows) r.apply(row);
  summary = r.finish();
}, 60_000);

describe('the committed capture', () => {
  it('imports to exactly the committed trace (re-import with smmu-replay import qemu-log after changing the importer)', () => {
    expect(imported.text).toBe(gunzipSync(readFileSync(TRACE)).toString('utf8'));
  });

  it('every STE and CD fetch is written as config-reads.json says the SMMU read it', () => {
    const reads = JSON.parse(readFileSync(join(CAPTURE, 'config-reads.json'), 'utf8')) as { kind: string; addr: string; trace_line: number; snapshot: string; qwords: string[] }[];
    expect(reads).toHaveLength(10);
    // Memory as the trace holds it at each fetch's comment line, from its mem_write rows up to there.
    const lines = imported.text.split('\n');
    for (const cr of reads) {
      const at = lines.findIndex((l) => l.includes(`fetched at log line ${cr.trace_line}, from snapshot '${cr.snapshot}'`));
      expect(at).toBeGreaterThan(0);
      const mem = new Map<bigint, bigint>();
      // The comment is followed by its structure's rows; include those (up to the next comment or dma row).
      let end = at + 1;
      while (end < lines.length && lines[end]!.startsWith('mem_write')) end++;
      for (const row of rows) {
        if (row.line > end) break;
        if (row.kind === 'mem_write') mem.set(row.addr, row.value);
      }
      const addr = BigInt(cr.addr);
      const got = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => mem.get(addr + BigInt(i * 8)) ?? 0n);
      expect([cr.kind, cr.trace_line, got]).toEqual([cr.kind, cr.trace_line, cr.qwords.map((x) => BigInt(x))]);
    }
  });

  it('the cmd rows are the 543 commands of cmdq-final, in order, word for word', () => {
    const slots = gz('cmdq-final.txt.gz').split('\n').filter((l) => /^\s+\d+ /.test(l)).map((l) => {
      const [, dw0, dw1] = l.trim().split(/\s+/);
      return [BigInt(`0x${dw0}`), BigInt(`0x${dw1}`)];
    });
    const cmds = rows.filter((r) => r.kind === 'cmd').map((r) => (r.kind === 'cmd' ? (r.raw ?? encodeCommand(r.def!, r.fields)) : []));
    expect(slots).toHaveLength(543);
    expect(cmds).toEqual(slots);
  });

  it('the mem_read rows expect the 12 event records of evtq-final', () => {
    const records = gz('evtq-final.txt.gz').split('\n').filter((l) => /^\s+\d+ type=/.test(l)).map((l) => {
      const f = l.trim().split(/\s+/);
      // "<slot> type=0x10 sid=0x18 ssv=0 ssid=0x0 <DW1> <DW2> <DW3>": DW0 = type | SSV << 11 | SSID << 12 | SID << 32.
      const v = (k: string) => BigInt(f.find((x) => x.startsWith(`${k}=`))!.slice(k.length + 1));
      return [v('type') | (v('ssv') << 11n) | (v('ssid') << 12n) | (v('sid') << 32n), BigInt(`0x${f[5]}`), BigInt(`0x${f[6]}`), BigInt(`0x${f[7]}`)];
    });
    const reads = rows.filter((r) => r.kind === 'mem_read').map((r) => (r.kind === 'mem_read' ? r.expect : undefined));
    expect(records).toHaveLength(12);
    expect(reads).toEqual(records.flat());
  });

  it('replays under qemu-7.2 with no unexplained mismatch: only the CLASS of the 12 event records is explained', () => {
    expect(summary.profile).toBe('qemu-7.2');
    expect(summary.checks.mismatched).toBe(0);
    expect(summary.checks.explained).toBe(12);
    expect(summary.checks.matched).toBe(imported.summary.checks.dma + imported.summary.checks.mmio_read + imported.summary.checks.mem_read - 12);
    const explained = faults.filter((f) => f.source === 'check');
    expect(new Set(explained.map((f) => f.detail.replace(/^.*known deviation (\S+) .*$/, '$1')))).toEqual(new Set(['qemu-7.2/event-class-cd']));
    // The model's own records: the 12 F_TRANSLATIONs of the edu device (SID 0x18), 8 reads then 4 writes.
    const evtq = faults.filter((f) => f.source === 'evtq');
    expect(evtq.map((f) => [f.type, f.sid, f.addr])).toEqual([
      ...[0, 4, 8, 12, 16, 20, 24, 28].map((k) => ['F_TRANSLATION', 0x18, 0xdead000n + BigInt(k)]),
      ...[0, 4, 8, 12].map((k) => ['F_TRANSLATION', 0x18, 0xabc0000n + BigInt(k)]),
    ]);
  });

  it('leaves out only what the capture does not say', () => {
    const s = imported.summary;
    expect(s.gaps).toEqual({
      // 2051 translated + 193 bypassed DMAs: QEMU's log does not give their direction or size.
      directionUnknown: 2244, sizeUnknown: 2244, unchecked: 0, mmioRejected: 0, mmioUnpredictable: 0,
      eventRecords: 12, eventRecordsUnchecked: 0, otherInvalidAccesses: 0,
    });
    expect(s.dma).toEqual({ bypass: 193, fault: 12, translated: 2051 });
    expect(s.idMismatches).toEqual([]);
  });
});
