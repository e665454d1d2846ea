/**
 * Trace rows in a form that crosses between threads cheaply: the parser's
 * worker thread (src/trace/parallel.ts) packs a batch of rows into typed
 * arrays, whose memory is transferred, not copied, and the replay thread
 * unpacks them into the same Row objects the parser made.  Structured
 * cloning the Row objects instead would cost more than parsing them.
 *
 * The kinds that make up a large trace (dma, mem_write, mmio_write,
 * mmio_read) are packed field by field: numbers into a Uint32Array (every
 * one fits: a DMA size of 2^32 is kept as size - 1, an absent SubstreamID or
 * register as 0 and the others plus one), 64-bit values into a
 * BigUint64Array.  Unpacked numbers are then small integers exactly as the
 * parser makes them (a Float64Array would give doubles, and rows whose
 * fields change representation slow every function that reads them).  The other kinds (cmd, op, meta, mem_abort) are few and go
 * as plain objects, with the command definition by name.
 */
import { COMMANDS, commandByName, type CommandDef } from '../model/commands.js';
import { EVENT_TYPES, type EventName } from '../model/events.js';
import { REGISTERS } from '../model/registers.js';
import type { DmaAccess, Expect, Row } from './format.js';
import { scanDmaLine, type DmaLineFields, type RowCollector } from './parse.js';

/** Numbers per row, and 64-bit values per row. */
const NUMS = 8;
const BIGS = 3;

const K_OTHER = 0, K_DMA = 1, K_MEM_WRITE = 2, K_MMIO_WRITE = 3, K_MMIO_READ = 4;
const ACCESSES: readonly DmaAccess[] = ['r', 'w', 'x', '-'];
const EXPECT_NONE = 0, EXPECT_PA = 1, EXPECT_BYPASS = 2, EXPECT_ABORT = 3, EXPECT_FAULT = 4;

const REG_INDEX = new Map(REGISTERS.map((r, i) => [r, i]));
const EVENT_NAMES: readonly EventName[] = EVENT_TYPES.map((e) => e.name);
const EVENT_INDEX = new Map(EVENT_NAMES.map((n, i) => [n, i]));

/** A row that is not packed, as it crosses threads (the command definition by name). */
type LooseRow = Exclude<Row, { kind: 'cmd' }> | (Omit<Extract<Row, { kind: 'cmd' }>, 'def'> & { def: string | undefined });

/** A batch of rows in transferable form. */
export interface PackedRows {
  readonly count: number;
  readonly nums: Uint32Array;
  readonly bigs: BigUint64Array;
  /** Rows not packed, with their index in the batch. */
  readonly loose: readonly { readonly at: number; readonly row: LooseRow }[];
}

/** The memory to transfer with a PackedRows. */
export function transferList(p: PackedRows): ArrayBuffer[] {
  return [p.nums.buffer as ArrayBuffer, p.bigs.buffer as ArrayBuffer];
}

/**
 * Packs rows as the reader collects them (src/trace/parse.ts, readTraceInto):
 * Row objects field by field, and plain `dma` lines straight from their text
 * (scanDmaLine), without making a Row object the replay thread would make
 * again.
 */
export class PackedCollector implements RowCollector<PackedRows> {
  private cap: number;
  private n = 0;
  private nums: Uint32Array;
  private bigs: BigUint64Array;
  private loose: { at: number; row: LooseRow }[] = [];
  private readonly dmaFields: DmaLineFields = { sid: 0, addr: 0n, access: 'r' };

  constructor(capacity = 1024) {
    this.cap = capacity;
    this.nums = new Uint32Array(capacity * NUMS);
    this.bigs = new BigUint64Array(capacity * BIGS);
  }

  get size(): number {
    return this.n;
  }

  private room(): void {
    if (this.n < this.cap) return;
    this.cap *= 2;
    const nums = new Uint32Array(this.cap * NUMS);
    nums.set(this.nums);
    const bigs = new BigUint64Array(this.cap * BIGS);
    bigs.set(this.bigs);
    this.nums = nums;
    this.bigs = bigs;
  }

  addDmaLine(line: number, text: string): boolean {
    const f = this.dmaFields;
    if (!scanDmaLine(text, f)) return false;
    this.room();
    const o = this.n * NUMS;
    const nums = this.nums;
    nums[o] = K_DMA;
    nums[o + 1] = line;
    nums[o + 2] = f.sid;
    nums[o + 3] = ACCESSES.indexOf(f.access);
    nums[o + 4] = 0; // no SubstreamID
    nums[o + 5] = 3; // size 4
    nums[o + 6] = 1; // privileged
    nums[o + 7] = 0; // no data, no expectation
    this.bigs[this.n * BIGS] = f.addr;
    this.n++;
    return true;
  }

  add(r: Row): void {
    this.room();
    const i = this.n++;
    const { nums, bigs } = this;
    const o = i * NUMS;
    const g = i * BIGS;
    nums[o + 1] = r.line;
    switch (r.kind) {
      case 'dma': {
        nums[o] = K_DMA;
        nums[o + 2] = r.sid;
        nums[o + 3] = ACCESSES.indexOf(r.access);
        nums[o + 4] = r.ssid === undefined ? 0 : r.ssid + 1;
        nums[o + 5] = r.size - 1;
        nums[o + 6] = r.priv ? 1 : 0;
        let flags = r.data !== undefined ? 1 : 0;
        bigs[g] = r.addr;
        if (r.data !== undefined) bigs[g + 1] = r.data;
        const e = r.expect;
        if (e) {
          switch (e.kind) {
            case 'pa': flags |= EXPECT_PA << 1; bigs[g + 2] = e.pa; break;
            case 'bypass': flags |= EXPECT_BYPASS << 1; break;
            case 'abort': flags |= EXPECT_ABORT << 1; break;
            case 'fault': flags |= (EXPECT_FAULT << 1) | (EVENT_INDEX.get(e.event)! << 4); break;
          }
        }
        nums[o + 7] = flags;
        break;
      }
      case 'mem_write':
        nums[o] = K_MEM_WRITE;
        nums[o + 2] = r.size;
        bigs[g] = r.addr;
        bigs[g + 1] = r.value;
        break;
      case 'mmio_write':
        nums[o] = K_MMIO_WRITE;
        nums[o + 2] = r.offset;
        nums[o + 3] = r.size;
        nums[o + 4] = r.reg ? REG_INDEX.get(r.reg)! + 1 : 0;
        bigs[g] = r.value;
        break;
      case 'mmio_read':
        nums[o] = K_MMIO_READ;
        nums[o + 2] = r.offset;
        nums[o + 3] = r.size;
        nums[o + 4] = r.reg ? REG_INDEX.get(r.reg)! + 1 : 0;
        nums[o + 5] = r.expect !== undefined ? 1 : 0;
        if (r.expect !== undefined) bigs[g] = r.expect;
        break;
      case 'cmd':
        nums[o] = K_OTHER;
        this.loose.push({ at: i, row: { ...r, def: r.def?.name } });
        break;
      default:
        nums[o] = K_OTHER;
        this.loose.push({ at: i, row: r });
    }
  }

  /** The batch (its arrays are then transferred away: the next batch gets new ones of the same size). */
  take(): PackedRows {
    const p: PackedRows = { count: this.n, nums: this.nums, bigs: this.bigs, loose: this.loose };
    this.n = 0;
    this.nums = new Uint32Array(this.cap * NUMS);
    this.bigs = new BigUint64Array(this.cap * BIGS);
    this.loose = [];
    return p;
  }
}

/** Pack rows (for tests; the parse thread packs as it reads, with PackedCollector). */
export function packRows(rows: readonly Row[]): PackedRows {
  const c = new PackedCollector(Math.max(1, rows.length));
  for (const r of rows) c.add(r);
  return c.take();
}

export function unpackRows(p: PackedRows): Row[] {
  const { nums, bigs } = p;
  const out = new Array<Row>(p.count);
  let next = 0;
  for (let i = 0; i < p.count; i++) {
    const o = i * NUMS;
    const g = i * BIGS;
    const line = nums[o + 1]!;
    switch (nums[o]) {
      case K_DMA: {
        const flags = nums[o + 7]!;
        const ssid = nums[o + 4]!;
        out[i] = {
          kind: 'dma', line, sid: nums[o + 2]!, addr: bigs[g]!, access: ACCESSES[nums[o + 3]!]!,
          ssid: ssid === 0 ? undefined : ssid - 1, size: nums[o + 5]! + 1, priv: nums[o + 6] === 1,
          data: (flags & 1) !== 0 ? bigs[g + 1]! : undefined, expect: unpackExpect(flags, bigs[g + 2]!),
        };
        break;
      }
      case K_MEM_WRITE:
        out[i] = { kind: 'mem_write', line, addr: bigs[g]!, value: bigs[g + 1]!, size: nums[o + 2]! as 1 | 2 | 4 | 8 };
        break;
      case K_MMIO_WRITE: {
        const reg = nums[o + 4]!;
        out[i] = { kind: 'mmio_write', line, reg: reg === 0 ? undefined : REGISTERS[reg - 1], offset: nums[o + 2]!, value: bigs[g]!, size: nums[o + 3]! as 4 | 8 };
        break;
      }
      case K_MMIO_READ: {
        const reg = nums[o + 4]!;
        out[i] = {
          kind: 'mmio_read', line, reg: reg === 0 ? undefined : REGISTERS[reg - 1], offset: nums[o + 2]!, size: nums[o + 3]! as 4 | 8,
          expect: nums[o + 5] === 1 ? bigs[g]! : undefined,
        };
        break;
      }
      default: {
        const l = p.loose[next++]!;
        out[i] = l.row.kind === 'cmd' ? { ...l.row, def: l.row.def === undefined ? undefined : commandDef(l.row.def) } : l.row;
      }
    }
  }
  return out;
}

function unpackExpect(flags: number, pa: bigint): Expect | undefined {
  switch ((flags >> 1) & 7) {
    case EXPECT_NONE: return undefined;
    case EXPECT_PA: return { kind: 'pa', pa };
    case EXPECT_BYPASS: return { kind: 'bypass' };
    case EXPECT_ABORT: return { kind: 'abort' };
    default: return { kind: 'fault', event: EVENT_NAMES[flags >> 4]! };
  }
}

function commandDef(name: string): CommandDef {
  return commandByName(name) ?? COMMANDS.find((c) => c.name === name)!;
}
