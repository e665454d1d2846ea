/**
 * The three canonical output streams of a replay (docs/streams.md): STE,
 * fault and DMA.  Rows are values here; report/csv.ts turns them into the
 * canonical CSV text (header row, LF line ends, fixed-width hex).
 */

export type SteAction = 'store' | 'cfgi' | 'fetch';
/**
 * `observed`: a store of a trace that declares `meta,memory,observed` (an imported capture), whose
 * mem_write rows are memory the SMMU was seen to read, not CPU stores, so no window is judged.
 */
export type SteState = 'old' | 'new' | 'safe' | 'unsafe' | 'invalid' | 'valid' | 'illegal' | 'observed';

export interface SteRow {
  readonly line: number;
  readonly sid: number;
  readonly action: SteAction;
  /** Doubleword stored (store rows only). */
  readonly qword: number | undefined;
  readonly value: bigint | undefined;
  readonly state: SteState;
  readonly summary: string;
}

export type FaultSource = 'evtq' | 'lost' | 'gerror' | 'driver' | 'hazard' | 'check' | 'model';

export interface FaultRow {
  readonly line: number;
  readonly source: FaultSource;
  readonly type: string;
  readonly sid: number | undefined;
  readonly ssid: number | undefined;
  readonly addr: bigint | undefined;
  readonly detail: string;
}

export type DmaOutcome = 'translated' | 'bypass' | 'abort' | 'fault' | 'unsupported';

export interface DmaStreamRow {
  readonly line: number;
  readonly sid: number;
  readonly ssid: number | undefined;
  readonly addr: bigint;
  readonly access: string;
  readonly outcome: DmaOutcome;
  readonly pa: bigint | undefined;
  readonly detail: string;
}

export type StreamName = 'ste' | 'faults' | 'dma';
export const STREAMS: readonly StreamName[] = ['ste', 'faults', 'dma'];

/** Where a replay sends its rows, in line order per stream. */
export interface StreamSink {
  ste(r: SteRow): void;
  fault(r: FaultRow): void;
  dma(r: DmaStreamRow): void;
  /**
   * Optional: the row `dma({ line, sid, ssid, addr, access, outcome, pa: addr + delta, detail })`
   * given as its fields, for a DMA the SMMU's translation memo answered (`deltaNum`: delta as a
   * number where exact, else NaN).  A sink that can often
   * do without the row object (a variant following the first variant's DMA stream) saves making
   * it, once per variant per DMA row.
   */
  dmaMemo?(line: number, sid: number, ssid: number | undefined, addr: bigint, access: string, outcome: DmaOutcome, delta: bigint, deltaNum: number, detail: string): void;
}
