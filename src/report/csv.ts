/**
 * Canonical CSV text of the output streams: a header row, LF line ends,
 * 64-bit values as fixed-width lower-case hex (0x%016x), StreamIDs and
 * SubstreamIDs as hex, empty cells for absent values.  Cells that contain a
 * comma or a quote are quoted as RFC 4180 says.
 */
import { hex64 } from '../model/fields.js';
import type { DmaStreamRow, FaultRow, SteRow, StreamName } from '../replay/streams.js';

export const HEADERS: Readonly<Record<StreamName, string>> = {
  ste: 'line,sid,action,qword,value,state,summary',
  faults: 'line,source,type,sid,ssid,addr,detail',
  dma: 'line,sid,ssid,addr,access,outcome,pa,detail',
};

/** A CSV cell: quoted when it holds a comma, a quote or a line end. */
export function cell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A StreamID or SubstreamID cell: lower-case hex with 0x, empty when absent. */
export function id(v: number | undefined): string {
  return v === undefined ? '' : '0x' + v.toString(16);
}

function h64(v: bigint | undefined): string {
  return v === undefined ? '' : hex64(v);
}

export function steLine(r: SteRow): string {
  return `${r.line},${id(r.sid)},${r.action},${r.qword ?? ''},${h64(r.value)},${r.state},${cell(r.summary)}`;
}

export function faultLine(r: FaultRow): string {
  return `${r.line},${r.source},${r.type},${id(r.sid)},${id(r.ssid)},${h64(r.addr)},${cell(r.detail)}`;
}

export function dmaLine(r: DmaStreamRow): string {
  return `${r.line},${id(r.sid)},${id(r.ssid)},${hex64(r.addr)},${r.access},${r.outcome},${h64(r.pa)},${cell(r.detail)}`;
}

/**
 * The cells of one canonical CSV line (the inverse of the writers above):
 * RFC 4180 quoting, no line breaks inside cells.
 */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) { cell += line.slice(i); i = line.length; break; }
        cell += line.slice(i, q);
        i = q + 1;
        if (line[i] !== '"') break;
        cell += '"';
        i++;
      }
    }
    // An unquoted cell, or text after a closing quote (not canonical, kept in the cell).
    const c = line.indexOf(',', i);
    cell += line.slice(i, c < 0 ? line.length : c);
    cells.push(cell);
    if (c < 0) return cells;
    i = c + 1;
  }
}

/** Collects the three streams as text (header included, one LF after every row). */
export class TextStreams {
  readonly text: Record<StreamName, string[]> = { ste: [HEADERS.ste], faults: [HEADERS.faults], dma: [HEADERS.dma] };
  /** `limit`: the most rows a stream may have, and the error to raise beyond it (an in-memory consumer's bound). */
  constructor(private readonly limit?: { readonly rows: number; readonly error: (stream: StreamName) => Error }) {}
  ste(r: SteRow): void { this.add('ste', steLine(r)); }
  fault(r: FaultRow): void { this.add('faults', faultLine(r)); }
  dma(r: DmaStreamRow): void { this.add('dma', dmaLine(r)); }
  private add(stream: StreamName, line: string): void {
    const rows = this.text[stream];
    if (this.limit && rows.length > this.limit.rows) throw this.limit.error(stream);
    rows.push(line);
  }
  get(stream: StreamName): string {
    return this.text[stream].join('\n') + '\n';
  }
}
