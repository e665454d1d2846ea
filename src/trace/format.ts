/**
 * Trace format v1: the row types a trace file holds (docs/trace-format.md).
 *
 * A trace is CSV.  Each row starts with its kind, then positional fields, then
 * optional `key=value` cells in any order.  Rows other than `op` describe what
 * software and devices did to the SMMU and are the same for every
 * driver-policy variant; `op` rows are driver operations that a variant turns
 * into such rows.
 */
import type { CommandDef } from '../model/commands.js';
import type { EventName } from '../model/events.js';
import type { RegDef } from '../model/registers.js';

export type Kind = 'mmio_write' | 'mmio_read' | 'mem_write' | 'mem_read' | 'mem_abort' | 'cmd' | 'dma' | 'op' | 'meta';

export const KINDS: readonly Kind[] = ['mmio_write', 'mmio_read', 'mem_write', 'mem_read', 'mem_abort', 'cmd', 'dma', 'op', 'meta'];

interface RowBase {
  /** 1-based line number in the trace file of the row. */
  readonly line: number;
}

export interface MmioWriteRow extends RowBase {
  readonly kind: 'mmio_write';
  /** The register named, when the row named one (or the offset hit one). */
  readonly reg: RegDef | undefined;
  readonly offset: number;
  readonly value: bigint;
  readonly size: 4 | 8;
}

export interface MmioReadRow extends RowBase {
  readonly kind: 'mmio_read';
  readonly reg: RegDef | undefined;
  readonly offset: number;
  readonly size: 4 | 8;
  readonly expect: bigint | undefined;
}

export interface MemWriteRow extends RowBase {
  readonly kind: 'mem_write';
  readonly addr: bigint;
  readonly value: bigint;
  readonly size: 1 | 2 | 4 | 8;
}

/** Software reading memory (an event record, say); with `expect`, a different value is a check. */
export interface MemReadRow extends RowBase {
  readonly kind: 'mem_read';
  readonly addr: bigint;
  readonly size: 1 | 2 | 4 | 8;
  readonly expect: bigint | undefined;
}

export interface MemAbortRow extends RowBase {
  readonly kind: 'mem_abort';
  readonly addr: bigint;
  readonly size: bigint;
}

export interface CmdRow extends RowBase {
  readonly kind: 'cmd';
  /** undefined for `cmd,RAW,dw0=..,dw1=..`. */
  readonly def: CommandDef | undefined;
  readonly fields: Readonly<Record<string, bigint>>;
  readonly raw?: readonly [bigint, bigint];
}

/** DMA access: read, write, instruction fetch, or unknown direction (translates as a read, no permission check). */
export type DmaAccess = 'r' | 'w' | 'x' | '-';

export type Expect =
  | { readonly kind: 'pa'; readonly pa: bigint }
  | { readonly kind: 'bypass' }
  | { readonly kind: 'abort' }
  | { readonly kind: 'fault'; readonly event: EventName };

export interface DmaRow extends RowBase {
  readonly kind: 'dma';
  readonly sid: number;
  readonly addr: bigint;
  readonly access: DmaAccess;
  readonly ssid: number | undefined;
  readonly size: number;
  readonly priv: boolean;
  readonly data: bigint | undefined;
  readonly expect: Expect | undefined;
}

export interface OpRow extends RowBase {
  readonly kind: 'op';
  readonly name: string;
  /** Raw key=value arguments, validated by the driver model. */
  readonly args: Readonly<Record<string, string>>;
  /** Column of each key's cell (1-based), for located errors. */
  readonly argColumns: Readonly<Record<string, number>>;
}

export interface MetaRow extends RowBase {
  readonly kind: 'meta';
  readonly key: string;
  readonly value: string;
}

export type Row = MmioWriteRow | MmioReadRow | MemWriteRow | MemReadRow | MemAbortRow | CmdRow | DmaRow | OpRow | MetaRow;

/** A problem in an input file, located by file, line and (where it helps) column. */
export class TraceError extends Error {
  readonly problem: string;

  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
    readonly column?: number,
  ) {
    const shown = shortenQuoted(problem);
    super(`${file}:${line}${column !== undefined ? `:${column}` : ''}: ${shown}`);
    this.problem = shown;
    this.name = 'TraceError';
  }
}

/** Longest quoted text an error message shows whole. */
const QUOTED_MAX = 64;

/**
 * Messages quote the offending cell ('...'); a cell of megabytes (a file
 * without line ends, binary junk) is shown by its start and its length, so
 * the error stays one readable line.
 */
export function shortenQuoted(problem: string): string {
  if (problem.length <= QUOTED_MAX) return problem;
  let out = '';
  let from = 0;
  for (;;) {
    const open = problem.indexOf("'", from);
    const close = open < 0 ? -1 : problem.indexOf("'", open + 1);
    if (close < 0) return out + problem.slice(from);
    const q = problem.slice(open + 1, close);
    out += problem.slice(from, open + 1) + (q.length > QUOTED_MAX ? `${q.slice(0, QUOTED_MAX - 4)}...' (${q.length} characters)` : `${q}'`);
    from = close + 1;
  }
}
