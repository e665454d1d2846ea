/**
 * rfc-v3-review: Jean-Philippe Brucker's review of RFC v3 applied: bypass by
 * clearing s1_cfg, a guest abort as stage 1+2 with an empty CD so every
 * access faults with a recorded (and forwardable) event, and invalidation
 * helpers that take ASID and VMID explicitly (stage-2 changes use stage-2
 * invalidations).
 */
import { defineVariant } from '../variant.js';
import base from './rfc-v3.js';

export default defineVariant({
  ...base,
  name: 'rfc-v3-review',
  description: 'rfc-v3 with the review applied: cleared s1_cfg, empty-CD abort, explicit ASID/VMID invalidations',
  s1Bypass: 'clear',
  abort: 'empty-cd',
  tlbiAsid: 'leaf',
});
