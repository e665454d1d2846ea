/**
 * auger-v7: "[PATCH v7 12/23] iommu/smmuv3: Get prepared for nested stage
 * support" (April 2019): separate s1_cfg and s2_cfg, an ste.abort flag
 * (Config=abort for a guest abort), the BUG_ON(ste_live) checks removed and
 * no V=0 step, so a live stage-2 STE is rewritten in place (qwords 1-3,
 * sync, qword 0, sync).
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'auger-v7',
  description: 'Auger v7: in-place rewrite of live STEs (no V=0 step), Config=abort for guest abort',
  builder: 'legacy',
  layout: 'split',
  s1Bypass: 'clear',
  abort: 'config-abort',
  liveUpdate: 'in-place',
  tlbiAsid: 'leaf',
  nested: 'pasid-table',
  prefetch: true,
  detachResetsAbort: false,
});
