/**
 * The CLI's window on the world, injected so commands run in-process in tests:
 * output sinks, the working directory, the environment, and terminal facts.
 */
export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
}

/** Exit codes, as diff(1): 0 no difference, 1 difference, 2 trouble. */
export const EXIT_SAME = 0;
export const EXIT_DIFF = 1;
export const EXIT_ERROR = 2;

/** Colour only on a terminal, never with NO_COLOR set (https://no-color.org), TERM=dumb or in CI logs. */
export function useColour(io: Io, stream: 'stdout' | 'stderr' = 'stdout'): boolean {
  if (io.env.NO_COLOR) return false;
  if (io.env.TERM === 'dumb') return false;
  if (io.env.FORCE_COLOR && io.env.FORCE_COLOR !== '0') return true;
  return stream === 'stdout' ? io.stdoutIsTTY : io.stderrIsTTY;
}

const CODES = { red: [31, 39], green: [32, 39], cyan: [36, 39], bold: [1, 22], dim: [2, 22] } as const;

export function paint(on: boolean, style: keyof typeof CODES, s: string): string {
  if (!on) return s;
  const [a, b] = CODES[style];
  return `\u001b[${a}m${s}\u001b[${b}m`;
}

/** Colour a unified diff's -, + and @@ lines. */
export function paintDiff(on: boolean, diff: string): string {
  if (!on) return diff;
  return diff.split('\n').map((l) => {
    if (l.startsWith('+++') || l.startsWith('---')) return paint(true, 'bold', l);
    if (l.startsWith('@@')) return paint(true, 'cyan', l);
    if (l.startsWith('+')) return paint(true, 'green', l);
    if (l.startsWith('-')) return paint(true, 'red', l);
    return l;
  }).join('\n');
}

/** A progress line on stderr, only on a terminal and outside CI. */
export function progress(io: Io): ((msg: string) => void) | undefined {
  if (!io.stderrIsTTY || io.env.CI) return undefined;
  return (msg: string) => io.stderr(`\r\u001b[K${msg}`);
}
