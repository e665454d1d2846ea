/** Run the CLI in-process with captured output. */
import { main } from '../../cli/main.js';
import type { Io } from '../../src/report/io.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function runCli(argv: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: (s) => { out += s; },
    stderr: (s) => { err += s; },
    cwd,
    env: { NO_COLOR: '1', ...env },
    stdoutIsTTY: false,
    stderrIsTTY: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

/** The repository root (tests run from it). */
export const ROOT = process.cwd();
