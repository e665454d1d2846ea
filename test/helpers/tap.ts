/**
 * Reading KTAP with a real TAP parser (tap-parser, the parser of node-tap).
 *
 * KTAP version 1 (Documentation/dev-tools/ktap.rst) nests a subtest by
 * indenting its lines two spaces per level and opening it with its own
 * version line; TAP 14, which tap-parser reads, indents four spaces per level.
 * The KTAP document is parsed twice: as it is (the KTAP spec says valid KTAP
 * is valid TAP at its top level, nested results aside), and with each level
 * of two-space indentation widened to four, which tap-parser then reads as
 * nested subtests.
 */
import { Parser } from 'tap-parser';

export interface TapAssert {
  readonly ok: boolean;
  readonly id: number;
  readonly name: string;
  readonly skip: boolean | string;
  /** The subtest this result line closes, if it had one. */
  readonly child: TapNode | undefined;
}

export interface TapNode {
  readonly asserts: TapAssert[];
  readonly comments: string[];
  plan: { start: number; end: number } | undefined;
  ok: boolean | undefined;
  /** Lines tap-parser did not recognise (version lines among them). */
  readonly extra: string[];
}

function attach(p: Parser): TapNode {
  const node: TapNode = { asserts: [], comments: [], plan: undefined, ok: undefined, extra: [] };
  let pendingChild: TapNode | undefined;
  p.on('child', (c: Parser) => { pendingChild = attach(c); });
  p.on('assert', (a: { ok: boolean; id: number; name: string; skip: boolean | string }) => {
    node.asserts.push({ ok: a.ok, id: a.id, name: a.name, skip: a.skip, child: pendingChild });
    pendingChild = undefined;
  });
  p.on('comment', (c: string) => node.comments.push(c.replace(/^\s*# ?/, '').replace(/\n$/, '')));
  p.on('plan', (pl: { start: number; end: number }) => { node.plan = { start: pl.start, end: pl.end }; });
  p.on('extra', (e: string) => node.extra.push(e.replace(/\n$/, '')));
  p.on('complete', (r: { ok: boolean }) => { node.ok = r.ok; });
  return node;
}

export function parseTap(text: string): TapNode {
  const p = new Parser();
  const root = attach(p);
  p.end(text);
  return root;
}

/** KTAP's two spaces per nesting level as TAP 14's four. */
export function ktapToTap14(text: string): string {
  return text.split('\n').map((l) => {
    const n = /^ */.exec(l)![0].length;
    return ' '.repeat(2 * n) + l.slice(n);
  }).join('\n');
}
