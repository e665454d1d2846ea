/**
 * linux-5.0: arm_smmu_write_strtab_ent as in v4.19/v5.0.  The s1_cfg/s2_cfg
 * union (nothing aliases here: a domain is stage 1 or stage 2), the
 * bypass/fault path (qwords 0-2, one sync, qword 3 left stale), the
 * translation path (qword 1 or 2-3, sync, qword 0, sync, prefetch), and
 * BUG_ON(ste_live) for a translating STE rewritten while live.  Attach
 * detaches an attached master first.  No nesting, no blocking domain, no ATS,
 * no range invalidation.
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'linux-5.0',
  description: 'legacy arm_smmu_write_strtab_ent: union layout, BUG_ON(ste_live), no nested operations',
  builder: 'legacy',
  layout: 'union',
  unionLayout: 'v5.0',
  liveUpdate: 'bug-on-live',
  nested: 'none',
  prefetch: true,
  disableBypass: true,
});
