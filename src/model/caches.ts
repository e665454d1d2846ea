/**
 * The SMMU's caches (IHI0070 §16.2): the configuration cache (L1STD, STE,
 * L1CD, CD) and the TLB (leaf translations and walk-cache entries), with the
 * invalidation scope of every CFGI_* and TLBI_* command (§4.3, §4.4).
 *
 * Policy `max` keeps every entry the architecture allows an implementation to
 * keep until a command that the architecture says must remove it does so, so
 * that a missing or too-narrow invalidation always shows up in a replay.
 * Policy `none` caches nothing: every transaction reads the tables again.
 */
import type { CdVerdict } from './cd.js';
import type { SteVerdict } from './ste.js';
import type { Stage1Regime, TableAttrs, Translation } from './walk.js';

export type CachingPolicy = 'max' | 'none';

// ---------------------------------------------------------------------------
// Configuration cache.

export interface CachedSte {
  readonly qwords: readonly bigint[];
  readonly verdict: SteVerdict;
  readonly addr: bigint;
}

export interface CachedCd {
  readonly qwords: readonly bigint[];
  readonly verdict: CdVerdict;
  readonly addr: bigint;
}

export class ConfigCache {
  private readonly l1std = new Map<number, bigint>(); // L1 index -> descriptor
  private readonly ste = new Map<number, CachedSte>();
  /** L1CDs by StreamID, then by `${l1index}:${leafBits}` (by StreamID first: CFGI_STE drops a StreamID's without a scan). */
  private readonly l1cd = new Map<number, Map<string, bigint>>();
  /** CDs by StreamID, then by SubstreamID. */
  private readonly cd = new Map<number, Map<number, CachedCd>>();

  /** Changes with every fill and invalidation (the SMMU's translation memo depends on the cache contents). */
  generation = 0;

  constructor(readonly policy: CachingPolicy) {}

  getL1std(index: number): bigint | undefined { return this.l1std.get(index); }
  putL1std(index: number, v: bigint): void { if (this.policy === 'max') { this.generation++; this.l1std.set(index, v); } }
  getSte(sid: number): CachedSte | undefined { return this.ste.get(sid); }
  putSte(sid: number, e: CachedSte): void { if (this.policy === 'max') { this.generation++; this.ste.set(sid, e); } }
  /** L1CDs are keyed by StreamID, L1 index and the leaf-table size (log2 CDs per leaf: 6 or 10). */
  getL1cd(sid: number, index: number, leafBits: number): bigint | undefined { return this.l1cd.get(sid)?.get(`${index}:${leafBits}`); }
  putL1cd(sid: number, index: number, leafBits: number, v: bigint): void {
    if (this.policy !== 'max') return;
    this.generation++;
    let m = this.l1cd.get(sid);
    if (!m) this.l1cd.set(sid, (m = new Map()));
    m.set(`${index}:${leafBits}`, v);
  }
  getCd(sid: number, ssid: number): CachedCd | undefined { return this.cd.get(sid)?.get(ssid); }
  putCd(sid: number, ssid: number, e: CachedCd): void {
    if (this.policy !== 'max') return;
    this.generation++;
    let m = this.cd.get(sid);
    if (!m) this.cd.set(sid, (m = new Map()));
    m.set(ssid, e);
  }

  get size(): { l1std: number; ste: number; l1cd: number; cd: number } {
    let l1cd = 0;
    let cd = 0;
    for (const m of this.l1cd.values()) l1cd += m.size;
    for (const m of this.cd.values()) cd += m.size;
    return { l1std: this.l1std.size, ste: this.ste.size, l1cd, cd };
  }

  /**
   * CMD_CFGI_STE (§4.3.1): the STE of one StreamID, and every CD cached
   * through it.  Leaf=0 also drops the L1STD that leads to it (`split` is
   * STRTAB_BASE_CFG.SPLIT for a 2-level table, undefined for a linear one).
   */
  invalidateSte(sid: number, leaf: boolean, split: number | undefined): void {
    this.generation++;
    this.ste.delete(sid);
    this.cd.delete(sid);
    this.l1cd.delete(sid);
    if (!leaf && split !== undefined) this.l1std.delete(Math.floor(sid / 2 ** split));
  }

  /**
   * CMD_CFGI_STE_RANGE (§4.3.2) and CMD_CFGI_ALL (§4.3.3, Range=31): every
   * StreamID in [first, first + count), the L1STDs covering them, and their
   * CDs.  (Each loop visits what is cached: at most one entry per StreamID or
   * L1 index the profile's SIDSIZE allows.)
   */
  invalidateSteRange(first: number, count: number, split: number | undefined): void {
    this.generation++;
    const last = first + count;
    const inRange = (sid: number): boolean => sid >= first && sid < last;
    for (const sid of [...this.ste.keys()]) if (inRange(sid)) this.ste.delete(sid);
    if (split !== undefined) {
      const lo = Math.floor(first / 2 ** split);
      const hi = Math.floor((last - 1) / 2 ** split);
      for (const idx of [...this.l1std.keys()]) if (idx >= lo && idx <= hi) this.l1std.delete(idx);
    }
    for (const sid of [...this.cd.keys()]) if (inRange(sid)) this.cd.delete(sid);
    for (const sid of [...this.l1cd.keys()]) if (inRange(sid)) this.l1cd.delete(sid);
  }

  /**
   * CMD_CFGI_CD (§4.3.4): one CD of one StreamID; Leaf=0 also the L1CD leading
   * to it.  The L1CD index depends on the STE's S1Fmt, which the SMMU may not
   * know at invalidation time, so every L1CD of the StreamID covering the
   * SubstreamID under either leaf size (64 or 1024 CDs) is dropped.
   */
  invalidateCd(sid: number, ssid: number, leaf: boolean): void {
    this.generation++;
    this.cd.get(sid)?.delete(ssid);
    if (!leaf) {
      this.l1cd.get(sid)?.delete(`${ssid >> 6}:6`);
      this.l1cd.get(sid)?.delete(`${ssid >> 10}:10`);
    }
  }

  /** CMD_CFGI_CD_ALL (§4.3.5): every CD and L1CD of one StreamID. */
  invalidateCdAll(sid: number): void {
    this.generation++;
    this.cd.delete(sid);
    this.l1cd.delete(sid);
  }

  invalidateAll(): void {
    this.generation++;
    this.l1std.clear();
    this.ste.clear();
    this.l1cd.clear();
    this.cd.clear();
  }
}

// ---------------------------------------------------------------------------
// TLB.

/** Which stages a cached translation combines. */
export type TlbKind = 'S1' | 'S2' | 'S12';

/** Translation regime tag: NS-EL1 (with a VMID when stage 2 exists), NS-EL2, NS-EL2-E2H. */
export type Regime = Stage1Regime;

export interface TlbEntry {
  readonly kind: TlbKind;
  readonly regime: Regime;
  /** VMID tag; undefined when the entry carries none (EL2 regimes, or no stage 2 implemented). */
  readonly vmid: number | undefined;
  /** ASID tag; undefined for global (nG=0) entries and for entries without an ASID (stage 2, EL2). */
  readonly asid: number | undefined;
  /** Input address (VA for S1/S12, IPA for S2) of the first byte the entry maps. */
  readonly iaBase: bigint;
  /** log2 of the entry's size (the smaller of the stages' sizes for S12). */
  readonly sizeShift: number;
  /** Output address (IPA for S1 in a nested stream is never cached alone: S1 here is stage-1-only). */
  readonly oaBase: bigint;
  /** Leaf level of each stage (for TTL-scoped invalidation) and granule size (for TG-scoped invalidation). */
  readonly s1?: Translation;
  readonly s2?: Translation;
  readonly s1Granule?: number;
  readonly s2Granule?: number;
  /** For S12 entries: the IPA the VA maps to (TLBI_S2_IPA need not remove S12 entries, §4.4.13). */
  readonly ipaBase?: bigint;
}

export interface WalkCacheEntry {
  readonly stage: 1 | 2;
  readonly regime: Regime;
  readonly vmid: number | undefined;
  /** Stage-1 walk-cache entries are ASID-tagged (intermediate entries have no nG). */
  readonly asid: number | undefined;
  readonly level: number;
  readonly iaBase: bigint;
  readonly coverShift: number;
  readonly next: bigint;
  readonly attrs: TableAttrs;
  readonly granuleShift: number;
  /** Which TTB (stage 1) or which stage-2 configuration the walk started from. */
  readonly root: bigint;
}

/** Scope of a TLBI by address (§4.4.1): one address (TG=0) or a range, and its Leaf/TTL hints. */
export interface AddressScope {
  readonly start: bigint;
  /** Exclusive end. */
  readonly end: bigint;
  readonly leaf: boolean;
  /** Level hint (1..3) or 0 for any level. */
  readonly ttl: number;
  /** Granule shift the TG field names, or 0 when TG=0. */
  readonly tgShift: number;
}

export interface TagMatch {
  readonly regimes: readonly Regime[];
  /** Match this VMID; undefined = any VMID. */
  readonly vmid?: number | undefined;
  /** Match this ASID on non-global entries; undefined = any ASID. */
  readonly asid?: number | undefined;
  /** Also match global entries when an ASID is given (TLBI by VA does, TLBI by ASID does not). */
  readonly includeGlobal: boolean;
  readonly kinds: readonly TlbKind[];
}

/** An address-scoped invalidation of at most this many pages looks its entries up instead of scanning them all. */
const SCOPE_PAGES = 256;

/** BigInt shift amounts, made once. */
const SHIFTS: readonly bigint[] = Array.from({ length: 65 }, (_v, i) => BigInt(i));

/**
 * The walk-cache entries of one translation context, level and coverage
 * size, found by the input address bits above the coverage.  (An index over
 * `Tlb.walks`, so that a lookup does not scan every entry.)
 */
interface WalkGroup {
  readonly stage: 1 | 2;
  readonly regime: Regime;
  readonly vmid: number | undefined;
  readonly asid: number | undefined;
  readonly level: number;
  readonly coverShift: number;
  readonly byIa: Map<number, IndexedWalk>;
}

interface IndexedWalk {
  w: WalkCacheEntry;
  /** Order of the entry's key's first insertion (lookups prefer earlier entries, as a scan in insertion order would). */
  readonly seq: number;
  group: WalkGroup;
}

export class Tlb {
  /** TLB entries by tag and page: `${kind}|${regime}|${vmid}|${asid}|${shift}|${page}`. */
  private readonly entries = new Map<string, TlbEntry>();
  /** The same entries by tag, then by page number (input address >> size; below 2^52, so exact as a number). */
  private readonly byTag = new Map<string, Map<number, TlbEntry>>();
  /** Keys of `entries` by `${size}|${page}`, so that an invalidation of a few pages does not scan every entry. */
  private readonly byPage = new Map<string, Set<string>>();
  private readonly walks = new Map<string, IndexedWalk>();
  /** Walk groups by the root table they start from. */
  private readonly walkIndex = new Map<bigint, WalkGroup[]>();
  private walkSeq = 0;
  /** Sizes present, so a lookup probes only sizes that can hit. */
  private readonly sizes = new Map<number, number>();
  /** Changes with every insertion and invalidation (the SMMU's translation memo depends on the contents). */
  generation = 0;

  constructor(readonly policy: CachingPolicy) {}

  get size(): { tlb: number; walk: number } {
    return { tlb: this.entries.size, walk: this.walks.size };
  }

  private static tag(kind: TlbKind, regime: Regime, vmid: number | undefined, asid: number | undefined, shift: number): string {
    return `${kind}|${regime}|${vmid ?? '-'}|${asid ?? 'g'}|${shift}`;
  }

  insert(e: TlbEntry): void {
    if (this.policy !== 'max') return;
    this.generation++;
    const tag = Tlb.tag(e.kind, e.regime, e.vmid, e.asid, e.sizeShift);
    const page = Number(e.iaBase >> SHIFTS[e.sizeShift]!);
    const k = `${tag}|${page}`;
    if (!this.entries.has(k)) {
      this.sizes.set(e.sizeShift, (this.sizes.get(e.sizeShift) ?? 0) + 1);
      const pk = `${e.sizeShift}|${page}`;
      let keys = this.byPage.get(pk);
      if (!keys) this.byPage.set(pk, (keys = new Set()));
      keys.add(k);
    }
    this.entries.set(k, e);
    let m = this.byTag.get(tag);
    if (!m) {
      m = new Map();
      this.byTag.set(tag, m);
    }
    m.set(page, e);
  }

  /** Find a cached translation of `ia` for these tags; an ASID-tagged lookup also hits global entries. */
  lookup(kind: TlbKind, regime: Regime, vmid: number | undefined, asid: number | undefined, ia: bigint): TlbEntry | undefined {
    if (this.entries.size === 0) return undefined;
    for (const shift of this.sizes.keys()) {
      const page = Number(ia >> SHIFTS[shift]!);
      const e = this.byTag.get(Tlb.tag(kind, regime, vmid, asid, shift))?.get(page)
        ?? (asid !== undefined ? this.byTag.get(Tlb.tag(kind, regime, vmid, undefined, shift))?.get(page) : undefined);
      if (e) return e;
    }
    return undefined;
  }

  private removeEntry(k: string, e: TlbEntry): void {
    this.entries.delete(k);
    const page = Number(e.iaBase >> SHIFTS[e.sizeShift]!);
    const tag = Tlb.tag(e.kind, e.regime, e.vmid, e.asid, e.sizeShift);
    const m = this.byTag.get(tag);
    if (m) {
      m.delete(page);
      if (m.size === 0) this.byTag.delete(tag);
    }
    const pk = `${e.sizeShift}|${page}`;
    const keys = this.byPage.get(pk);
    if (keys) {
      keys.delete(k);
      if (keys.size === 0) this.byPage.delete(pk);
    }
    const n = (this.sizes.get(e.sizeShift) ?? 1) - 1;
    if (n === 0) this.sizes.delete(e.sizeShift); else this.sizes.set(e.sizeShift, n);
  }

  /**
   * Keys of the entries an address scope can touch, found through the page
   * index when the scope covers at most SCOPE_PAGES pages of every size
   * present; undefined when a scan of every entry is cheaper.
   */
  private keysInScope(scope: AddressScope): string[] | undefined {
    const keys: string[] = [];
    let pages = 0;
    for (const shift of this.sizes.keys()) {
      const lo = scope.start >> SHIFTS[shift]!;
      const hi = (scope.end - 1n) >> SHIFTS[shift]!;
      if (hi - lo >= BigInt(SCOPE_PAGES - pages)) return undefined;
      pages += Number(hi - lo) + 1;
      for (let p = Number(lo); p <= Number(hi); p++) {
        const ks = this.byPage.get(`${shift}|${p}`);
        if (ks) for (const k of ks) keys.push(k); // not push(...ks): a page held by 200,000 entries (ASIDs x VMIDs) would overflow the stack
      }
    }
    return keys;
  }

  insertWalk(w: WalkCacheEntry): void {
    if (this.policy !== 'max') return;
    this.generation++;
    const k = `${w.stage}|${w.regime}|${w.vmid ?? '-'}|${w.asid ?? '-'}|${w.root.toString(16)}|${w.level}|${w.iaBase.toString(16)}`;
    const old = this.walks.get(k);
    if (old) this.unindexWalk(old);
    const iw: IndexedWalk = { w, seq: old ? old.seq : this.walkSeq++, group: this.walkGroup(w) };
    this.walks.set(k, iw);
    iw.group.byIa.set(Number(w.iaBase >> SHIFTS[w.coverShift]!), iw);
  }

  private walkGroup(w: WalkCacheEntry): WalkGroup {
    let groups = this.walkIndex.get(w.root);
    if (!groups) {
      groups = [];
      this.walkIndex.set(w.root, groups);
    }
    let g = groups.find((x) => x.stage === w.stage && x.regime === w.regime && x.vmid === w.vmid && x.asid === w.asid
      && x.level === w.level && x.coverShift === w.coverShift);
    if (!g) {
      g = { stage: w.stage, regime: w.regime, vmid: w.vmid, asid: w.asid, level: w.level, coverShift: w.coverShift, byIa: new Map() };
      groups.push(g);
    }
    return g;
  }

  private unindexWalk(iw: IndexedWalk): void {
    const ia = Number(iw.w.iaBase >> SHIFTS[iw.w.coverShift]!);
    if (iw.group.byIa.get(ia) === iw) iw.group.byIa.delete(ia);
  }

  /** Deepest cached table descriptor covering `ia` for a walk from `root` (the earliest cached, if several). */
  lookupWalk(stage: 1 | 2, regime: Regime, vmid: number | undefined, asid: number | undefined, root: bigint, ia: bigint): WalkCacheEntry | undefined {
    if (this.walks.size === 0) return undefined;
    const groups = this.walkIndex.get(root);
    if (!groups) return undefined;
    let best: IndexedWalk | undefined;
    for (const g of groups) {
      if (g.stage !== stage || g.regime !== regime || g.vmid !== vmid || g.asid !== asid) continue;
      if (best && g.level < best.w.level) continue;
      const hit = g.byIa.get(Number(ia >> SHIFTS[g.coverShift]!));
      if (!hit) continue;
      if (!best || g.level > best.w.level || hit.seq < best.seq) best = hit;
    }
    return best?.w;
  }

  /** Remove TLB entries (and, unless leafOnly, walk-cache entries) matching tags and an optional address scope. */
  invalidate(m: TagMatch, scope: AddressScope | undefined, walkStages: readonly (1 | 2)[]): number {
    this.generation++;
    let removed = 0;
    const candidates = scope ? this.keysInScope(scope) : undefined;
    const each = (k: string, e: TlbEntry): void => {
      if (!m.kinds.includes(e.kind) || !m.regimes.includes(e.regime)) return;
      if (m.vmid !== undefined && e.vmid !== undefined && e.vmid !== m.vmid) return;
      if (m.asid !== undefined) {
        if (e.asid === undefined ? !m.includeGlobal : e.asid !== m.asid) return;
      }
      if (scope && !entryInScope(e, scope)) return;
      this.removeEntry(k, e);
      removed++;
    };
    if (candidates) for (const k of candidates) each(k, this.entries.get(k)!);
    else for (const [k, e] of this.entries) each(k, e);
    if (scope?.leaf) return removed;
    for (const [k, iw] of this.walks) {
      const w = iw.w;
      if (!walkStages.includes(w.stage) || !m.regimes.includes(w.regime)) continue;
      if (m.vmid !== undefined && w.vmid !== undefined && w.vmid !== m.vmid) continue;
      if (m.asid !== undefined && w.asid !== undefined && w.asid !== m.asid) continue;
      if (scope) {
        const wEnd = w.iaBase + (1n << BigInt(w.coverShift));
        if (!(w.iaBase < scope.end && wEnd > scope.start)) continue;
        if (scope.tgShift !== 0 && scope.tgShift !== w.granuleShift) continue;
        // §4.4.1.1: with a level hint TTL and Leaf=0, only table entries at levels above TTL are in scope.
        if (scope.ttl !== 0 && w.level >= scope.ttl) continue;
      }
      this.walks.delete(k);
      this.unindexWalk(iw);
      removed++;
    }
    return removed;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.byTag.clear();
    this.byPage.clear();
    this.walks.clear();
    this.walkIndex.clear();
    this.sizes.clear();
  }

  /** Snapshot for tests and reports. */
  all(): TlbEntry[] {
    return [...this.entries.values()];
  }
}

/**
 * Whether a TLBI by address must remove an entry (§4.4.1): the entry
 * overlaps the range; with TG!=0 only entries of that granule are in scope
 * and, with TTL!=0, only leaves at that level.  Entries outside what the
 * command requires are kept under the `max` policy.  For S12 entries the
 * relevant leaf is the stage-1 leaf (TLBI by VA).
 */
function entryInScope(e: TlbEntry, s: AddressScope): boolean {
  const end = e.iaBase + (1n << BigInt(e.sizeShift));
  if (!(e.iaBase < s.end && end > s.start)) return false;
  const t = e.kind === 'S2' ? e.s2 : e.s1;
  const g = e.kind === 'S2' ? e.s2Granule : e.s1Granule;
  if (s.tgShift !== 0 && g !== undefined && g !== s.tgShift) return false;
  if (s.ttl !== 0 && t && t.level !== s.ttl) return false;
  return true;
}
