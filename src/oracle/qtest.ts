/**
 * A client of QEMU's qtest protocol (docs/devel/qtest.rst in QEMU): one
 * command per line, one answer line per command, in order.  Answers start
 * with `OK` (optionally followed by a value) or `FAIL`; lines starting with
 * `IRQ` are asynchronous notifications (only sent after irq_intercept_*,
 * which this client never asks for) and are skipped.
 *
 * Commands may be pipelined: `send` writes at once and the answers are
 * matched to the commands in order.  Every command has a deadline; a QEMU
 * that does not answer in time, or closes the connection, fails every
 * command still waiting, and the client stays failed (the caller stops QEMU).
 */
import type { Socket } from 'node:net';

export class QtestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QtestError';
  }
}

interface Pending {
  readonly cmd: string;
  resolve(v: string): void;
  reject(e: Error): void;
}

export class QtestClient {
  private buf = '';
  private readonly pending: Pending[] = [];
  private failure: QtestError | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Commands answered so far (for rates in reports). */
  commands = 0;

  constructor(private readonly socket: Socket, private readonly timeoutMs: number) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => this.fail(new QtestError(`QEMU closed the qtest connection${this.pending[0] ? ` while '${this.pending[0].cmd}' was waiting` : ''}`)));
    socket.on('error', (e) => this.fail(new QtestError(`qtest socket: ${e.message}`)));
  }

  get failed(): QtestError | undefined {
    return this.failure;
  }

  /** Send one command; resolves with the text after `OK` (trimmed), rejects on `FAIL`, timeout or close. */
  send(cmd: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    if (/[\r\n]/.test(cmd)) return Promise.reject(new QtestError(`qtest command contains a line break: ${JSON.stringify(cmd)}`));
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ cmd, resolve, reject });
      this.socket.write(`${cmd}\n`);
      this.arm();
    });
  }

  /** Send several commands at once (one socket write); answers in order. */
  sendAll(cmds: readonly string[]): Promise<string[]> {
    if (this.failure) return Promise.reject(this.failure);
    const ps = cmds.map((cmd) => new Promise<string>((resolve, reject) => this.pending.push({ cmd, resolve, reject })));
    this.socket.write(cmds.map((c) => `${c}\n`).join(''));
    this.arm();
    return Promise.all(ps);
  }

  // Typed helpers.  Addresses and values are written in hex, as libqtest does.
  async writeb(addr: bigint, v: bigint): Promise<void> { await this.send(`writeb ${hx(addr)} ${hx(v)}`); }
  async writew(addr: bigint, v: bigint): Promise<void> { await this.send(`writew ${hx(addr)} ${hx(v)}`); }
  async writel(addr: bigint, v: bigint): Promise<void> { await this.send(`writel ${hx(addr)} ${hx(v)}`); }
  async writeq(addr: bigint, v: bigint): Promise<void> { await this.send(`writeq ${hx(addr)} ${hx(v)}`); }
  async readl(addr: bigint): Promise<bigint> { return parseValue(await this.send(`readl ${hx(addr)}`)); }
  async readq(addr: bigint): Promise<bigint> { return parseValue(await this.send(`readq ${hx(addr)}`)); }
  async memset(addr: bigint, size: number, byte: number): Promise<void> { await this.send(`memset ${hx(addr)} ${hx(BigInt(size))} ${hx(BigInt(byte))}`); }

  /** Read `size` bytes of guest memory. */
  async read(addr: bigint, size: number): Promise<Uint8Array> {
    const v = await this.send(`read ${hx(addr)} ${hx(BigInt(size))}`);
    const m = /^0x([0-9a-fA-F]*)$/.exec(v);
    if (!m || m[1]!.length !== size * 2) throw new QtestError(`qtest read: unexpected answer '${v}'`);
    return Uint8Array.from(Buffer.from(m[1]!, 'hex'));
  }

  /** Write bytes to guest memory. */
  async write(addr: bigint, bytes: Uint8Array): Promise<void> {
    await this.send(`write ${hx(addr)} ${hx(BigInt(bytes.length))} 0x${Buffer.from(bytes).toString('hex')}`);
  }

  private arm(): void {
    if (this.timer || this.pending.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const p = this.pending[0];
      this.fail(new QtestError(`QEMU did not answer '${p?.cmd ?? '?'}' within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    this.timer.unref?.();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      if (line.startsWith('IRQ')) continue;
      const p = this.pending.shift();
      if (!p) continue; // an answer nobody waits for (after a failure): ignore
      // Any answer is progress: restart the deadline for the next command.
      if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
      this.arm();
      this.commands++;
      if (line === 'OK' || line.startsWith('OK ')) p.resolve(line.slice(2).trim());
      else p.reject(new QtestError(`qtest '${p.cmd}': ${line}`));
    }
  }

  private fail(e: QtestError): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (!this.failure) this.failure = e;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }

  close(): void {
    this.fail(new QtestError('qtest client closed'));
    this.socket.destroy();
  }
}

export function hx(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export function parseValue(s: string): bigint {
  if (!/^0x[0-9a-fA-F]+$/.test(s)) throw new QtestError(`qtest: expected a hex value, got '${s}'`);
  return BigInt(s);
}
