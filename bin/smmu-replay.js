#!/usr/bin/env node
// The installed command: runs the compiled CLI (built by `npm install` through the
// "prepare" script, or by `npm run build`).
import('../dist/cli/bin.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('smmu-replay: the CLI is not built; run `npm install` (or `npm run build`) in the project first\n');
    process.exit(2);
  }
  throw e;
});
