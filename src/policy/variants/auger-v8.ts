/**
 * auger-v8: the v8-v15 behaviour of the nested series (May 2019 - April
 * 2021): a live STE goes through qword 0 := 0 and a sync before it is
 * rewritten, a guest abort is Config=abort (no event), qwords 2-3 are zeroed
 * when there is no stage 2 (v11+), explicit-ASID invalidation helpers, and
 * detach_pasid_table leaving the abort flag set (up to v13).
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'auger-v8',
  description: 'Auger v8-v15: V=0 before every live change, Config=abort for guest abort, explicit ASID/VMID',
  builder: 'legacy',
  layout: 'split',
  s1Bypass: 'clear',
  abort: 'config-abort',
  liveUpdate: 'invalidate-first',
  tlbiAsid: 'leaf',
  nested: 'pasid-table',
  prefetch: true,
  zeroS2WithoutS2: true,
  detachResetsAbort: false,
});
