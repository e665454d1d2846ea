/**
 * A worker thread of `--jobs N` (src/report/jobs.ts): replays the traces the
 * main thread sends, one at a time, spooling the streams to files, and
 * answers with the summaries and file names (or the error).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadVariantFile } from '../policy/registry.js';
import { jobProfile, replaySpooledFile, toJobError, type JobReply, type JobRequest, type JobSetup } from './jobs.js';
import { SpoolDir } from './spool.js';

const setup = workerData as JobSetup;
const spool = new SpoolDir(setup.spoolDir);
const ready = (async () => {
  for (const f of setup.variantFiles) await loadVariantFile(f, setup.cwd);
})();

parentPort!.on('message', (req: JobRequest) => {
  void (async (): Promise<JobReply> => {
    try {
      await ready;
      const results = await replaySpooledFile(req, {
        variants: setup.variants, profile: jobProfile(setup.profile), caching: setup.caching, parseThread: 'off',
        ...(setup.memoryCapPages !== undefined ? { memoryCapPages: setup.memoryCapPages } : {}),
      }, spool, `j${req.index}-`);
      return { index: req.index, ok: true, results: results.map((r) => ({ variant: r.variant, summary: r.summary, paths: { ...r.streams.paths } })) };
    } catch (e) {
      return { index: req.index, ok: false, error: toJobError(e) };
    }
  })().then((reply) => parentPort!.postMessage(reply));
});
