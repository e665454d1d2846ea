/**
 * Event records (IHI0070 §7.3): the 32-byte record layout, one row per field,
 * and which fields each event type carries.  Encode and decode both read these
 * tables.
 */
import { dw, getField, setField, type FieldDef, type Layout, formatField } from './fields.js';

const S = (sec: string) => `IHI0070 §${sec}`;

/** Every field an event record can carry, at its position. */
export const EVENT_FIELDS = {
  type: dw('type', 0, 7, 0, S('7.3')),
  SSV: dw('SSV', 0, 11, 11, S('7.3')),
  SubstreamID: dw('SubstreamID', 0, 31, 12, S('7.3')),
  StreamID: dw('StreamID', 0, 63, 32, S('7.3')),
  // DW1[15:0] is STAG for translation-class events and the IMPLEMENTATION DEFINED Reason for F_UUT and fetch events.
  STAG: dw('STAG', 1, 15, 0, S('7.3.13')),
  Reason: dw('Reason', 1, 15, 0, S('7.3.4')),
  /** F_CFG_CONFLICT's Reason is 32 bits wide (DW1[31:0], §7.3.18). */
  Reason32: dw('Reason', 1, 31, 0, S('7.3.18')),
  Stall: dw('Stall', 1, 31, 31, S('7.3.13')),
  PnU: dw('PnU', 1, 33, 33, S('7.3.13')),
  InD: dw('InD', 1, 34, 34, S('7.3.13')),
  RnW: dw('RnW', 1, 35, 35, S('7.3.13')),
  S2: dw('S2', 1, 39, 39, S('7.3.13')),
  CLASS: dw('CLASS', 1, 41, 40, S('7.3.13'), { enum: { 0: 'CD', 1: 'TT', 2: 'IN' } }),
  TTRnW: dw('TTRnW', 1, 44, 44, S('7.3.16')),
  InputAddr: dw('InputAddr', 2, 63, 0, S('7.3.13'), { addr: true }),
  IPA: dw('IPA', 3, 55, 12, S('7.3.13'), { addr: true }),
  FetchAddr: dw('FetchAddr', 3, 55, 3, S('7.3.4'), { addr: true }),
  // E_PAGE_REQUEST (§7.3.19): the page address, the span and the requested permissions.
  PageAddr: dw('InputAddr', 2, 63, 12, S('7.3.19'), { addr: true }),
  Span: dw('Span', 1, 51, 44, S('7.3.19'), { dec: true }),
  pR: dw('pR', 1, 39, 39, S('7.3.19')),
  pW: dw('pW', 1, 38, 38, S('7.3.19')),
  pX: dw('pX', 1, 37, 37, S('7.3.19')),
  uR: dw('uR', 1, 35, 35, S('7.3.19')),
  uW: dw('uW', 1, 34, 34, S('7.3.19')),
  uX: dw('uX', 1, 33, 33, S('7.3.19')),
} as const satisfies Record<string, FieldDef>;

export type EventFieldName = keyof typeof EVENT_FIELDS;

export type EventName =
  | 'F_UUT' | 'C_BAD_STREAMID' | 'F_STE_FETCH' | 'C_BAD_STE' | 'F_BAD_ATS_TREQ' | 'F_STREAM_DISABLED'
  | 'F_TRANSL_FORBIDDEN' | 'C_BAD_SUBSTREAMID' | 'F_CD_FETCH' | 'C_BAD_CD' | 'F_WALK_EABT' | 'F_TRANSLATION'
  | 'F_ADDR_SIZE' | 'F_ACCESS' | 'F_PERMISSION' | 'F_TLB_CONFLICT' | 'F_CFG_CONFLICT' | 'E_PAGE_REQUEST' | 'F_VMS_FETCH';

interface EventType {
  readonly code: number;
  readonly name: EventName;
  readonly spec: string;
  /** Fields after type/SSV/SubstreamID/StreamID, in print order. */
  readonly fields: readonly EventFieldName[];
}

const TRANSLATION: readonly EventFieldName[] = ['STAG', 'Stall', 'PnU', 'InD', 'RnW', 'S2', 'CLASS', 'InputAddr', 'IPA'];

export const EVENT_TYPES: readonly EventType[] = [
  { code: 0x01, name: 'F_UUT', spec: S('7.3.2'), fields: ['Reason', 'PnU', 'InD', 'RnW', 'InputAddr'] },
  { code: 0x02, name: 'C_BAD_STREAMID', spec: S('7.3.3'), fields: [] },
  { code: 0x03, name: 'F_STE_FETCH', spec: S('7.3.4'), fields: ['Reason', 'FetchAddr'] },
  { code: 0x04, name: 'C_BAD_STE', spec: S('7.3.5'), fields: [] },
  { code: 0x05, name: 'F_BAD_ATS_TREQ', spec: S('7.3.6'), fields: ['PnU', 'InD', 'RnW', 'InputAddr'] },
  { code: 0x06, name: 'F_STREAM_DISABLED', spec: S('7.3.7'), fields: [] },
  { code: 0x07, name: 'F_TRANSL_FORBIDDEN', spec: S('7.3.8'), fields: ['RnW', 'InputAddr'] },
  { code: 0x08, name: 'C_BAD_SUBSTREAMID', spec: S('7.3.9'), fields: [] },
  { code: 0x09, name: 'F_CD_FETCH', spec: S('7.3.10'), fields: ['Reason', 'FetchAddr'] },
  { code: 0x0a, name: 'C_BAD_CD', spec: S('7.3.11'), fields: [] },
  { code: 0x0b, name: 'F_WALK_EABT', spec: S('7.3.12'), fields: ['Reason', 'PnU', 'InD', 'RnW', 'S2', 'CLASS', 'InputAddr', 'FetchAddr'] },
  { code: 0x10, name: 'F_TRANSLATION', spec: S('7.3.13'), fields: TRANSLATION },
  { code: 0x11, name: 'F_ADDR_SIZE', spec: S('7.3.14'), fields: TRANSLATION },
  { code: 0x12, name: 'F_ACCESS', spec: S('7.3.15'), fields: TRANSLATION },
  { code: 0x13, name: 'F_PERMISSION', spec: S('7.3.16'), fields: ['STAG', 'Stall', 'PnU', 'InD', 'RnW', 'S2', 'CLASS', 'TTRnW', 'InputAddr', 'IPA'] },
  { code: 0x20, name: 'F_TLB_CONFLICT', spec: S('7.3.17'), fields: ['Reason', 'PnU', 'InD', 'RnW', 'S2', 'InputAddr', 'IPA'] },
  { code: 0x21, name: 'F_CFG_CONFLICT', spec: S('7.3.18'), fields: ['Reason32'] },
  { code: 0x24, name: 'E_PAGE_REQUEST', spec: S('7.3.19'), fields: ['uX', 'uW', 'uR', 'pX', 'pW', 'pR', 'Span', 'PageAddr'] },
  { code: 0x25, name: 'F_VMS_FETCH', spec: S('7.3.20'), fields: ['Reason', 'FetchAddr'] },
];

const BY_NAME = new Map(EVENT_TYPES.map((t) => [t.name, t]));
const BY_CODE = new Map(EVENT_TYPES.map((t) => [t.code, t]));

export function eventType(name: EventName): EventType {
  return BY_NAME.get(name)!;
}

export function eventNameOf(code: number): string {
  return BY_CODE.get(code)?.name ?? `UNKNOWN(0x${code.toString(16)})`;
}

export function isEventName(s: string): s is EventName {
  return BY_NAME.has(s as EventName);
}

/** An event record as a value: its type and the fields it carries. */
export interface EventRecord {
  readonly type: EventName;
  readonly sid: number;
  /** SubstreamID, present when the transaction had one (SSV=1). */
  readonly ssid?: number;
  readonly fields: Readonly<Partial<Record<EventFieldName, bigint>>>;
}

const HEADER: readonly EventFieldName[] = ['type', 'SSV', 'SubstreamID', 'StreamID'];

/** Layout of one event type (header fields then its own), for decode/print/diff. */
export function eventLayout(name: EventName): Layout {
  const t = eventType(name);
  return { name, qwords: 4, fields: [...HEADER, ...t.fields].map((n) => EVENT_FIELDS[n]) };
}

export function encodeEvent(e: EventRecord): bigint[] {
  const t = eventType(e.type);
  const q = [0n, 0n, 0n, 0n];
  setField(EVENT_FIELDS.type, q, BigInt(t.code));
  setField(EVENT_FIELDS.StreamID, q, BigInt(e.sid));
  if (e.ssid !== undefined) {
    // C_BAD_SUBSTREAMID always carries its SubstreamID and has no SSV bit (§7.3.9).
    if (t.name !== 'C_BAD_SUBSTREAMID') setField(EVENT_FIELDS.SSV, q, 1n);
    setField(EVENT_FIELDS.SubstreamID, q, BigInt(e.ssid));
  }
  for (const name of t.fields) {
    const v = e.fields[name];
    if (v !== undefined) setField(EVENT_FIELDS[name], q, v);
  }
  return q;
}

/** Decode a 32-byte record; an unknown type code decodes to its header only. */
export function decodeEvent(q: readonly bigint[]): { record?: EventRecord; code: number } {
  const code = Number(getField(EVENT_FIELDS.type, q));
  const t = BY_CODE.get(code);
  if (!t) return { code };
  const fields: Partial<Record<EventFieldName, bigint>> = {};
  for (const name of t.fields) fields[name] = getField(EVENT_FIELDS[name], q);
  const ssv = getField(EVENT_FIELDS.SSV, q) === 1n || t.name === 'C_BAD_SUBSTREAMID';
  const rec: EventRecord = {
    type: t.name,
    sid: Number(getField(EVENT_FIELDS.StreamID, q)),
    ...(ssv ? { ssid: Number(getField(EVENT_FIELDS.SubstreamID, q)) } : {}),
    fields,
  };
  return { record: rec, code };
}

/** `key=value` text of the record's own fields, in table order (the fault stream's detail column). */
export function formatEventDetail(e: EventRecord): string {
  const t = eventType(e.type);
  const parts: string[] = [];
  for (const name of t.fields) {
    const v = e.fields[name];
    if (v === undefined) continue;
    parts.push(formatField(EVENT_FIELDS[name], v));
  }
  return parts.join(' ');
}
