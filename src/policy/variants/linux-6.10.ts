/**
 * linux-6.10: the first hitless entry writer (arm_smmu_write_entry with the
 * v6.10 used bits: no MEV, S2FWB or S2S, no update-safe bits) over the
 * arm_smmu_make_*_ste builders, per-master CD tables written with the same
 * writer, range TLB invalidation.  Nested translation arrived later (iommufd,
 * v6.13), so nested operations fail with EINVAL.
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'linux-6.10',
  description: 'first hitless writer (v6.10 used bits, no update-safe bits); no nesting',
  builder: 'modern',
  liveUpdate: 'hitless',
  usedBits: 'v6.10',
  nested: 'none',
  prefetch: true,
});
