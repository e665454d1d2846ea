/**
 * Runs one smmu-replay command in this process (its stdout discarded) and
 * prints, as JSON on stdout, the exit code, the time and the process's peak
 * resident memory: what `npm run bench` measures a large replay with.
 */
import { main } from '../cli/main.js';

const t0 = performance.now();
const code = await main(process.argv.slice(2), {
  stdout: () => undefined,
  stderr: (s) => process.stderr.write(s),
  cwd: process.cwd(),
  env: process.env,
  stdoutIsTTY: false,
  stderrIsTTY: false,
});
const ms = performance.now() - t0;
// resourceUsage().maxRSS is in KiB (getrusage ru_maxrss).
process.stdout.write(`${JSON.stringify({ code, ms, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
