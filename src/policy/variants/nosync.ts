/**
 * nosync (negative control): the modern builders, every changed qword
 * written in index order and no CFGI_STE at all, so the SMMU may keep using
 * a cached STE; the replay's caches (policy max) must show it.
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'nosync',
  description: 'control: qwords written in index order, no CFGI_STE or CMD_SYNC after STE changes',
  builder: 'modern',
  liveUpdate: 'nosync',
  nested: 'vste',
  prefetch: false,
});
