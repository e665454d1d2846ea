/**
 * What the oracle knows about QEMU's `virt` machine: the command line for
 * each supported version, its physical address map, and where to put DMA
 * engines (`edu` devices) so that their StreamIDs are the ones a trace uses.
 *
 * Facts (observed with QEMU 7.2.22 and 10.0.2 through qtest):
 * - Debian's builds have no qtest accelerator: TCG with `-icount
 *   shift=0,sleep=off` and a two-instruction WFI firmware keeps the vCPU idle
 *   and lets edu's 100 ms DMA timer fire at once.
 * - `-cpu cortex-a57` keeps the high ECAM window (0x40_1000_0000) on.
 * - The SMMU is at 0x0905_0000; RAM starts at 0x4000_0000.
 * - StreamID = PCI requester ID = bus << 8 | devfn; devices behind a
 *   pcie-root-port get their own bus number (a conventional pci-bridge would
 *   alias them to the bridge), and a root port powers its slot only when
 *   devfn 0 of its secondary bus is populated.
 * - QEMU 10.0's plain `virt` always builds a nested (stage 1 + stage 2) SMMU.
 */

export type QemuVersion = '7.2' | '10.0';
export const QEMU_VERSIONS: readonly QemuVersion[] = ['7.2', '10.0'];

export const SMMU_BASE = 0x0905_0000n;
export const RAM_BASE = 0x4000_0000n;
/**
 * The largest RAM the oracle gives QEMU.  RAM is allocated lazily, but the
 * host's overcommit check sees the whole size, so it stays well below the
 * 24 GiB of the machines this runs on.
 */
export const RAM_MAX = 16n << 30n;
export const RAM_MIN = 256n << 20n;
export const RAM_STEP = 256n << 20n;
/** The window a trace's physical addresses must fall in: [RAM_BASE, RAM_BASE + RAM_MAX). */
export const RAM_LIMIT = RAM_BASE + RAM_MAX;

/**
 * Physical ranges where QEMU's `virt` has nothing at all (with RAM of at most
 * RAM_MAX), so an access there is a decode error: the only way QEMU can give
 * the external aborts a trace's `mem_abort` rows declare.  Below RAM sit the
 * flash, the GIC, the UART, the SMMU and the PCIe windows; at 256 GiB the
 * high GIC redistributors, the high ECAM and then the high PCIe MMIO window
 * (512 GiB..1 TiB); beyond that nothing, up to the SMMU's 44-bit OAS.
 */
export const UNBACKED: readonly { start: bigint; end: bigint }[] = [
  { start: RAM_LIMIT, end: 0x40_0000_0000n },
  { start: 0x40_2000_0000n, end: 0x80_0000_0000n },
  { start: 0x100_0000_0000n, end: 1n << 44n },
];

export function inRam(addr: bigint, size: bigint, ramEnd: bigint = RAM_LIMIT): boolean {
  return addr >= RAM_BASE && addr + size <= ramEnd;
}

export function inUnbacked(addr: bigint, size: bigint): boolean {
  return UNBACKED.some((r) => addr >= r.start && addr + size <= r.end);
}

/** -m for the highest RAM address a run touches (exclusive end), in MiB. */
export function ramSizeFor(end: bigint): bigint {
  let size = end > RAM_BASE ? end - RAM_BASE : 0n;
  size = ((size + RAM_STEP - 1n) / RAM_STEP) * RAM_STEP;
  if (size < RAM_MIN) size = RAM_MIN;
  return size;
}

/** The firmware: WFI (0xd503207f), then B .-4 (0x17ffffff) back to it. */
export const WFI_FIRMWARE = Uint8Array.from([0x7f, 0x20, 0x03, 0xd5, 0xff, 0xff, 0xff, 0x17]);

export const EDU_VENDOR_DEVICE = 0x11e8_1234n;
export const EDU_BAR_SIZE = 1n << 20n;
/** The 32-bit PCIe MMIO window edu BARs are placed in. */
export const PCI_MMIO_BASE = 0x1000_0000n;
export const PCI_MMIO_END = 0x3eff_0000n;
export const ECAM_HIGH = 0x40_1000_0000n;
export const ECAM_LOW = 0x3f00_0000n;

/** One edu DMA engine and where it sits. */
export interface EduPlacement {
  readonly sid: number;
  readonly bus: number;
  readonly devfn: number;
  readonly bar: bigint;
  /** The root port whose secondary bus it sits on (undefined: the root bus). */
  readonly port: number | undefined;
}

export interface RootPortPlacement {
  readonly id: string;
  /** devfn on bus 0 */
  readonly devfn: number;
  readonly secondary: number;
  /** The window (1 MiB aligned) covering its edus' BARs. */
  readonly memBase: bigint;
  readonly memLimit: bigint;
  /** A filler at devfn 0 of the secondary bus (needed for slot power when no edu sits there). */
  readonly filler: boolean;
}

export interface Topology {
  readonly edus: readonly EduPlacement[];
  readonly ports: readonly RootPortPlacement[];
  /** StreamIDs that cannot be given to a device, with the reason. */
  readonly unplaceable: ReadonlyMap<number, string>;
}

const slotOf = (devfn: number) => devfn >> 3;

/**
 * Place one edu per StreamID.  StreamIDs on bus 0 sit on the root bus; each
 * other bus gets a pcie-root-port on a free slot of bus 0.  Bus 0 slot 0 is
 * the host bridge's (a single-function device), so StreamIDs 0..7 cannot be
 * had; StreamIDs beyond 16 bits are not PCI requester IDs.
 */
export function planTopology(sids: Iterable<number>): Topology {
  const unplaceable = new Map<number, string>();
  const byBus = new Map<number, number[]>();
  for (const sid of [...new Set(sids)].sort((a, b) => a - b)) {
    if (sid > 0xffff) { unplaceable.set(sid, `StreamID 0x${sid.toString(16)} is wider than a PCI requester ID (16 bits)`); continue; }
    const bus = sid >> 8;
    const devfn = sid & 0xff;
    if (bus === 0 && slotOf(devfn) === 0) {
      unplaceable.set(sid, `StreamID 0x${sid.toString(16)} is devfn 0.${devfn & 7} of bus 0, the host bridge's slot`);
      continue;
    }
    const l = byBus.get(bus) ?? [];
    l.push(devfn);
    byBus.set(bus, l);
  }
  // Free slots of bus 0 for the root ports, from the top down.
  const used0 = new Set((byBus.get(0) ?? []).map(slotOf));
  used0.add(0);
  const freeSlots: number[] = [];
  for (let s = 31; s >= 1; s--) if (!used0.has(s)) freeSlots.push(s);
  const buses = [...byBus.keys()].filter((b) => b !== 0).sort((a, b) => a - b);
  const edus: EduPlacement[] = [];
  const ports: RootPortPlacement[] = [];
  let bar = PCI_MMIO_BASE;
  for (const devfn of byBus.get(0) ?? []) {
    edus.push({ sid: devfn, bus: 0, devfn, bar, port: undefined });
    bar += EDU_BAR_SIZE;
  }
  for (const bus of buses) {
    const devfns = byBus.get(bus)!;
    const slot = freeSlots.shift();
    if (slot === undefined || bar + EDU_BAR_SIZE * BigInt(devfns.length) > PCI_MMIO_END) {
      for (const d of devfns) unplaceable.set((bus << 8) | d, `no free slot on bus 0 for a root port to bus 0x${bus.toString(16)}`);
      continue;
    }
    const base = bar;
    for (const devfn of devfns) {
      edus.push({ sid: (bus << 8) | devfn, bus, devfn, bar, port: ports.length });
      bar += EDU_BAR_SIZE;
    }
    ports.push({ id: `rp${bus.toString(16)}`, devfn: slot << 3, secondary: bus, memBase: base, memLimit: bar - 1n, filler: !devfns.includes(0) });
  }
  return { edus, ports, unplaceable };
}

/** `-device` arguments for a topology. */
export function deviceArgs(t: Topology): string[] {
  const out: string[] = [];
  const multi = (devfn: number, others: readonly number[]) =>
    (devfn & 7) === 0 && others.some((d) => d !== devfn && slotOf(d) === slotOf(devfn)) ? ',multifunction=on' : '';
  const addr = (devfn: number) => `${slotOf(devfn).toString(16)}.${devfn & 7}`;
  const dma = 'dma_mask=18446744073709551615';
  const onBus0 = t.edus.filter((e) => e.bus === 0).map((e) => e.devfn);
  for (const e of t.edus.filter((x) => x.bus === 0)) out.push('-device', `edu,bus=pcie.0,addr=${addr(e.devfn)},${dma}${multi(e.devfn, onBus0)}`);
  t.ports.forEach((p, i) => {
    out.push('-device', `pcie-root-port,id=${p.id},bus=pcie.0,chassis=${i + 1},addr=${addr(p.devfn)}`);
    const devfns = t.edus.filter((e) => e.port === i).map((e) => e.devfn);
    const all = p.filler ? [0, ...devfns] : devfns;
    if (p.filler) out.push('-device', `pci-testdev,bus=${p.id},addr=0.0${multi(0, all)}`);
    for (const d of devfns) out.push('-device', `edu,bus=${p.id},addr=${addr(d)},${dma}${multi(d, all)}`);
  });
  return out;
}

export interface MachineArgsOptions {
  readonly version: QemuVersion;
  readonly ramBytes: bigint;
  readonly topology: Topology;
  readonly dir: string;
  readonly socket: string;
  readonly logName: string;
}

/** The whole command line after the binary. */
export function machineArgs(o: MachineArgsOptions): string[] {
  return [
    // 10.0's plain virt is the nested SMMU; 7.2's is stage 1 only.
    '-machine', 'virt,iommu=smmuv3',
    '-cpu', 'cortex-a57',
    '-m', `${o.ramBytes >> 20n}M`,
    '-accel', 'tcg', '-icount', 'shift=0,sleep=off',
    '-bios', `${o.dir}/wfi.bin`,
    '-display', 'none', '-nodefaults', '-monitor', 'none', '-serial', 'none',
    '-qtest', `unix:${o.socket}`, '-qtest-log', 'none',
    '-trace', 'smmuv3_translate_*', '-trace', 'smmuv3_record_event',
    '-d', 'guest_errors', '-D', `${o.dir}/${o.logName}`,
    ...deviceArgs(o.topology),
  ];
}
