/**
 * Starting and stopping QEMU for the oracle.
 *
 * Rules (issue 5): the tool starts QEMU and stops it by its own pid, on every
 * exit path (normal, error, SIGINT/SIGTERM, process exit); each instance
 * lives in its own temporary directory (qtest socket, firmware, log), removed
 * when it stops; a QEMU that does not connect or answer within a bound is an
 * error, never a hang.  Other QEMU processes on the machine are never
 * touched: only pids this process spawned are signalled.
 *
 * QEMU is the client of the qtest socket (as with libqtest): the tool
 * listens on a unix socket in the instance's directory and QEMU connects to
 * it (`-qtest unix:<path>`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QtestClient, QtestError } from './qtest.js';

export interface LaunchOptions {
  readonly binary: string;
  /** Arguments, given the instance directory and the qtest socket path. */
  readonly args: (dir: string, socket: string) => string[];
  /** Files to create in the instance directory before QEMU starts (name -> contents). */
  readonly files?: Readonly<Record<string, Uint8Array | string>>;
  readonly env?: Readonly<Record<string, string>>;
  /** Bound on spawn -> qtest connection. */
  readonly startTimeoutMs: number;
  /** Bound on each qtest answer. */
  readonly commandTimeoutMs: number;
  /** Bound on SIGTERM -> exit before SIGKILL. */
  readonly stopTimeoutMs?: number;
}

const live = new Set<QemuInstance>();
let handlersInstalled = false;

function killAllNow(): void {
  for (const q of live) q.killNow();
}

const onExit = (): void => killAllNow();
const onSignal = (sig: NodeJS.Signals): void => {
  killAllNow();
  removeHandlers();
  // Re-raise with the default action so the exit status says which signal ended us.
  process.kill(process.pid, sig);
};

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
}

function removeHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
}

/** Instances still running (for tests and diagnostics). */
export function liveInstances(): readonly QemuInstance[] {
  return [...live];
}

export class QemuInstance {
  readonly qtest: QtestClient;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private logOffset = 0;
  private logPartial = '';
  private stopped = false;

  /**
   * `stderrTail` reads the last few KiB QEMU wrote to stderr: start() collects
   * them from before the connection on, so a crash message is kept whenever
   * it came.
   */
  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    socket: Socket,
    commandTimeoutMs: number,
    private readonly stopTimeoutMs: number,
    private readonly exited: Promise<void>,
    private readonly stderrTail: () => string,
  ) {
    this.qtest = new QtestClient(socket, commandTimeoutMs);
    child.once('exit', (code, signal) => { this.exit = { code, signal }; });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** How QEMU exited, if it did (a crash shows here: signal SIGABRT, ...). */
  get exitStatus(): string | undefined {
    const e = this.exit ?? (this.child.exitCode !== null || this.child.signalCode !== null ? { code: this.child.exitCode, signal: this.child.signalCode } : undefined);
    if (!e) return undefined;
    return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
  }

  /** The last lines QEMU wrote to stderr (for error messages). */
  get stderr(): string {
    return this.stderrTail();
  }

  static async start(o: LaunchOptions): Promise<QemuInstance> {
    const dir = mkdtempSync(join(tmpdir(), 'smmu-replay-qemu-'));
    const sockPath = join(dir, 'qtest.sock');
    let server: Server | undefined;
    let child: ChildProcess | undefined;
    try {
      for (const [name, data] of Object.entries(o.files ?? {})) writeFileSync(join(dir, name), data);
      server = createServer();
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(sockPath, () => resolve());
      });
      const connected = new Promise<Socket>((resolve) => server!.once('connection', resolve));
      let tail = '';
      child = spawn(o.binary, o.args(dir, sockPath), {
        cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(o.env ?? {}) },
      });
      const c = child;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      const spawnError = new Promise<never>((_, reject) => c.once('error', (e) => reject(new QtestError(`cannot start ${o.binary}: ${e.message}`))));
      spawnError.catch(() => undefined);
      // Keep the last few KiB of stderr for error messages; stdout (edu's messages) is drained.
      c.stdout!.on('data', () => undefined);
      c.stderr!.setEncoding('utf8');
      c.stderr!.on('data', (s: string) => { tail = (tail + s).slice(-4096); });
      const earlyExit = exited.then(() => { throw new QtestError(`QEMU exited before connecting (${c.signalCode ? `signal ${c.signalCode}` : `status ${c.exitCode}`})${tail ? `: ${tail.trim()}` : ''}`); });
      earlyExit.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QtestError(`QEMU did not connect to the qtest socket within ${o.startTimeoutMs} ms`)), o.startTimeoutMs);
      });
      let socket: Socket;
      try {
        socket = await Promise.race([connected, earlyExit, spawnError, timeout]);
      } finally {
        clearTimeout(timer);
      }
      server.close();
      const inst = new QemuInstance(c, dir, socket, o.commandTimeoutMs, o.stopTimeoutMs ?? 2000, exited, () => tail);
      live.add(inst);
      installHandlers();
      return inst;
    } catch (e) {
      server?.close();
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise<void>((resolve) => { child!.once('exit', () => resolve()); setTimeout(resolve, 2000).unref(); });
      }
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** New complete lines of a log file in the instance directory since the last call. */
  readLog(name: string): string[] {
    const path = join(this.dir, name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return [];
    }
    if (size <= this.logOffset) return [];
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size - this.logOffset);
      const n = readSync(fd, buf, 0, buf.length, this.logOffset);
      this.logOffset += n;
      const text = this.logPartial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.logPartial = lines.pop()!;
      return lines;
    } finally {
      closeSync(fd);
    }
  }

  /** Synchronous SIGKILL and directory removal (exit paths where nothing can be awaited). */
  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { this.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
    this.cleanup();
  }

  private cleanup(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.qtest.close();
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
    if (live.size === 0) removeHandlers();
  }

  /** SIGTERM to our own pid, SIGKILL after the bound, then remove the directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const bounded = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => { t = setTimeout(() => r(false), this.stopTimeoutMs); })]);
      clearTimeout(t);
      if (!bounded) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    this.cleanup();
  }
}
