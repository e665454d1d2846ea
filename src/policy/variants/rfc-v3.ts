/**
 * rfc-v3: Eric Auger's "[RFC v3 09/21] iommu/smmuv3: Get prepared for nested
 * stage support" (January 2019) as posted: s1_cfg and s2_cfg both kept
 * (Config ORs to nested), a guest bypass as s1_cfg with nested_bypass set
 * (qword 1 still carries the stage-1 fields), the nested_abort check on the
 * bypass/fault path where an assigned master with stage 2 never reaches it,
 * live STEs invalidated (qword 0 := 0, sync) before a change, and the guest
 * ASID passed through s1_cfg.cd.asid into tlb_inv_context/tlb_inv_range.
 * The RFC's own text was not available; this follows the review remarks and
 * the later change logs (docs/variants.md).
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'rfc-v3',
  description: 'RFC v3 09/21 as posted: split cfgs, nested_bypass flag, unreachable nested_abort, V=0 before live changes, shared ASID',
  builder: 'legacy',
  layout: 'split',
  unionLayout: 'rfc-v3',
  s1Bypass: 'flag',
  abort: 'unreachable',
  liveUpdate: 'invalidate-first',
  tlbiAsid: 'shared',
  nested: 'pasid-table',
  prefetch: true,
});
