/** Process entry point: real stdout/stderr, the exit code from main(). */
import { main } from './main.js';
import { removeAllSpools } from '../src/report/spool.js';

// A reader that goes away (`smmu-replay ... | head`) is not an error of ours.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

// Interrupted (Ctrl-C, kill): remove the spooled streams, then die of the same signal.  The handler runs
// between two steps of the replay; a check --update that is renaming golden files finishes that first
// (each rename is atomic: every golden file is old or new either way).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    removeAllSpools();
    process.kill(process.pid, sig);
  });
}
process.on('exit', () => removeAllSpools());

const code = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  cwd: process.cwd(),
  env: process.env,
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
});
process.exitCode = code;
