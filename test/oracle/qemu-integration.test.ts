// Runs the real QEMU (7.2 and 10.0) when it is installed (scripts/install-qemu.sh; CI installs
// both).  Without the binary the test is skipped and says why.
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { defaultQemuBinary } from '../../src/oracle/qemu.js';
import { runCli, ROOT } from '../helpers/cli.js';

for (const version of ['7.2', '10.0'] as const) {
  const bin = defaultQemuBinary(version, process.env);
  const present = existsSync(bin);
  // Outside CI a missing QEMU skips these tests (and says why); under CI (.ci/run installs both
  // versions) it is a failure, so the cross-check can never pass by not running.
  if (!present && process.env.CI === 'true') {
    it(`QEMU ${version} is installed for the cross-check`, () => {
      throw new Error(`${bin} is missing: .ci/run installs it with scripts/install-qemu.sh`);
    });
    continue;
  }
  const d = present ? describe : describe.skip;
  if (!present) process.stderr.write(`skipping the QEMU ${version} integration test: ${bin} is not installed (run scripts/install-qemu.sh)\n`);
  d(`oracle qemu --qemu-version ${version} (real QEMU at ${bin})`, () => {
    it('every bundled trace that fits QEMU: zero unexplained mismatches, and real comparisons made', async () => {
      const r = await runCli(['oracle', 'qemu', '--qemu-version', version, '--json'], ROOT);
      const j = JSON.parse(r.out) as { total: Record<string, number>; errors: number; runs: unknown[] };
      expect(j.errors).toBe(0);
      expect(j.total.mismatched).toBe(0);
      expect(r.code).toBe(0);
      // Not vacuous: many traces and variants ran, and most rows were plain matches.
      expect(j.runs.length).toBeGreaterThan(50);
      expect(j.total.matched).toBeGreaterThan(400);
    }, 600_000);

    it('traces/qemu-s1.csv: every row matched or a documented deviation, QEMU stopped and its directory gone', async () => {
      const r = await runCli(['oracle', 'qemu', 'traces/qemu-s1.csv', '--qemu-version', version, '--json'], ROOT);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as { total: Record<string, number>; runs: { rows: { verdict: string; deviations: string[] }[] }[] };
      expect(j.total.mismatched).toBe(0);
      expect(j.total.matched).toBeGreaterThan(20);
      const ids = new Set(j.runs[0]!.rows.flatMap((x) => x.deviations));
      expect(ids.has(`qemu-${version}/event-pnu-zero`)).toBe(true);
      expect(ids.has(`qemu-${version}/cd-fetch-address-in-dw2`)).toBe(true);
      expect(ids.has(`qemu-${version}/event-per-4-bytes`)).toBe(true);
    }, 30000);

    it('traces/qemu-s2.csv: no mismatch; the queue-full and accepted-command deviations shown where the trace puts them', async () => {
      const r = await runCli(['oracle', 'qemu', 'traces/qemu-s2.csv', '--qemu-version', version, '--json'], ROOT);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as { total: Record<string, number>; runs: { rows: { line: number; verdict: string; deviations: string[] }[] }[] };
      expect(j.total.mismatched).toBe(0);
      const lines = (id: string) => [...new Set(j.runs[0]!.rows.filter((x) => x.deviations.includes(`qemu-${version}/${id}`)).map((x) => x.line))];
      // The ninth fault into the 8-entry queue (line 237) and the PRI_RESP row's reads (243, 244).
      expect(lines('eventq-full-abort-error')).toContain(237);
      expect(lines('commands-accepted-without-feature')).toEqual(expect.arrayContaining([243, 244]));
      if (version === '10.0') {
        // Stage 2 and nesting run: plain matches for the translations (the stage-2-only and nested round trips,
        // the invalidation sequence), and the nested deviations at their lines.
        expect(j.total.matched).toBeGreaterThanOrEqual(25);
        expect(lines('nested-table-s2-fault-as-stage-1')).toEqual([182]);
        expect(lines('config-fault-rnw-read')).toEqual([191, 193]);
      }
    }, 30000);

    it('a trace outside QEMU\'s RAM window is refused naming the first row (exit 2)', async () => {
      const r = await runCli(['oracle', 'qemu', 'traces/s1-faults.csv', '--qemu-version', version], ROOT);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^smmu-replay: traces\/s1-faults.csv:52: cannot be replayed in QEMU: mem_abort \[0xa0004000, 0xa0005000\)/);
    }, 30000);
  });
}
