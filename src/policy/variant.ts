/**
 * A driver-policy variant: a named set of choices (and optional hooks) over
 * the one driver engine (driver.ts).  Each choice is a point where revisions
 * of the Linux arm-smmu-v3 driver's STE programming differ
 * (docs/variants.md, and the history in each variant's file).
 */

/** How the target STE of a master is built. */
export type BuilderChoice =
  /** arm_smmu_write_strtab_ent (v4.19-v5.x and the 2019-2021 nested series): s1_cfg/s2_cfg pointers, bypass/fault path, q1..q3 then q0. */
  | 'legacy'
  /** arm_smmu_make_*_ste builders (v6.9+) with a separate entry writer. */
  | 'modern';

/** Storage of the stage-1 and stage-2 configuration in the domain. */
export type LayoutChoice =
  /** separate s1_cfg and s2_cfg members */
  | 'split'
  /** the 2019 C union: s1_cfg and s2_cfg share bytes, byte for byte */
  | 'union';

/** How a guest "bypass" configuration is represented (RFC v3 patch 09 vs 10). */
export type S1BypassChoice = 'flag' | 'clear';

/** How a guest "abort" configuration is programmed. */
export type AbortChoice = 'unreachable' | 'config-abort' | 'empty-cd';

/** How a live STE is changed. */
export type LiveUpdateChoice =
  | 'bug-on-live' // legacy BUG_ON(ste_live) when a translating STE is rewritten
  | 'invalidate-first' // qword 0 := 0, sync, then the legacy sequence
  | 'in-place' // the legacy sequence with no V=0 step (Auger v7)
  | 'hitless' // used-bits writer (v6.10)
  | 'hitless-safe' // used-bits writer with update-safe bits (current)
  | 'always-break' // every change through V=0 (control)
  | 'torn' // every changed qword in index order, one trailing sync (negative control)
  | 'nosync'; // every changed qword in index order, no CFGI_STE at all (negative control)

/** Which ASID/VMID the TLB invalidations of a nested domain use. */
export type TlbiAsidChoice =
  /** RFC v3: the guest ASID passes through s1_cfg.cd.asid; tlb_inv_context/tlb_inv_range of a nested domain use TLBI_NH_ASID/TLBI_NH_VA with it */
  | 'shared'
  /** helpers take ASID and VMID explicitly; stage-2 changes use stage-2 invalidations */
  | 'leaf';

/** How a nested (guest stage-1) configuration reaches the driver. */
export type NestedChoice =
  /** no nested support: nested operations fail with EINVAL */
  | 'none'
  /** set_pasid_table / attach_pasid_table (2019-2021 series) */
  | 'pasid-table'
  /** iommufd vSTE mapping (v6.13+) */
  | 'vste';

export interface Variant {
  readonly name: string;
  /** One line: which revision and what it shows. */
  readonly description: string;
  readonly builder: BuilderChoice;
  readonly layout: LayoutChoice;
  /** With layout=union: the struct layout (RFC v3 adds nested_bypass/nested_abort after cdptr_dma). */
  readonly unionLayout: 'v5.0' | 'rfc-v3';
  readonly s1Bypass: S1BypassChoice;
  readonly abort: AbortChoice;
  readonly liveUpdate: LiveUpdateChoice;
  readonly tlbiAsid: TlbiAsidChoice;
  readonly nested: NestedChoice;
  /** Used bits for the hitless writers: v6.10, or current (MEV, S2FWB, S2S). */
  readonly usedBits: 'v6.10' | 'current';
  /** Issue CMD_PREFETCH_CONFIG after installing a translating STE (legacy). */
  readonly prefetch: boolean;
  /** Zero qwords 2-3 when the STE has no stage 2 (Auger v11+). */
  readonly zeroS2WithoutS2: boolean;
  /** detach_pasid_table resets the abort flag (Auger v14+ after Keqian Zhu's review). */
  readonly detachResetsAbort: boolean;
  /** disable_bypass default when probe does not say (Linux: 1 since v4.15-ish). */
  readonly disableBypass: boolean;
  /** Optional hooks a user variant may add (see docs/variants.md). */
  readonly hooks?: VariantHooks;
}

/** Extension points for user variants; each receives and returns plain values. */
export interface VariantHooks {
  /** Adjust the STE the builder computed for a master before it is written. */
  readonly adjustSte?: (ste: readonly bigint[], info: { sid: number; domainType: string | undefined }) => bigint[];
}

/** Defaults a variant file may leave out. */
export const VARIANT_DEFAULTS: Omit<Variant, 'name' | 'description' | 'builder' | 'liveUpdate'> = {
  layout: 'split',
  unionLayout: 'v5.0',
  s1Bypass: 'clear',
  abort: 'config-abort',
  tlbiAsid: 'leaf',
  nested: 'none',
  usedBits: 'current',
  prefetch: false,
  zeroS2WithoutS2: false,
  detachResetsAbort: true,
  disableBypass: true,
};

export function defineVariant(v: Partial<Variant> & Pick<Variant, 'name' | 'description' | 'builder' | 'liveUpdate'>): Variant {
  return { ...VARIANT_DEFAULTS, ...v };
}
