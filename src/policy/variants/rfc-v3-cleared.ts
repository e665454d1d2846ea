/**
 * rfc-v3-cleared: rfc-v3 with a guest bypass handled by clearing
 * ste->s1_cfg, as patch 10/21 does, instead of the nested_bypass flag.
 */
import { defineVariant } from '../variant.js';
import base from './rfc-v3.js';

export default defineVariant({
  ...base,
  name: 'rfc-v3-cleared',
  description: 'rfc-v3 with guest bypass as a cleared s1_cfg (patch 10/21)',
  s1Bypass: 'clear',
});
