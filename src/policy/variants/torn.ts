/**
 * torn (negative control): the modern builders, but every changed qword is
 * written in index order with one trailing sync, so a live STE passes
 * through mixed states; hazard analysis must flag them.
 */
import { defineVariant } from '../variant.js';

export default defineVariant({
  name: 'torn',
  description: 'control: qwords written in index order, one trailing sync',
  builder: 'modern',
  liveUpdate: 'torn',
  nested: 'vste',
  prefetch: false,
});
