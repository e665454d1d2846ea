/**
 * The STE stream: stores to stream-table entries, invalidations the SMMU
 * consumed, and fetches, with the `state` of every store.
 *
 * A store's state compares the entry right after the store with the entry at
 * the previous invalidation covering it (`old`) and at the next one (`new`).
 * The next invalidation lies in the future, so store rows wait in a reorder
 * buffer until it happens (or the trace ends, when `new` is the final
 * contents); rows leave the buffer strictly in the order they were made.
 */
import { formatField } from '../model/fields.js';
import { STE_LAYOUT } from '../model/ste.js';
import { fieldMask } from '../model/fields.js';
import type { SteRow, SteState } from './streams.js';
import { classifyStore, steUsedMask } from '../policy/usedBits.js';

interface PendingStore {
  readonly line: number;
  readonly sid: number;
  readonly qword: number;
  readonly value: bigint;
  readonly entry: readonly bigint[];
  /** The trace's memory is observed, not stored by software: no window to judge. */
  readonly observed: boolean;
}

interface Slot {
  row?: SteRow;
  pending?: PendingStore;
}

interface SidState {
  /** Entry at the last invalidation (or when first seen). */
  baseline: readonly bigint[];
  /** Slots of stores waiting for the next invalidation. */
  waiting: Slot[];
}

/** Decoded fields an entry uses, non-zero ones only (V and Config always). */
export function steSummary(q: readonly bigint[]): string {
  const used = steUsedMask(q);
  const parts: string[] = [];
  for (const f of STE_LAYOUT.fields) {
    if (((used[f.qword] ?? 0n) & fieldMask(f)) === 0n) continue;
    const raw = (q[f.qword] ?? 0n) & fieldMask(f);
    const v = f.addr ? raw : raw >> BigInt(f.lo);
    if (v === 0n && f.name !== 'V' && f.name !== 'Config') continue;
    parts.push(formatField(f, v));
  }
  return parts.join(' ');
}

/**
 * Rows the tracker may hold back at once.  A store row waits for the next
 * invalidation of its StreamID, and every row after it waits too (rows
 * leave in order); a trace that stores STEs and never invalidates them would
 * hold its whole STE stream.  About 300 bytes a row: this bound keeps that
 * below a few hundred MB and is far above what a real trace holds (tens).
 */
export const MAX_HELD_ROWS = 1_000_000;

/** The reorder buffer is full: the oldest waiting store is `line`, to StreamID `sid`. */
export class SteBacklogFull extends Error {
  constructor(readonly line: number, readonly sid: number, limit: number) {
    super(`more than ${limit} rows of the STE stream are waiting for an invalidation: the store at line ${line} to the STE of StreamID 0x${sid.toString(16)} has had no CFGI covering it since, and the rows after it cannot be written before it`);
    this.name = 'SteBacklogFull';
  }
}

export class SteTracker {
  private readonly sids = new Map<number, SidState>();
  private readonly queue: Slot[] = [];
  private head = 0;
  /** Largest number of rows held back at once (reported by benchmarks). */
  maxHeld = 0;

  constructor(private readonly emit: (r: SteRow) => void, private readonly limit = MAX_HELD_ROWS) {}

  get trackedSids(): IterableIterator<number> {
    return this.sids.keys();
  }

  isTracked(sid: number): boolean {
    return this.sids.has(sid);
  }

  /** Start tracking a StreamID with the entry it held before anything was observed. */
  track(sid: number, entry: readonly bigint[]): void {
    if (!this.sids.has(sid)) this.sids.set(sid, { baseline: entry, waiting: [] });
  }

  store(line: number, sid: number, qword: number, value: bigint, before: readonly bigint[], after: readonly bigint[], observed = false): void {
    this.track(sid, before);
    const slot: Slot = { pending: { line, sid, qword, value, entry: after, observed } };
    this.sids.get(sid)!.waiting.push(slot);
    this.push(slot);
  }

  /** An invalidation covering `sid` was consumed; `entry` is what the table holds now. */
  cfgi(line: number, sid: number, entry: readonly bigint[], state: SteState): void {
    this.track(sid, entry);
    this.resolve(sid, entry);
    this.push({ row: { line, sid, action: 'cfgi', qword: undefined, value: undefined, state, summary: steSummary(entry) } });
  }

  fetch(line: number, sid: number, entry: readonly bigint[], state: SteState): void {
    this.track(sid, entry);
    this.push({ row: { line, sid, action: 'fetch', qword: undefined, value: undefined, state, summary: steSummary(entry) } });
  }

  /** End of trace: waiting stores are judged against the final contents. */
  finish(finalEntry: (sid: number) => readonly bigint[]): void {
    for (const sid of this.sids.keys()) this.resolve(sid, finalEntry(sid));
    this.drain();
  }

  private resolve(sid: number, next: readonly bigint[]): void {
    const s = this.sids.get(sid)!;
    for (const slot of s.waiting) {
      const p = slot.pending!;
      slot.row = {
        line: p.line, sid, action: 'store', qword: p.qword, value: p.value,
        state: p.observed ? 'observed' : classifyStore(p.entry, s.baseline, next), summary: steSummary(p.entry),
      };
      delete slot.pending;
    }
    s.waiting = [];
    s.baseline = next;
    this.drain();
  }

  private push(slot: Slot): void {
    this.queue.push(slot);
    this.drain();
    const held = this.queue.length - this.head;
    if (held > this.maxHeld) this.maxHeld = held;
    if (held > this.limit) {
      const p = this.queue[this.head]!.pending!;
      throw new SteBacklogFull(p.line, p.sid, this.limit);
    }
  }

  private drain(): void {
    while (this.head < this.queue.length && this.queue[this.head]!.row) {
      this.emit(this.queue[this.head]!.row!);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
