/**
 * Running a bundled scenario trace under named variants, in memory, for the
 * policy tests: the three streams as row values, the summary, and every
 * command each variant's driver issued, with the trace line of its op.
 */
import { join } from 'node:path';
import type { CommandName } from '../../src/model/commands.js';
import { DEFAULT_PROFILE } from '../../src/model/profiles.js';
import { DriverEngine } from '../../src/policy/driver.js';
import { variantByName } from '../../src/policy/registry.js';
import type { Variant } from '../../src/policy/variant.js';
import type { Action, Driver, DriverContext, ReplaySummary } from '../../src/replay/engine.js';
import { runTrace } from '../../src/replay/run.js';
import type { DmaStreamRow, FaultRow, SteRow } from '../../src/replay/streams.js';
import { ROOT } from '../helpers/cli.js';

export interface Collected {
  readonly ste: SteRow[];
  readonly faults: FaultRow[];
  readonly dma: DmaStreamRow[];
  /** Commands the driver issued, in order, with the line of the op that issued them. */
  readonly cmds: { line: number; name: CommandName | 'RAW' }[];
  /** Commands and memory stores of the driver, interleaved in issue order. */
  readonly actions: ({ line: number; kind: 'cmd'; name: CommandName | 'RAW' } | { line: number; kind: 'mem'; addr: bigint; value: bigint })[];
  summary: ReplaySummary | undefined;
}

/** Wraps the engine so the commands it issues are recorded (they still reach the SMMU). */
class SpyDriver implements Driver {
  private readonly inner: DriverEngine;
  constructor(v: Variant, file: string, private readonly out: Collected) {
    this.inner = new DriverEngine(v, file);
  }
  op(row: Parameters<Driver['op']>[0], ctx: DriverContext): void {
    const out = this.out;
    const spy: DriverContext = {
      get smmu() { return ctx.smmu; },
      get line() { return ctx.line; },
      apply(a: Action): void {
        if (a.kind === 'cmd') {
          out.cmds.push({ line: ctx.line, name: a.def?.name ?? 'RAW' });
          out.actions.push({ line: ctx.line, kind: 'cmd', name: a.def?.name ?? 'RAW' });
        } else if (a.kind === 'mem_write') {
          out.actions.push({ line: ctx.line, kind: 'mem', addr: a.addr, value: a.value });
        }
        ctx.apply(a);
      },
      driverFault: (t, d, s) => ctx.driverFault(t, d, s),
      hazard: (t, d, s) => ctx.hazard(t, d, s),
    };
    this.inner.op(row, spy);
  }
}

export async function runScenario(stem: string, names: readonly string[]): Promise<Map<string, Collected>> {
  const got = new Map<string, Collected>();
  const variants = names.map((n) => {
    const v = variantByName(n);
    if (!v) throw new Error(`no variant ${n}`);
    const c: Collected = { ste: [], faults: [], dma: [], cmds: [], actions: [], summary: undefined };
    got.set(n, c);
    return { name: n, makeDriver: (file: string) => new SpyDriver(v, file, c) };
  });
  const results = await runTrace(join(ROOT, 'traces', `${stem}.csv`), {
    profile: DEFAULT_PROFILE, caching: 'max', variants, displayName: `traces/${stem}.csv`,
  }, (n) => {
    const c = got.get(n)!;
    return { ste: (r) => c.ste.push(r), fault: (r) => c.faults.push(r), dma: (r) => c.dma.push(r) };
  });
  for (const r of results) got.get(r.variant)!.summary = r.summary;
  return got;
}

/** The 1-based line of the first trace line that starts with `prefix` after line `after` (so tests name lines by content). */
export function lineOf(lines: readonly string[], prefix: string, after = 0): number {
  for (let i = after; i < lines.length; i++) if (lines[i]!.startsWith(prefix)) return i + 1;
  throw new Error(`no line starting with ${prefix} after line ${after}`);
}

export function count<T>(rows: readonly T[], pred: (r: T) => boolean): number {
  return rows.reduce((n, r) => n + (pred(r) ? 1 : 0), 0);
}
