/**
 * linux-current: today's driver: the hitless writer with the newest used bits
 * (MEV, S2FWB, S2S) and the update-safe bits of the 2026 stable fixes (MEV
 * always, EATS=TRANS when neither entry uses S1CHK or S2S), and nested
 * translation through the iommufd vSTE mapping (guest abort and invalid vSTE
 * -> abort STE, guest bypass -> the stage-2 STE, guest translate -> Config
 * nested with the guest's stage-1 fields and MEV).
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'linux-current',
  description: 'hitless writer with update-safe bits and the iommufd vSTE mapping for nesting',
  builder: 'modern',
  liveUpdate: 'hitless-safe',
  usedBits: 'current',
  nested: 'vste',
  abort: 'config-abort',
  prefetch: true,
});
