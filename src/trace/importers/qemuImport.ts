/**
 * A QEMU capture (trace log + guest-memory snapshots) to a hardware-level
 * trace v1 (docs/trace-format.md, docs/recording.md).
 *
 * Pure: parsed log and snapshot views in, trace text and a summary out.  The
 * rule throughout is that the importer never invents a value.  Each row says
 * something the capture shows:
 *
 *  - register accesses are the log's `smmuv3_{read,write}_mmio` lines, in log
 *    order; a read carries `expect=` the value QEMU returned;
 *  - commands are the words in command-queue memory (the log names only the
 *    opcode), taken from the first snapshot after the CMDQ_PROD write that
 *    published them, and checked against the opcode QEMU logged when it
 *    consumed them;
 *  - memory is written only where the SMMU read it, just before the
 *    transaction that read it: every translation-table descriptor at the
 *    value `smmu_get_pte` logged, each STE and CD as a snapshot holds it when
 *    no CFGI for that StreamID lies between the fetch and the snapshot (so a
 *    correctly invalidating driver cannot have changed it), and each L1
 *    stream-table descriptor from `smmuv3_find_ste_2lvl`;
 *  - every translate call QEMU logged is one `dma` row whose `expect=` is
 *    QEMU's outcome.
 *
 * What the capture does not say is left out and counted: the direction and
 * size of successful DMA (access `-`, which the model translates as a read
 * without judging permissions), and the outcome check of a transaction whose
 * STE or CD no snapshot holds reliably.
 */
import { commandByName, decodeCommand, encodeCommand, type CommandDef } from '../../model/commands.js';
import { decodeCd } from '../../model/cd.js';
import { isEventName, type EventName } from '../../model/events.js';
import { hex64 } from '../../model/fields.js';
import { PROFILES } from '../../model/profiles.js';
import { resolveOffset } from '../../model/registers.js';
import { steSummary } from '../../replay/steTracker.js';
import { TraceError } from '../format.js';
import type { LogPos, ParsedLog, QemuEvent } from './qemuLog.js';
import type { SnapshotMemory } from './snapshots.js';
import { headerLines, type ImportSummary } from './summary.js';

export interface CaptureSnapshot {
  readonly name: string;
  readonly traceOffset: number;
  /** undefined when the capture has neither a dump nor a RAM image for it. */
  readonly memory: SnapshotMemory | undefined;
}

export interface CaptureInput {
  /** Name of the capture (the directory's base name): provenance in the output. */
  readonly name: string;
  /** How errors and the header name the log file. */
  readonly logFile: string;
  readonly log: ParsedLog;
  readonly snapshots: readonly CaptureSnapshot[];
  /** QEMU version, major.minor (`7.2`). */
  readonly qemuVersion: string;
  /** Guest kernel release, if the capture's console says it. */
  readonly kernel: string | undefined;
  /** The capture's own description (its README), quoted in the header. */
  readonly notes: string | undefined;
}

export type { ImportSummary };

export interface ImportResult {
  readonly text: string;
  readonly summary: ImportSummary;
}

// ---------------------------------------------------------------------------

const QEMU_EVENTS: Readonly<Record<string, EventName>> = {
  // QEMU's names for the event types that differ from the spec's mnemonics.
  F_TRANS_FORBIDDEN: 'F_TRANSL_FORBIDDEN',
  E_PAGE_REQ: 'E_PAGE_REQUEST',
};

/** The spec event name of a QEMU `SMMU_EVT_*` string, or undefined (no event, e.g. "no recorded event"). */
export function eventOfQemu(s: string): EventName | undefined {
  const m = /^SMMU_EVT_(\w+)$/.exec(s);
  if (!m) return undefined;
  const n = QEMU_EVENTS[m[1]!] ?? m[1]!;
  return isEventName(n) ? n : undefined;
}

/** The opcode of a QEMU `SMMU_CMD_*` name (QEMU 7.2's enum), or undefined if it is not one. */
export function opcodeOfQemu(s: string): number | undefined {
  const m = /^SMMU_CMD_(\w+)$/.exec(s);
  if (!m) return undefined;
  // QEMU 7.2 calls opcode 0x07 CFGI_ALL (the spec's CFGI_ALL is CFGI_STE_RANGE with Range 31, §4.3.6).
  if (m[1] === 'CFGI_ALL') return 0x07;
  return commandByName(m[1]!)?.opcode;
}

/** QEMU 7.2 clamps queue LOG2SIZE to 19 (its SMMU_IDR1.CMDQS and EVENTQS, §6.3.2). */
const QEMU_QS_MAX = 19;

/** Page-0 offsets QEMU reaches through Page 1 for the queue pointers (it clears address bit 16). */
const PAGE1_ALIASED = new Set([0xa8, 0xac, 0xc8, 0xcc]);

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const hex32 = (v: bigint) => `0x${v.toString(16).padStart(8, '0')}`;

interface Fact {
  readonly kind: 'pte' | 'l1std' | 'ste' | 'cd';
  readonly addr: bigint;
  readonly qwords: readonly bigint[];
  readonly comment: string | undefined;
}

interface Tx {
  readonly start: LogPos;
  readonly sid: number;
  readonly facts: Fact[];
  /** Why the configuration this transaction used is not known (no expect= then). */
  unknown: string | undefined;
  ste?: { addr: bigint; q: readonly bigint[] } | undefined;
  cd?: { addr: bigint; q: readonly bigint[]; snap: string } | undefined;
  outcome?: { pos: LogPos; iova: bigint; expect: string; kind: string } | undefined;
  failedEvent?: EventName | undefined;
  recorded?: boolean;
  access?: { write: boolean; size: number } | undefined;
}

interface ConsumedCmd {
  readonly pos: LogPos;
  /** QEMU's name of the opcode (`SMMU_CMD_SYNC`); '' until its smmuv3_cmdq_opcode line. */
  opcodeName: string;
  verified: boolean;
  detail?: { kind: 'sid'; sid: number } | { kind: 'range'; start: number; end: number } | { kind: 'asid'; asid: number } | undefined;
}

interface CfgiMark {
  readonly offset: number;
  covers(sid: number): boolean;
}

class Importer {
  private readonly rows: string[] = [];
  private readonly image = new Map<bigint, bigint>();
  private tx: Tx | undefined;
  private readonly unknownSids = new Map<number, string>();
  private phase = 0;
  private readonly phaseStart: number[] = [];
  private readonly phaseDma: Record<string, number>[] = [];
  // Command queue.
  private cmdqBase = 0n;
  private cr0 = 0n;
  private prodReg = 0;
  private published: { words: readonly [bigint, bigint]; pos: LogPos }[] = [];
  private consumed: ConsumedCmd[] = [];
  private readonly cfgis: CfgiMark[] = [];
  private readonly cmdCountAtSnapshot: number[];
  // Event queue: records QEMU wrote (record_event lines) and the driver's consumer index.
  private evtqBase = 0n;
  private evtqCons = 0;
  private recordsWritten = 0;
  private recordsRead = 0;
  private readonly recordCountAtSnapshot: number[] = [];
  // Counts.
  private readonly count = {
    rows: {} as Record<string, number>, dma: {} as Record<string, number>, checksDma: 0, checksMmio: 0,
    pteReads: 0, pteWrites: 0, steFetches: 0, cdFetches: 0, l1std: 0, bySnapshot: {} as Record<string, number>,
    commands: 0, commandsBySnapshot: {} as Record<string, number>, raw: 0, page1: 0,
    dirUnknown: 0, sizeUnknown: 0, unchecked: 0, mmioRejected: 0, mmioUnpredictable: 0, events: 0, otherInvalid: 0,
    recordsChecked: 0, recordsBySnapshot: {} as Record<string, number>, recordsUnchecked: 0,
    ignored: {} as Record<string, number>,
  };
  private readonly idReads = new Map<string, bigint>();

  constructor(private readonly input: CaptureInput) {
    this.cmdCountAtSnapshot = this.prepass();
  }

  private err(pos: LogPos, problem: string): TraceError {
    return new TraceError(this.input.logFile, pos.line, `${problem} (byte offset ${pos.offset})`);
  }

  /**
   * One pass ahead of the import: where the CFGIs are (for deciding whether a
   * snapshot still holds the STE/CD a fetch read) and how many commands had
   * been published when each snapshot was taken (for deciding whether a
   * queue slot had been overwritten by then).
   */
  private prepass(): number[] {
    const ev = this.input.log.events;
    const snaps = this.input.snapshots;
    const counts: number[] = [];
    let published = 0;
    let prod = 0;
    let log2 = 0;
    let cr0 = 0n;
    let si = 0;
    let records = 0;
    for (let i = 0; i < ev.length; i++) {
      const e = ev[i]!;
      while (si < snaps.length && snaps[si]!.traceOffset <= e.offset) { counts.push(published); this.recordCountAtSnapshot.push(records); si++; }
      if (e.kind === 'record_event') records++;
      if (e.kind === 'mmio' && e.write && e.result === 0 && e.addr === 0xa0 && e.size === 8) records = 0;
      if (e.kind === 'mmio' && e.write && e.result === 0) {
        if (e.addr === 0x90 && e.size === 8) { log2 = Math.min(Number(e.value & 0x1fn), QEMU_QS_MAX); prod = 0; published = 0; }
        if (e.addr === 0x20) cr0 = e.value;
        if (e.addr === 0x98) {
          const v = Number(e.value) & ((2 << log2) - 1);
          if ((cr0 & 8n) !== 0n) published += (v - prod + (2 << log2)) % (2 << log2);
          prod = v;
        }
      }
      if (e.kind === 'cmdq_opcode' && /CFGI/.test(e.name)) {
        const next = ev[i + 1];
        if (next?.kind === 'cmdq_cfgi_ste' || next?.kind === 'cmdq_cfgi_cd') {
          const sid = next.sid;
          this.cfgis.push({ offset: e.offset, covers: (s) => s === sid });
        } else if (next?.kind === 'cmdq_cfgi_ste_range') {
          const { start, end } = next;
          this.cfgis.push({ offset: e.offset, covers: (s) => s >= start && s <= end });
        } else {
          this.cfgis.push({ offset: e.offset, covers: () => true });
        }
      }
    }
    while (si < snaps.length) { counts.push(published); this.recordCountAtSnapshot.push(records); si++; }
    return counts;
  }

  private cfgiBetween(sid: number, from: number, to: number): boolean {
    return this.cfgis.some((c) => c.offset >= from && c.offset < to && c.covers(sid));
  }

  /**
   * The contents of a configuration structure at a fetch: from the first
   * snapshot after it, else the last one before it, provided no CFGI
   * covering the StreamID lies between the fetch and that snapshot.
   */
  private structureAt(pos: LogPos, sid: number, addr: bigint): { q: bigint[]; snap: string } | { why: string } {
    const snaps = this.input.snapshots;
    const after = snaps.findIndex((s) => s.traceOffset > pos.offset);
    const tried: string[] = [];
    const candidates = [after, after < 0 ? snaps.length - 1 : after - 1];
    for (const i of candidates) {
      const s = snaps[i];
      if (!s) continue;
      const isAfter = i === after;
      if (isAfter ? this.cfgiBetween(sid, pos.offset, s.traceOffset) : this.cfgiBetween(sid, s.traceOffset, pos.offset)) {
        tried.push(`'${s.name}' (a CFGI for StreamID ${hex(sid)} lies in between)`);
        continue;
      }
      const q = s.memory?.qwords(addr, 8);
      if (!q) { tried.push(`'${s.name}' (does not cover ${hex(addr)})`); continue; }
      return { q, snap: s.name };
    }
    return { why: tried.length ? `no usable snapshot: ${tried.join(', ')}` : 'the capture has no snapshots' };
  }

  run(): ImportResult {
    const ev = this.input.log.events;
    const snaps = this.input.snapshots;
    this.beginPhase(1);
    for (const e of ev) {
      while (this.phase < snaps.length && snaps[this.phase]!.traceOffset <= e.offset) {
        this.flush();
        this.beginPhase(e.line);
      }
      this.event(e);
    }
    this.flush();
    this.finishCommands();
    return this.result();
  }

  private beginPhase(line: number): void {
    const snaps = this.input.snapshots;
    if (this.phaseStart.length > 0) this.phase++;
    this.phaseStart.push(line);
    this.phaseDma.push({});
    const s = snaps[this.phase];
    const name = s ? s.name : snaps.length ? `after-${snaps[snaps.length - 1]!.name}` : 'all';
    const until = s ? `up to snapshot '${s.name}' (log byte ${s.traceOffset})` : snaps.length ? 'after the last snapshot' : 'the whole log (no snapshots)';
    this.rows.push('', `# ---- phase ${name}: log line ${line} onwards, ${until}`, `meta,phase,${name}`);
  }

  private emit(row: string): void {
    const kind = row.slice(0, row.indexOf(','));
    this.count.rows[kind] = (this.count.rows[kind] ?? 0) + 1;
    this.rows.push(row);
  }

  private event(e: QemuEvent): void {
    // Lines that complete a transaction whose outcome is already known: the event record and the memory
    // core's report of the failed access.
    if (this.tx?.outcome) {
      if (e.kind === 'record_event') return this.recordEvent(e);
      if (e.kind === 'invalid_access') return this.invalidAccess(e);
      if (e.kind === 'other') return this.other(e);
      this.flush();
    }
    switch (e.kind) {
      case 'mmio': return this.mmio(e);
      case 'cmdq_consume':
        this.consumed.push({ pos: e, opcodeName: '', verified: false });
        return;
      case 'cmdq_opcode': {
        const c = this.consumed[this.consumed.length - 1];
        if (!c || c.opcodeName !== '') throw this.err(e, 'smmuv3_cmdq_opcode without the smmuv3_cmdq_consume line before it');
        c.opcodeName = e.name;
        return;
      }
      case 'cmdq_cfgi_ste': case 'cmdq_cfgi_cd':
        return this.detail(e, { kind: 'sid', sid: e.sid });
      case 'cmdq_cfgi_ste_range':
        return this.detail(e, { kind: 'range', start: e.start, end: e.end });
      case 'cmdq_tlbi_nh_asid':
        return this.detail(e, { kind: 'asid', asid: e.asid });
      case 'cmdq_consume_error':
        return this.other({ event: 'smmuv3_cmdq_consume_error' });
      case 'config_lookup':
        this.tx = { start: e, sid: e.sid, facts: [], unknown: this.unknownSids.get(e.sid) };
        return;
      case 'find_ste': case 'find_ste_2lvl': case 'get_ste': case 'get_cd': case 'decode_cd': case 'decode_cd_tt':
        return this.config(e);
      case 'get_pte': return this.pte(e);
      case 'translate': return this.translate(e);
      case 'translation_failed': return this.failed(e);
      case 'record_event':
        throw this.err(e, this.tx
          ? `smmuv3_record_event ${e.event} for StreamID ${hex(e.sid)}, but the translation that started at line ${this.tx.start.line} has no 'translation failed' line: record with -d guest_errors (docs/recording.md)`
          : `smmuv3_record_event ${e.event} for StreamID ${hex(e.sid)} outside a translation`);
      case 'invalid_access':
        this.count.otherInvalid++;
        return;
      case 'other': return this.other(e);
    }
  }

  private other(e: { event: string | undefined }): void {
    const k = e.event ?? '(other log lines)';
    this.count.ignored[k] = (this.count.ignored[k] ?? 0) + 1;
  }

  private detail(e: QemuEvent, d: NonNullable<ConsumedCmd['detail']>): void {
    const c = this.consumed[this.consumed.length - 1];
    if (!c || c.detail) throw this.err(e, 'a command detail line that follows no smmuv3_cmdq_opcode');
    c.detail = d;
  }

  // -------------------------------------------------------------------------
  // Registers and commands.

  private mmio(e: Extract<QemuEvent, { kind: 'mmio' }>): void {
    if (e.result !== 0) { this.count.mmioRejected++; return; }
    let off = e.addr;
    if (PAGE1_ALIASED.has(off)) { off += 0x10000; this.count.page1++; }
    const hit = resolveOffset(off);
    if (e.size !== 4 && e.size !== 8) throw this.err(e, `a ${e.size}-byte register access: QEMU accepts only 4 and 8`);
    if (e.size === 8 && (!hit || hit.upper || hit.reg.width !== 64 || off % 8 !== 0)) { this.count.mmioUnpredictable++; return; }
    let reg: string;
    let size = '';
    if (hit && !hit.upper) {
      reg = hit.reg.name;
      if (hit.reg.width === 64 && e.size === 4) size = ',size=4';
    } else {
      reg = hex(off);
    }
    const value = e.size === 8 ? hex64(e.value) : hex32(e.value);
    if (!e.write) {
      if (hit && !hit.upper && /^(IDR[0-5]|IIDR|AIDR)$/.test(hit.reg.name)) this.idReads.set(hit.reg.name, e.value);
      this.count.checksMmio++;
      this.emit(`mmio_read,${reg}${size},expect=${value}`);
      return;
    }
    if (off === 0x90 && e.size === 8) this.queueReset(e.value);
    if (off === 0x90 && e.size === 4) throw this.err(e, 'CMDQ_BASE written in 32-bit halves: not supported by the importer');
    if (off === 0x20) this.cr0 = e.value;
    if (off === 0xa0 && e.size === 8) { this.evtqBase = e.value; this.evtqCons = 0; this.recordsRead = 0; this.recordsWritten = 0; }
    if (off === 0x100ac) this.consume(e);
    if (off === 0x98 && (this.cr0 & 8n) !== 0n) this.publish(e);
    else if (off === 0x98) this.prodReg = Number(e.value);
    this.emit(`mmio_write,${reg},${value}${size}`);
  }

  /**
   * An EVENTQ_CONS write: the driver has read the records it moves past.
   * Each becomes four mem_read rows expecting the record QEMU wrote, as the
   * first snapshot after this point holds it (the slot is rewritten only
   * when the queue wraps over it).
   */
  private consume(e: Extract<QemuEvent, { kind: 'mmio' }>): void {
    const log2 = Math.min(Number(this.evtqBase & 0x1fn), QEMU_QS_MAX);
    const wrap = 2 << log2;
    const v = Number(e.value) & (wrap - 1);
    const n = (v - this.evtqCons + wrap) % wrap;
    const start = this.evtqBase & 0x00ffffffffffffe0n & ~((32n << BigInt(log2)) - 1n);
    const snaps = this.input.snapshots;
    const si = snaps.findIndex((s) => s.traceOffset > e.offset);
    for (let k = 0; k < n; k++) {
      const slot = (this.evtqCons + k) & ((1 << log2) - 1);
      const linear = this.recordsRead + k;
      const addr = start + BigInt(slot) * 32n;
      const s = snaps[si];
      const q = s && linear < this.recordsWritten && this.recordCountAtSnapshot[si]! - linear <= 1 << log2 ? s.memory?.qwords(addr, 4) : undefined;
      if (!s || !q) { this.count.recordsUnchecked++; continue; }
      this.count.recordsChecked++;
      this.count.recordsBySnapshot[s.name] = (this.count.recordsBySnapshot[s.name] ?? 0) + 1;
      this.rows.push(`# event record ${linear} (queue slot ${slot}) as QEMU wrote it (snapshot '${s.name}'), read by the driver before it moves EVENTQ_CONS on`);
      q.forEach((w, i) => this.emit(`mem_read,${hex(addr + BigInt(i) * 8n)},expect=${hex64(w)}`));
    }
    this.recordsRead += n;
    this.evtqCons = v;
  }

  private get log2(): number {
    return Math.min(Number(this.cmdqBase & 0x1fn), QEMU_QS_MAX);
  }

  private queueReset(base: bigint): void {
    this.finishCommands();
    this.cmdqBase = base;
    this.prodReg = 0;
    this.published = [];
    this.consumed = [];
  }

  /** A CMDQ_PROD write: emit the commands it publishes, from queue memory. */
  private publish(e: Extract<QemuEvent, { kind: 'mmio' }>): void {
    const log2 = this.log2;
    const wrapMask = (2 << log2) - 1;
    const v = Number(e.value) & wrapMask;
    const n = (v - this.prodReg + (2 << log2)) % (2 << log2);
    if (n > 1 << log2) throw this.err(e, `CMDQ_PROD ${hex(v)} publishes ${n} commands, more than the queue holds`);
    const qbase = this.cmdqBase & 0x00ffffffffffffe0n & ~((16n << BigInt(log2)) - 1n);
    const snaps = this.input.snapshots;
    const si = snaps.findIndex((s) => s.traceOffset > e.offset);
    for (let k = 0; k < n; k++) {
      const index = (this.prodReg + k) & ((1 << log2) - 1);
      const linear = this.published.length;
      const slot = qbase + BigInt(index) * 16n;
      const s = snaps[si];
      if (!s) throw this.err(e, `command ${linear} (queue slot ${index}) is published after the last snapshot: its words are in no snapshot`);
      // The slot is overwritten by the command published 2^log2 later; the snapshot must predate that.
      if (this.cmdCountAtSnapshot[si]! - linear > 1 << log2) {
        throw this.err(e, `command ${linear} (queue slot ${index}): the queue wrapped over it before snapshot '${s.name}'`);
      }
      const q = s.memory?.qwords(slot, 2);
      if (!q) throw this.err(e, `command ${linear} (queue slot ${index} at ${hex(slot)}): snapshot '${s.name}' does not cover the command queue`);
      const words: [bigint, bigint] = [q[0]!, q[1]!];
      this.published.push({ words, pos: e });
      this.count.commands++;
      this.count.commandsBySnapshot[s.name] = (this.count.commandsBySnapshot[s.name] ?? 0) + 1;
      this.emit(cmdRow(words, () => this.count.raw++));
    }
    this.prodReg = v;
    this.verifyCommands();
  }

  /** Each command QEMU consumed must be the one the trace published in that position. */
  private verifyCommands(): void {
    const n = Math.min(this.published.length, this.consumed.length);
    for (let i = 0; i < n; i++) {
      const c = this.consumed[i]!;
      if (c.verified) continue;
      const p = this.published[i]!;
      const d = decodeCommand(p.words[0], p.words[1]);
      const want = opcodeOfQemu(c.opcodeName);
      if (want !== undefined && want !== d.opcode) {
        throw this.err(c.pos, `QEMU consumed ${c.opcodeName} as command ${i}, but the queue memory holds opcode 0x${d.opcode.toString(16)} there (the snapshot does not hold what the SMMU read)`);
      }
      const det = c.detail;
      if (det?.kind === 'sid' && d.f.sid !== undefined && Number(d.f.sid) !== det.sid) {
        throw this.err(c.pos, `QEMU consumed ${c.opcodeName} for StreamID ${hex(det.sid)} as command ${i}, but the queue memory says StreamID ${hex(d.f.sid)}`);
      }
      if (det?.kind === 'asid' && d.f.asid !== undefined && Number(d.f.asid) !== det.asid) {
        throw this.err(c.pos, `QEMU consumed ${c.opcodeName} for ASID ${det.asid} as command ${i}, but the queue memory says ASID ${d.f.asid}`);
      }
      c.verified = true;
    }
  }

  private finishCommands(): void {
    this.verifyCommands();
    if (this.consumed.length > this.published.length) {
      const c = this.consumed[this.published.length]!;
      throw this.err(c.pos, `QEMU consumed command ${this.published.length} (${c.opcodeName}) that no CMDQ_PROD write published`);
    }
  }

  // -------------------------------------------------------------------------
  // Translations.

  private need(e: QemuEvent & LogPos, what: string): Tx {
    if (!this.tx || this.tx.outcome) throw this.err(e, `${what} outside a translation (no smmuv3_config_cache_hit/miss before it)`);
    return this.tx;
  }

  private config(e: Extract<QemuEvent, { kind: 'find_ste' | 'find_ste_2lvl' | 'get_ste' | 'get_cd' | 'decode_cd' | 'decode_cd_tt' }>): void {
    const tx = this.need(e, `smmuv3_${e.kind}`);
    switch (e.kind) {
      case 'find_ste':
        if (e.sid !== tx.sid) throw this.err(e, `smmuv3_find_ste for StreamID ${hex(e.sid)} inside a translation of StreamID ${hex(tx.sid)}`);
        this.unknownSids.delete(tx.sid);
        tx.unknown = undefined;
        return;
      case 'find_ste_2lvl': {
        const entries = e.maxL2Ste + 1;
        const span = Math.log2(entries);
        if (!Number.isInteger(span) || span < 1 || span > 31) throw this.err(e, `max_l2_ste ${e.maxL2Ste} is not 2^Span - 1`);
        // QEMU reads the L1 descriptor at l1ptr and logs L2Ptr (the descriptor with Span cleared) and 2^Span - 1.
        const l1std = e.l2ptr | BigInt(span);
        this.count.l1std++;
        tx.facts.push({ kind: 'l1std', addr: e.l1ptr, qwords: [l1std], comment: `L1STD for StreamID ${hex(tx.sid)}: L2Ptr ${hex(e.l2ptr)} Span ${span} (log line ${e.line})` });
        return;
      }
      case 'get_ste': {
        const s = this.structureAt(e, tx.sid, e.addr);
        this.count.steFetches++;
        if ('why' in s) { this.unknown(tx, `STE ${hex(e.addr)} fetched at log line ${e.line}: ${s.why}`); return; }
        this.count.bySnapshot[s.snap] = (this.count.bySnapshot[s.snap] ?? 0) + 1;
        tx.ste = { addr: e.addr, q: s.q };
        tx.facts.push({ kind: 'ste', addr: e.addr, qwords: s.q, comment: `STE of StreamID ${hex(tx.sid)} at ${hex(e.addr)}, fetched at log line ${e.line}, from snapshot '${s.snap}': ${steSummary(s.q)}` });
        return;
      }
      case 'get_cd': {
        if (tx.ste) {
          // QEMU takes S1ContextPtr as STE bits [47:6].
          const ptr = tx.ste.q[0]! & 0x0000_ffff_ffff_ffc0n;
          if (ptr !== e.addr) throw this.err(e, `QEMU fetched the CD at ${hex(e.addr)}, but the STE the snapshot holds points at ${hex(ptr)} (the snapshot does not hold what the SMMU read)`);
        }
        const s = this.structureAt(e, tx.sid, e.addr);
        this.count.cdFetches++;
        if ('why' in s) { this.unknown(tx, `CD ${hex(e.addr)} fetched at log line ${e.line}: ${s.why}`); return; }
        this.count.bySnapshot[s.snap] = (this.count.bySnapshot[s.snap] ?? 0) + 1;
        tx.cd = { addr: e.addr, q: s.q, snap: s.snap };
        const f = decodeCd(s.q);
        tx.facts.push({ kind: 'cd', addr: e.addr, qwords: s.q, comment: `CD of StreamID ${hex(tx.sid)} at ${hex(e.addr)}, fetched at log line ${e.line}, from snapshot '${s.snap}': V=${f.V} ASID=${hex(f.ASID)} T0SZ=${f.T0SZ} TTB0=${hex(f.TTB0)} EPD1=${f.EPD1} IPS=${f.IPS} R=${f.R} A=${f.A}` });
        return;
      }
      case 'decode_cd_tt': {
        if (!tx.cd) return;
        const f = decodeCd(tx.cd.q);
        const tsz = e.index === 0 ? f.T0SZ : f.T1SZ;
        // QEMU 7.2 takes TTBx as bits [47:4] of the CD's TTBx field.
        const ttb = (e.index === 0 ? f.TTB0 : f.TTB1) & 0x0000_ffff_ffff_fff0n;
        if (BigInt(e.tsz) !== tsz || e.ttb !== ttb) {
          throw this.err(e, `QEMU decoded TT[${e.index}] tsz ${e.tsz} ttb ${hex(e.ttb)}, but the CD at ${hex(tx.cd.addr)} in snapshot '${tx.cd.snap}' has T${e.index}SZ ${tsz} TTB${e.index} ${hex(ttb)} (the snapshot does not hold what the SMMU read)`);
        }
        return;
      }
      case 'decode_cd':
        return;
    }
  }

  private unknown(tx: Tx, why: string): void {
    tx.unknown = why;
    this.unknownSids.set(tx.sid, why);
  }

  private pte(e: Extract<QemuEvent, { kind: 'get_pte' }>): void {
    const tx = this.need(e, 'smmu_get_pte');
    this.count.pteReads++;
    tx.facts.push({ kind: 'pte', addr: e.pteAddr, qwords: [e.pte], comment: undefined });
  }

  private translate(e: Extract<QemuEvent, { kind: 'translate' }>): void {
    let tx = this.tx;
    if (e.outcome === 'disable') {
      // SMMUEN=0: QEMU looks nothing up.
      tx = this.tx = { start: e, sid: e.sid, facts: [], unknown: undefined };
    }
    if (!tx || tx.outcome) throw this.err(e, `smmuv3_translate_${e.outcome} without a configuration lookup before it`);
    if (e.sid !== tx.sid) throw this.err(e, `smmuv3_translate_${e.outcome} for StreamID ${hex(e.sid)} inside a translation of StreamID ${hex(tx.sid)}`);
    const expect = e.outcome === 'success' ? `pa:${hex(e.translated!)}` : e.outcome === 'abort' ? 'abort' : 'bypass';
    const kind = e.outcome === 'success' ? 'translated' : e.outcome === 'abort' ? 'abort' : 'bypass';
    tx.outcome = { pos: e, iova: e.iova, expect, kind };
  }

  private failed(e: Extract<QemuEvent, { kind: 'translation_failed' }>): void {
    const tx = this.need(e, "a 'translation failed' line");
    const ev = eventOfQemu(e.event);
    if (/^SMMU_EVT_/.test(e.event) && !ev && e.event !== 'SMMU_EVT_NONE') throw this.err(e, `unknown QEMU event type ${e.event}`);
    tx.failedEvent = ev;
    tx.outcome = ev ? { pos: e, iova: e.iova, expect: `fault:${ev}`, kind: 'fault' } : { pos: e, iova: e.iova, expect: 'abort', kind: 'abort' };
  }

  private recordEvent(e: Extract<QemuEvent, { kind: 'record_event' }>): void {
    const tx = this.tx!;
    const ev = eventOfQemu(e.event);
    if (!tx.failedEvent || ev !== tx.failedEvent || e.sid !== tx.sid || tx.recorded) {
      throw this.err(e, `smmuv3_record_event ${e.event} for StreamID ${hex(e.sid)} does not belong to the translation before it`);
    }
    tx.recorded = true;
    this.count.events++;
    this.recordsWritten++;
  }

  private invalidAccess(e: Extract<QemuEvent, { kind: 'invalid_access' }>): void {
    const tx = this.tx!;
    if (tx.outcome!.kind !== 'translated' && tx.outcome!.kind !== 'bypass' && !tx.access && e.addr === tx.outcome!.iova) {
      tx.access = { write: e.write, size: e.size };
      return;
    }
    this.count.otherInvalid++;
  }

  /** Write out the pending transaction: the memory it read, then its dma row. */
  private flush(): void {
    const tx = this.tx;
    if (!tx) return;
    this.tx = undefined;
    if (!tx.outcome) throw this.err(tx.start, `the translation for StreamID ${hex(tx.sid)} that starts here has no outcome line (translate_*, or 'translation failed' from -d guest_errors)`);
    for (const f of tx.facts) {
      const changed: string[] = [];
      f.qwords.forEach((v, i) => {
        const a = f.addr + BigInt(i) * 8n;
        if ((this.image.get(a) ?? 0n) === v) return;
        this.image.set(a, v);
        changed.push(`mem_write,${hex(a)},${hex64(v)}`);
      });
      if (f.kind === 'pte') this.count.pteWrites += changed.length;
      if (changed.length === 0) continue;
      if (f.comment) this.rows.push(`# ${f.comment}`);
      for (const r of changed) this.emit(r);
    }
    const o = tx.outcome;
    let access = '-';
    let size = '';
    if (tx.access) {
      access = tx.access.write ? 'w' : 'r';
      size = `,size=${tx.access.size}`;
    } else {
      this.count.dirUnknown++;
      this.count.sizeUnknown++;
      // Unknown size: the default 4 bytes, unless that crosses a 4 KiB boundary, where the replay would split
      // the row into two transactions (QEMU translated one): then only the bytes up to the boundary.
      const inPage = 0x1000n - (o.iova & 0xfffn);
      if (inPage < 4n) size = `,size=${inPage}`;
    }
    const checked = tx.unknown === undefined;
    this.count.dma[o.kind] = (this.count.dma[o.kind] ?? 0) + 1;
    const per = this.phaseDma[this.phase]!;
    const key = `${hex(tx.sid)} ${o.kind}`;
    per[key] = (per[key] ?? 0) + 1;
    if (checked) this.count.checksDma++;
    else {
      this.count.unchecked++;
      this.rows.push(`# not checked: ${tx.unknown}`);
    }
    // priv=0: PCIe requests without a PASID TLP prefix are Unprivileged Data (IHI 0070 §13.7).
    this.emit(`dma,${hex(tx.sid)},${hex(o.iova)},${access}${size},priv=0${checked ? `,expect=${o.expect}` : ''}`);
  }

  // -------------------------------------------------------------------------

  private result(): ImportResult {
    const inp = this.input;
    const version = inp.qemuVersion;
    const oracle = `qemu-${version}`;
    const profile = PROFILES.has(oracle) ? oracle : undefined;
    const idMismatches: string[] = [];
    const prof = profile ? PROFILES.get(profile)! : undefined;
    if (prof) {
      for (const [name, v] of [...this.idReads].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const want = BigInt((prof as unknown as Record<string, number>)[name] ?? 0);
        if (want !== v) idMismatches.push(`${name} read ${hex(v)}, profile ${prof.name} has ${hex(want)}`);
      }
    }
    const phases = this.phaseStart.map((from, i) => {
      const s = inp.snapshots[i];
      const last = inp.snapshots[inp.snapshots.length - 1];
      return {
        name: s ? s.name : last ? `after-${last.name}` : 'all', fromLine: from, toLine: (this.phaseStart[i + 1] ?? inp.log.lines + 1) - 1,
        dma: Object.fromEntries(Object.entries(this.phaseDma[i]!).sort(([a], [b]) => bySidThenOutcome(a, b))),
      };
    });
    const c = this.count;
    const summary: ImportSummary = {
      capture: inp.name, qemu: version, oracle, profile, kernel: inp.kernel,
      log: { lines: inp.log.lines, bytes: inp.log.bytes }, phases,
      rows: sortKeys(c.rows), dma: sortKeys(c.dma), checks: { dma: c.checksDma, mmio_read: c.checksMmio, mem_read: c.rows.mem_read ?? 0 },
      sources: {
        pteReads: c.pteReads, pteWrites: c.pteWrites, steFetches: c.steFetches, cdFetches: c.cdFetches, l1stdWrites: c.l1std,
        structuresBySnapshot: sortKeys(c.bySnapshot), commands: c.commands, commandsBySnapshot: sortKeys(c.commandsBySnapshot),
        commandsRaw: c.raw, page1Restored: c.page1, eventRecordsChecked: c.recordsChecked, eventRecordsBySnapshot: sortKeys(c.recordsBySnapshot),
      },
      gaps: {
        directionUnknown: c.dirUnknown, sizeUnknown: c.sizeUnknown, unchecked: c.unchecked, mmioRejected: c.mmioRejected,
        mmioUnpredictable: c.mmioUnpredictable, eventRecords: c.events, eventRecordsUnchecked: c.recordsUnchecked, otherInvalidAccesses: c.otherInvalid,
      },
      ignored: sortKeys(c.ignored), idMismatches,
    };
    const meta = [
      'meta,source,qemu-log',
      `meta,capture,${csvSafe(inp.name)}`,
      ...(inp.kernel ? [`meta,kernel,${csvSafe(inp.kernel)}`] : []),
      `meta,qemu,${csvSafe(version)}`,
      `meta,oracle,${csvSafe(oracle)}`,
      ...(profile ? [`meta,profile,${profile}`] : []),
      'meta,memory,observed',
    ];
    const text = [...headerLines(summary, inp), ...meta, ...this.rows, ''].join('\n');
    return { text, summary };
  }
}

/** `0x8 translated` before `0x10 bypass`: StreamIDs in numeric order, then outcomes by name. */
function bySidThenOutcome(a: string, b: string): number {
  const [sa, oa] = a.split(' ');
  const [sb, ob] = b.split(' ');
  return Number(sa) - Number(sb) || (oa! < ob! ? -1 : oa! > ob! ? 1 : 0);
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function csvSafe(s: string): string {
  return /[",\n#]/.test(s) ? s.replace(/[",\n#]/g, ' ').trim() : s;
}

/** A `cmd` row for two command words: named fields when they encode back to exactly these words, else RAW. */
export function cmdRow(words: readonly [bigint, bigint], onRaw?: () => void): string {
  const d = decodeCommand(words[0], words[1]);
  if (d.def) {
    const def: CommandDef = d.def;
    const fields: Record<string, bigint> = {};
    for (const [k, v] of Object.entries(d.f)) if (v !== 0n) fields[k] = v;
    const [a, b] = encodeCommand(def, fields);
    if (a === words[0] && b === words[1]) {
      const cells = Object.entries(fields).map(([k, v]) => `${k}=${v > 9n ? hex(v) : v.toString()}`);
      return ['cmd', def.name, ...cells].join(',');
    }
  }
  onRaw?.();
  return `cmd,RAW,dw0=${hex64(words[0])},dw1=${hex64(words[1])}`;
}

/** Import a capture.  Throws TraceError (naming the log line and byte offset) when the capture is corrupt or inconsistent. */
export function importQemuCapture(input: CaptureInput): ImportResult {
  const snaps = input.snapshots;
  for (const s of snaps) {
    if (s.traceOffset > input.log.bytes) {
      throw new TraceError(input.logFile, input.log.lines, `snapshot '${s.name}' was taken at log byte ${s.traceOffset}, but the log has only ${input.log.bytes} bytes: the log is truncated`);
    }
    if (!input.log.lineStarts.includes(s.traceOffset)) {
      const line = input.log.lineStarts.findIndex((o) => o > s.traceOffset);
      throw new TraceError(input.logFile, line, `snapshot '${s.name}' was taken at log byte ${s.traceOffset}, inside this line: the log and the snapshots do not belong together`);
    }
  }
  return new Importer(input).run();
}
