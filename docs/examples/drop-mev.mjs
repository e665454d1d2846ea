// A user variant with a hook: today's driver without MEV (STE qword 1 bit 19)
// in the STEs it writes, as before "Set MEV bit in nested STE for DoS
// mitigations".  Try:
//   smmu-replay compare traces/nested-bypass.csv linux-current drop-mev \
//     --variant-file docs/examples/drop-mev.mjs --semantic
export default {
  name: 'drop-mev',
  description: 'linux-current without MEV in nested STEs',
  extends: 'linux-current',
  hooks: {
    adjustSte: (q) => q.map((x, i) => (i === 1 ? x & ~(1n << 19n) : x)),
  },
};
