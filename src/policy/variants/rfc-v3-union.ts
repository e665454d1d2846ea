/**
 * rfc-v3-union: rfc-v3 with the 2019 union of s1_cfg and s2_cfg kept.  On a
 * nested domain both configurations are live at once, so filling s1_cfg
 * (cdptr, cdptr_dma, the nested flags) overwrites s2_cfg's vmid, vttbr and
 * vtcr bytes, and the STE built from s2_cfg carries the damage.
 */
import { defineVariant } from '../variant.js';
import base from './rfc-v3.js';

export default defineVariant({
  ...base,
  name: 'rfc-v3-union',
  description: 'rfc-v3 with the s1_cfg/s2_cfg union kept: stage-1 stores corrupt the stage-2 configuration',
  layout: 'union',
});
