/**
 * QEMU's SMMUv3 trace log, as the `log` trace backend writes it (`-trace
 * 'smmu*' -D file`, optionally `-msg timestamp=on` and `-d guest_errors`):
 * bytes to typed events, each with its 1-based line and the byte offset of
 * the line's start.
 *
 * Event lines look like `<tid>@<sec>.<usec>:<event> <arguments>` (the prefix
 * only with `-msg timestamp=on`); the argument text is the format string of
 * the event in QEMU's hw/arm/trace-events.  `qemu_log_mask` messages
 * (`-d guest_errors`) have no prefix.  The formats recognised are those of
 * QEMU 7.2 (see docs/recording.md); an SMMU event this module does not know,
 * or a known one whose arguments do not parse, is an error naming the line
 * and byte offset, because an importer that skipped it could not say what
 * the SMMU did.
 */
import { TraceError } from '../format.js';

/** Where a log line is: for errors and for cutting the log at snapshot offsets. */
export interface LogPos {
  /** 1-based line number, counting every line. */
  readonly line: number;
  /** Byte offset of the first byte of the line. */
  readonly offset: number;
}

export type QemuEvent = LogPos & (
  | { readonly kind: 'mmio'; readonly write: boolean; readonly addr: number; readonly value: bigint; readonly size: number; readonly result: number }
  | { readonly kind: 'cmdq_consume'; readonly prod: number; readonly cons: number; readonly prodWrap: number; readonly consWrap: number }
  | { readonly kind: 'cmdq_opcode'; readonly name: string }
  | { readonly kind: 'cmdq_cfgi_ste'; readonly sid: number }
  | { readonly kind: 'cmdq_cfgi_ste_range'; readonly start: number; readonly end: number }
  | { readonly kind: 'cmdq_cfgi_cd'; readonly sid: number }
  | { readonly kind: 'cmdq_tlbi_nh_asid'; readonly asid: number }
  | { readonly kind: 'cmdq_consume_error'; readonly name: string; readonly error: number }
  /** A translation starts: QEMU looked the StreamID's configuration up in its cache. */
  | { readonly kind: 'config_lookup'; readonly sid: number; readonly hit: boolean }
  | { readonly kind: 'find_ste'; readonly sid: number; readonly twoLevel: boolean; readonly split: number }
  | { readonly kind: 'find_ste_2lvl'; readonly strtabBase: bigint; readonly l1ptr: bigint; readonly l1Off: number; readonly l2ptr: bigint; readonly l2Off: number; readonly maxL2Ste: number }
  | { readonly kind: 'get_ste'; readonly addr: bigint }
  | { readonly kind: 'get_cd'; readonly addr: bigint }
  | { readonly kind: 'decode_cd'; readonly oas: number }
  | { readonly kind: 'decode_cd_tt'; readonly index: number; readonly tsz: number; readonly ttb: bigint; readonly granuleBits: number; readonly had: boolean }
  | { readonly kind: 'get_pte'; readonly base: bigint; readonly index: number; readonly pteAddr: bigint; readonly pte: bigint }
  | { readonly kind: 'translate'; readonly outcome: 'success' | 'bypass' | 'disable' | 'abort'; readonly sid: number; readonly iova: bigint; readonly translated: bigint | undefined }
  | { readonly kind: 'record_event'; readonly event: string; readonly sid: number }
  /** `-d guest_errors`: `<region> translation failed for iova=0x.. (<event>)`. */
  | { readonly kind: 'translation_failed'; readonly iova: bigint; readonly event: string }
  /** `-d guest_errors`: the memory core's `Invalid read|write at addr 0x.., size N, ...`. */
  | { readonly kind: 'invalid_access'; readonly write: boolean; readonly addr: bigint; readonly size: number }
  /** A line that says nothing about the SMMU (other trace events, other log messages). */
  | { readonly kind: 'other'; readonly event: string | undefined }
);

export interface ParsedLog {
  readonly events: QemuEvent[];
  /** Length of the log in bytes. */
  readonly bytes: number;
  /** Number of lines. */
  readonly lines: number;
  /** Byte offset of the start of each line, and the log length at the end (for cutting at snapshot offsets). */
  readonly lineStarts: readonly number[];
}

const HEX = '0x[0-9a-fA-F]+';
const NUM = '(?:0x[0-9a-fA-F]+|-?[0-9]+)';

function num(s: string): number {
  return Number(s.startsWith('0x') || s.startsWith('0X') ? BigInt(s) : BigInt(s));
}

function big(s: string): bigint {
  return BigInt(s);
}

type Parser = (m: RegExpExecArray, pos: LogPos) => QemuEvent;

/**
 * SMMU trace events: the argument text each one must match and what it
 * becomes.  Events listed with `null` are understood and carry nothing the
 * trace needs (QEMU's own TLB and cache statistics, walk details already
 * given by smmu_get_pte, interrupts, notifiers).
 */
const EVENTS: Readonly<Record<string, readonly [RegExp, Parser] | null>> = {
  smmuv3_read_mmio: [new RegExp(`^addr: (${HEX}) val:(${HEX}) size: (${HEX})\\((-?[0-9]+)\\)$`),
    (m, p) => ({ ...p, kind: 'mmio', write: false, addr: num(m[1]!), value: big(m[2]!), size: num(m[3]!), result: num(m[4]!) })],
  smmuv3_write_mmio: [new RegExp(`^addr: (${HEX}) val:(${HEX}) size: (${HEX})\\((-?[0-9]+)\\)$`),
    (m, p) => ({ ...p, kind: 'mmio', write: true, addr: num(m[1]!), value: big(m[2]!), size: num(m[3]!), result: num(m[4]!) })],
  smmuv3_cmdq_consume: [/^prod=([0-9]+) cons=([0-9]+) prod\.wrap=([0-9]+) cons\.wrap=([0-9]+)$/,
    (m, p) => ({ ...p, kind: 'cmdq_consume', prod: num(m[1]!), cons: num(m[2]!), prodWrap: num(m[3]!), consWrap: num(m[4]!) })],
  smmuv3_cmdq_opcode: [/^<--- (\S+)$/, (m, p) => ({ ...p, kind: 'cmdq_opcode', name: m[1]! })],
  smmuv3_cmdq_cfgi_ste: [new RegExp(`^streamid\\s*=\\s*(${NUM})$`), (m, p) => ({ ...p, kind: 'cmdq_cfgi_ste', sid: num(m[1]!) })],
  smmuv3_cmdq_cfgi_ste_range: [new RegExp(`^start=(${HEX}) - end=(${HEX})$`),
    (m, p) => ({ ...p, kind: 'cmdq_cfgi_ste_range', start: num(m[1]!), end: num(m[2]!) })],
  smmuv3_cmdq_cfgi_cd: [new RegExp(`^streamid\\s*=\\s*(${NUM})$`), (m, p) => ({ ...p, kind: 'cmdq_cfgi_cd', sid: num(m[1]!) })],
  smmuv3_cmdq_tlbi_nh_asid: [new RegExp(`^asid=(${NUM})$`), (m, p) => ({ ...p, kind: 'cmdq_tlbi_nh_asid', asid: num(m[1]!) })],
  smmuv3_cmdq_consume_error: [/^error on (\S+) command execution: ([0-9]+)$/,
    (m, p) => ({ ...p, kind: 'cmdq_consume_error', name: m[1]!, error: num(m[2]!) })],
  smmuv3_config_cache_hit: [new RegExp(`^Config cache HIT for sid=(${HEX}) \\(.*\\)$`), (m, p) => ({ ...p, kind: 'config_lookup', sid: num(m[1]!), hit: true })],
  smmuv3_config_cache_miss: [new RegExp(`^Config cache MISS for sid=(${HEX}) \\(.*\\)$`), (m, p) => ({ ...p, kind: 'config_lookup', sid: num(m[1]!), hit: false })],
  smmuv3_find_ste: [new RegExp(`^sid=(${HEX}) features:(${HEX}), sid_split:(${HEX})$`),
    (m, p) => ({ ...p, kind: 'find_ste', sid: num(m[1]!), twoLevel: (num(m[2]!) & 1) === 1, split: num(m[3]!) })],
  smmuv3_find_ste_2lvl: [new RegExp(`^strtab_base:(${HEX}) l1ptr:(${HEX}) l1_off:(${HEX}), l2ptr:(${HEX}) l2_off:(${HEX}) max_l2_ste:([0-9]+)$`),
    (m, p) => ({ ...p, kind: 'find_ste_2lvl', strtabBase: big(m[1]!), l1ptr: big(m[2]!), l1Off: num(m[3]!), l2ptr: big(m[4]!), l2Off: num(m[5]!), maxL2Ste: num(m[6]!) })],
  smmuv3_get_ste: [new RegExp(`^STE addr: (${HEX})$`), (m, p) => ({ ...p, kind: 'get_ste', addr: big(m[1]!) })],
  smmuv3_get_cd: [new RegExp(`^CD addr: (${HEX})$`), (m, p) => ({ ...p, kind: 'get_cd', addr: big(m[1]!) })],
  smmuv3_decode_cd: [/^oas=([0-9]+)$/, (m, p) => ({ ...p, kind: 'decode_cd', oas: num(m[1]!) })],
  smmuv3_decode_cd_tt: [new RegExp(`^TT\\[([0-9]+)\\]:tsz:([0-9]+) ttb:(${HEX}) granule_sz:([0-9]+) had:([01])$`),
    (m, p) => ({ ...p, kind: 'decode_cd_tt', index: num(m[1]!), tsz: num(m[2]!), ttb: big(m[3]!), granuleBits: num(m[4]!), had: m[5] === '1' })],
  smmu_get_pte: [new RegExp(`^baseaddr=(${HEX}) index=(${HEX}), pteaddr=(${HEX}), pte=(${HEX})$`),
    (m, p) => ({ ...p, kind: 'get_pte', base: big(m[1]!), index: num(m[2]!), pteAddr: big(m[3]!), pte: big(m[4]!) })],
  smmuv3_translate_success: [new RegExp(`^\\S+ sid=(${HEX}) iova=(${HEX}) translated=(${HEX}) perm=(${HEX})$`),
    (m, p) => ({ ...p, kind: 'translate', outcome: 'success', sid: num(m[1]!), iova: big(m[2]!), translated: big(m[3]!) })],
  smmuv3_translate_bypass: [new RegExp(`^\\S+ sid=(${HEX}) STE bypass iova:(${HEX}) is_write=[01]$`),
    (m, p) => ({ ...p, kind: 'translate', outcome: 'bypass', sid: num(m[1]!), iova: big(m[2]!), translated: undefined })],
  smmuv3_translate_disable: [new RegExp(`^\\S+ sid=(${HEX}) bypass \\(smmu disabled\\) iova:(${HEX}) is_write=[01]$`),
    (m, p) => ({ ...p, kind: 'translate', outcome: 'disable', sid: num(m[1]!), iova: big(m[2]!), translated: undefined })],
  smmuv3_translate_abort: [new RegExp(`^\\S+ sid=(${HEX}) abort on iova:(${HEX}) is_write=[01]$`),
    (m, p) => ({ ...p, kind: 'translate', outcome: 'abort', sid: num(m[1]!), iova: big(m[2]!), translated: undefined })],
  smmuv3_record_event: [new RegExp(`^(\\S+) sid=(${HEX})$`), (m, p) => ({ ...p, kind: 'record_event', event: m[1]!, sid: num(m[2]!) })],
  // Understood, nothing to take: configuration-cache invalidation (the CFGI lines say it), QEMU's TLB,
  // the walk's per-level and leaf lines (smmu_get_pte has every descriptor read), range invalidations
  // and notifier traffic, interrupts, and the MMIO region registration.
  smmuv3_config_cache_inv: null, smmuv3_cmdq_consume_out: null, smmuv3_cmdq_tlbi_nh: null,
  smmuv3_s1_range_inval: null, smmuv3_cmdq_tlbi_nh_va: null, smmuv3_cmdq_tlbi_nh_vaa: null,
  smmuv3_trigger_irq: null, smmuv3_write_gerror: null, smmuv3_write_gerrorn: null,
  smmuv3_unhandled_cmd: null, smmuv3_notify_flag_add: null, smmuv3_notify_flag_del: null,
  smmuv3_inv_notifiers_iova: null, smmuv3_update_qreg: null,
  smmu_add_mr: null, smmu_ptw_level: null, smmu_ptw_invalid_pte: null, smmu_ptw_page_pte: null,
  smmu_ptw_block_pte: null, smmu_iotlb_inv_all: null, smmu_iotlb_inv_asid: null, smmu_iotlb_inv_iova: null,
  smmu_inv_notifiers_mr: null, smmu_iotlb_lookup_hit: null, smmu_iotlb_lookup_miss: null, smmu_iotlb_insert: null,
};

const PREFIX = /^[0-9]+@[0-9]+\.[0-9]+:/;
const FAILED = new RegExp(`^\\S+ translation failed for iova=(${HEX}) ?\\((.+)\\)$`);
const INVALID = new RegExp(`^Invalid (read|write) at addr (${HEX}), size ([0-9]+), `, 'i');

/** The known SMMU trace event names (for documentation and tests). */
export const KNOWN_EVENTS: readonly string[] = Object.keys(EVENTS);

/**
 * Parse a whole log.  `file` names it in errors.  Throws TraceError for a
 * truncated log (no line end after the last line), bytes that are not text,
 * an SMMU event this module does not know, or one whose arguments do not
 * have its QEMU 7.2 format.
 */
export function parseQemuLog(data: Uint8Array, file: string): ParsedLog {
  const events: QemuEvent[] = [];
  const lineStarts: number[] = [];
  let start = 0;
  let line = 0;
  const where = (p: LogPos) => `byte offset ${p.offset}`;
  while (start < data.length) {
    line++;
    lineStarts.push(start);
    let end = data.indexOf(0x0a, start);
    const pos: LogPos = { line, offset: start };
    if (end < 0) {
      throw new TraceError(file, line, `the log is truncated: its last line (${where(pos)}) has no line end`);
    }
    for (let i = start; i < end; i++) {
      const b = data[i]!;
      if ((b < 0x20 && b !== 0x09 && !(b === 0x0d && i === end - 1)) || b >= 0x7f) {
        throw new TraceError(file, line, `byte 0x${b.toString(16).padStart(2, '0')} at byte offset ${i} is not log text (binary or corrupt data)`, i - start + 1);
      }
    }
    let text = Buffer.from(data.buffer, data.byteOffset + start, end - start).toString('latin1');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    events.push(parseLine(text, pos, file));
    start = end + 1;
  }
  lineStarts.push(data.length);
  return { events, bytes: data.length, lines: line, lineStarts };
}

function parseLine(text: string, pos: LogPos, file: string): QemuEvent {
  const pre = PREFIX.exec(text);
  const body = pre ? text.slice(pre[0].length) : text;
  const sp = body.indexOf(' ');
  const name = sp < 0 ? body : body.slice(0, sp);
  const args = sp < 0 ? '' : body.slice(sp + 1);
  if (/^smmuv?3?_/.test(name) && (pre || name in EVENTS)) {
    const def = EVENTS[name];
    if (def === undefined) {
      throw new TraceError(file, pos.line, `unknown SMMU trace event '${name}' at byte offset ${pos.offset}: this importer reads the events of QEMU 7.2 (docs/recording.md)`);
    }
    if (def === null) return { ...pos, kind: 'other', event: name };
    const m = def[0].exec(args.trimEnd());
    if (!m) {
      throw new TraceError(file, pos.line, `${name} at byte offset ${pos.offset}: arguments '${args}' do not have QEMU 7.2's format for this event (corrupt or another QEMU version)`);
    }
    return def[1](m, pos);
  }
  if (!pre) {
    const f = FAILED.exec(text);
    if (f) return { ...pos, kind: 'translation_failed', iova: big(f[1]!), event: f[2]! };
    const inv = INVALID.exec(text);
    if (inv) return { ...pos, kind: 'invalid_access', write: inv[1]!.toLowerCase() === 'write', addr: big(inv[2]!.toLowerCase()), size: Number(inv[3]!) };
    return { ...pos, kind: 'other', event: undefined };
  }
  return { ...pos, kind: 'other', event: name };
}
