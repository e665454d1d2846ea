/**
 * The driver engine: a model of the Linux arm-smmu-v3 host driver that turns
 * driver operations (`op` rows) into what the driver does to the SMMU:
 * memory writes of STEs, CDs and page tables in memory it allocates
 * deterministically, commands through the command queue with CMD_SYNC where
 * the driver waits, and register writes.
 *
 * Where revisions of the driver differ, the engine asks the variant
 * (variant.ts): how the target STE is built, how a live STE is changed, how
 * the nested configuration is stored and invalidated.  The engine itself
 * never names a variant.
 */
import { CD_LAYOUT } from '../model/cd.js';
import { commandByName, type CommandDef } from '../model/commands.js';
import { encode, fieldMask, type FieldDef } from '../model/fields.js';
import { GRANULES } from '../model/granule.js';
import { EABT } from '../model/memory.js';
import type { Features } from '../model/profiles.js';
import { registerByName } from '../model/registers.js';
import { decodeSte, interpretSte, STE_LAYOUT, type SteField } from '../model/ste.js';
import type { Driver, DriverContext } from '../replay/engine.js';
import type { OpRow } from '../trace/format.js';
import { IdAllocator, RegionAllocator } from './alloc.js';
import { CfgStorage } from './cfgStorage.js';
import { alwaysBreakPlan, hitlessPlan, inOrderPlan, type Plan, type Step } from './entryWriter.js';
import { parseOpArgs, type ArgValue } from './ops.js';
import { IoPgtable, LINUX_MAIR, parseProt, type Leaf, type Prot } from './pgtable.js';
import { CD_RULES, cdUsed, classifyStore, STE_RULES, steUpdateSafe, steUsed, steUsedMask, type Entry } from './usedBits.js';
import type { Variant } from './variant.js';

type DomainType = 's1' | 's2' | 'nested' | 'identity' | 'blocked';

interface Domain {
  readonly id: string;
  readonly type: DomainType;
  readonly granule: '4K' | '16K' | '64K';
  readonly ias: number | undefined;
  readonly oas: number | undefined;
  readonly asidReq: number | undefined;
  readonly vmidReq: number | undefined;
  finalised: boolean;
  asid?: number;
  vmid?: number;
  pgtable?: IoPgtable;
  /** s1_cfg / s2_cfg storage of the 2019 driver (split or union). */
  readonly cfg: CfgStorage;
  /** ste->s1_cfg is set: a stage-1 configuration (own CD, or the guest's for nested). */
  s1Present: boolean;
  /** The nested "abort" state (ste.abort of the 2019 series). */
  abort: boolean;
  /** The guest's vSTE (iommufd nesting). */
  vste?: bigint[];
  /** The host CD a nested domain uses to make a guest abort fault visibly (empty-cd). */
  emptyCdIpa?: bigint;
  readonly masters: Set<Master>;
}

interface CdTable {
  readonly base: bigint;
  readonly s1cdmax: number;
  readonly s1fmt: number;
}

interface Master {
  readonly sids: readonly number[];
  domain: Domain | undefined;
  ats: boolean;
  s1dss: number;
  ssidBits: number;
  cdTable?: CdTable;
}

interface State {
  readonly features: Features;
  readonly alloc: RegionAllocator;
  readonly disableBypass: boolean;
  readonly twoLevel: boolean;
  readonly strtab: bigint;
  readonly l2: Map<number, bigint>;
  readonly domains: Map<string, Domain>;
  readonly masters: Map<number, Master>;
  readonly asids: IdAllocator;
  readonly vmids: IdAllocator;
  readonly msiPoll: boolean;
}

const SPLIT = 8;
const V = 1n;
const CFG = { abort: 0n, bypass: 4n, s1: 5n, s2: 6n, nested: 7n } as const;
const SHCFG_INCOMING = 1n << 44n;

const STE_F = new Map(STE_LAYOUT.fields.map((f) => [f.name, f]));
function ste(values: Partial<Record<SteField, bigint | number>>): bigint[] {
  return encode(STE_LAYOUT, values);
}
function field(name: SteField, q: Entry): bigint {
  const f = STE_F.get(name)!;
  const raw = (q[f.qword] ?? 0n) & fieldMask(f);
  return f.addr ? raw : raw >> BigInt(f.lo);
}

/** Driver failures: a `driver` row, and the operation stops. */
class DriverFailure extends Error {
  constructor(readonly type: string, readonly detail: string, readonly sid?: number) {
    super(detail);
  }
}

export class DriverEngine implements Driver {
  private s: State | undefined;
  private ctx!: DriverContext;

  constructor(readonly variant: Variant, private readonly file: string) {}

  op(row: OpRow, ctx: DriverContext): void {
    const args = parseOpArgs(row, this.file);
    this.ctx = ctx;
    try {
      if (row.name === 'probe') return this.probe(args);
      if (!this.s) this.probe({});
      switch (row.name) {
        case 'domain_alloc': return this.domainAlloc(args);
        case 'domain_free': return this.domainFree(args);
        case 'attach': return this.attach(args);
        case 'detach': return this.detach(args);
        case 'map': return this.map(args);
        case 'unmap': return this.unmap(args);
        case 'set_pasid_table': return this.setPasidTable(args);
        case 'unset_pasid_table': return this.unsetPasidTable(args);
        case 'cache_invalidate': return this.cacheInvalidate(args);
        case 'tlb_flush': return this.tlbFlush(args);
        case 'write_ste': return this.writeSteOp(args);
        case 'write_cd': return this.writeCdOp(args);
      }
    } catch (e) {
      if (e instanceof DriverFailure) return ctx.driverFault(e.type, e.detail, e.sid);
      throw e;
    }
  }

  // -------------------------------------------------------------------------
  // Low-level actions.

  private get st(): State {
    return this.s!;
  }

  private mmio(name: string, value: bigint | number): void {
    const reg = registerByName(name)!;
    this.ctx.apply({ kind: 'mmio_write', line: this.ctx.line, reg, offset: reg.offset, value: BigInt(value), size: reg.width === 64 ? 8 : 4 });
  }

  private mem(addr: bigint, value: bigint): void {
    this.ctx.apply({ kind: 'mem_write', line: this.ctx.line, addr, value, size: 8 });
  }

  private memRead(addr: bigint): bigint {
    const v = this.ctx.smmu.memory.read(addr, 8);
    return v === EABT ? 0n : v;
  }

  private cmd(name: string, fields: Record<string, bigint | number> = {}): void {
    const f: Record<string, bigint> = {};
    for (const k in fields) f[k] = BigInt(fields[k]!);
    this.ctx.apply({ kind: 'cmd', line: this.ctx.line, def: commandDef(name), fields: f });
  }

  /**
   * CMD_SYNC as Linux issues it: with MSI polling (MSIs and coherent access)
   * the completion MSI writes 0 to the CMD_SYNC's own queue slot; otherwise
   * CS=SIG_SEV.
   */
  private sync(): void {
    if (this.st.msiPoll) {
      const base = this.ctx.smmu.reg('CMDQ_BASE');
      const log2 = Math.min(Number(base & 0x1fn), this.st.features.cmdqs);
      const prod = Number(this.ctx.smmu.reg('CMDQ_PROD'));
      const slot = (base & 0x00ffffffffffffe0n & ~((16n << BigInt(log2)) - 1n)) + BigInt(prod & ((1 << log2) - 1)) * 16n;
      this.cmd('CMD_SYNC', { cs: 1, msh: 3, msiattr: 0xf, msiaddr: slot });
    } else {
      this.cmd('CMD_SYNC', { cs: 2 });
    }
  }

  // -------------------------------------------------------------------------
  // probe: arm_smmu_device_probe / arm_smmu_init_structures / arm_smmu_device_reset.

  private probe(args: Record<string, ArgValue>): void {
    if (this.s) throw new DriverFailure('EINVAL', 'probe: the SMMU is already probed');
    const feat = this.ctx.smmu.features;
    const alloc = new RegionAllocator((args.region as bigint | undefined) ?? 0x1_0000_0000n);
    const disableBypass = args.disable_bypass === undefined ? this.variant.disableBypass : args.disable_bypass === '1';
    let twoLevel = (args.strtab ?? (feat.twoLevelStreamTable ? '2lvl' : 'linear')) === '2lvl';
    if (twoLevel && !feat.twoLevelStreamTable) {
      this.ctx.driverFault('WARN', 'probe: strtab=2lvl but SMMU_IDR0.ST_LEVEL has no 2-level support; using a linear table');
      twoLevel = false;
    }
    const sidBits = feat.sidSize;
    let strtab: bigint;
    let cfg: number;
    const state: State = {
      features: feat, alloc, disableBypass, twoLevel, strtab: 0n, l2: new Map(), domains: new Map(), masters: new Map(),
      asids: new IdAllocator(1, feat.asid16 ? 1 << 16 : 1 << 8), vmids: new IdAllocator(1, feat.vmid16 ? 1 << 16 : 1 << 8),
      msiPoll: feat.msi && feat.cohacc,
    };
    if (twoLevel) {
      const l1 = 2 ** Math.max(0, sidBits - SPLIT);
      strtab = alloc.alloc(BigInt(8 * l1), BigInt(Math.max(64, 8 * l1)));
      cfg = (1 << 16) | (SPLIT << 6) | sidBits;
    } else {
      const bytes = 64n << BigInt(sidBits);
      strtab = alloc.alloc(bytes, bytes);
      cfg = sidBits;
    }
    this.s = { ...state, strtab };
    // Initial STEs of a linear table are written before the table is installed: no syncs (Linux init_bypass_stes).
    if (!twoLevel) this.initialStes(strtab, 2 ** sidBits);
    const cmdqLog2 = Math.min(feat.cmdqs, 8);
    const evtqLog2 = Math.min(feat.eventqs, 7);
    const cmdq = alloc.alloc(16n << BigInt(cmdqLog2), 16n << BigInt(cmdqLog2));
    const evtq = alloc.alloc(32n << BigInt(evtqLog2), 32n << BigInt(evtqLog2));
    this.mmio('CR0', 0);
    // CR1: tables and queues inner-shareable write-back: TABLE_SH=ISH TABLE_OC=WB TABLE_IC=WB QUEUE_SH=ISH QUEUE_OC=WB QUEUE_IC=WB
    this.mmio('CR1', (3 << 10) | (1 << 8) | (1 << 6) | (3 << 4) | (1 << 2) | 1);
    this.mmio('CR2', 0x4 | 0x2); // PTM | RECINVSID
    this.mmio('STRTAB_BASE', (1n << 62n) | strtab);
    this.mmio('STRTAB_BASE_CFG', cfg);
    this.mmio('CMDQ_BASE', (1n << 62n) | cmdq | BigInt(cmdqLog2));
    this.mmio('CMDQ_PROD', 0);
    this.mmio('CMDQ_CONS', 0);
    this.mmio('CR0', 0x8);
    this.cmd('CFGI_ALL');
    this.sync();
    if (feat.hyp) this.cmd('TLBI_EL2_ALL');
    this.cmd('TLBI_NSNH_ALL');
    this.sync();
    this.mmio('EVENTQ_BASE', (1n << 62n) | evtq | BigInt(evtqLog2));
    this.mmio('EVENTQ_PROD', 0);
    this.mmio('EVENTQ_CONS', 0);
    this.mmio('CR0', 0xc);
    this.mmio('IRQ_CTRL', 0x5); // GERROR_IRQEN | EVENTQ_IRQEN
    this.mmio('CR0', 0xd);
  }

  /** The STE an unattached stream gets: abort with disable_bypass, else bypass (SHCFG=incoming where overrides exist). */
  private defaultSte(): bigint[] {
    if (this.st.disableBypass) return ste({ V: 1, Config: CFG.abort });
    return ste({ V: 1, Config: CFG.bypass, SHCFG: this.attrTypesOvr() ? 1 : 0 });
  }

  private attrTypesOvr(): boolean {
    return ((this.ctx.smmu.profile.IDR1 >> 27) & 1) === 1;
  }

  private initialStes(base: bigint, count: number): void {
    // The 2019 driver initialised entries through its bypass/fault path, which also writes SHCFG=incoming.
    const q = this.variant.builder === 'legacy'
      ? ste({ V: 1, Config: this.st.disableBypass ? CFG.abort : CFG.bypass, SHCFG: 1 })
      : this.defaultSte();
    for (let i = 0; i < count; i++) {
      const a = base + BigInt(i) * 64n;
      for (let j = 0; j < 8; j++) if (q[j] !== 0n) this.mem(a + BigInt(8 * j), q[j]!);
    }
  }

  /** Where the STE of a StreamID is; a 2-level table gets its level-2 array on first use (arm_smmu_init_l2_strtab). */
  private steAddr(sid: number): bigint {
    const st = this.st;
    if (sid >= 2 ** st.features.sidSize) throw new DriverFailure('EINVAL', `StreamID 0x${sid.toString(16)} is beyond SMMU_IDR1.SIDSIZE=${st.features.sidSize}`, sid);
    if (!st.twoLevel) return st.strtab + BigInt(sid) * 64n;
    const idx = Math.floor(sid / 2 ** SPLIT);
    let l2 = st.l2.get(idx);
    if (l2 === undefined) {
      const bytes = 64n << BigInt(SPLIT);
      l2 = st.alloc.alloc(bytes, bytes);
      this.initialStes(l2, 2 ** SPLIT);
      // L1STD: Span = SPLIT + 1 (2^SPLIT STEs), L2Ptr
      this.mem(st.strtab + BigInt(idx) * 8n, l2 | BigInt(SPLIT + 1));
      st.l2.set(idx, l2);
    }
    return l2 + BigInt(sid % 2 ** SPLIT) * 64n;
  }

  private readEntry(addr: bigint): bigint[] {
    return Array.from({ length: 8 }, (_, i) => this.memRead(addr + BigInt(8 * i)));
  }

  // -------------------------------------------------------------------------
  // Domains.

  private domain(args: Record<string, ArgValue>, key = 'domain'): Domain {
    const id = args[key] as string;
    const d = this.st.domains.get(id);
    if (!d) throw new DriverFailure('EINVAL', `no domain '${id}' (domain_alloc it first)`);
    return d;
  }

  private domainAlloc(args: Record<string, ArgValue>): void {
    const id = args.id as string;
    const type = args.type as DomainType;
    if (this.st.domains.has(id)) throw new DriverFailure('EEXIST', `domain '${id}' exists`);
    if (type === 'blocked' && this.variant.builder === 'legacy') {
      throw new DriverFailure('EINVAL', 'domain_alloc type=blocked: this revision has no blocking domain (arm_smmu_domain_alloc returns NULL)');
    }
    if (type === 'nested' && this.variant.nested === 'none') {
      throw new DriverFailure('EINVAL', 'domain_alloc type=nested: this revision has no nested translation');
    }
    if ((type === 'nested' || type === 's2') && !this.st.features.s2p) throw new DriverFailure('EINVAL', `domain_alloc type=${type}: the SMMU has no stage 2`);
    if (type === 's1' && !this.st.features.s1p) throw new DriverFailure('EINVAL', 'domain_alloc type=s1: the SMMU has no stage 1');
    const granule = ((args.granule as string | undefined) ?? '4k').toUpperCase() as Domain['granule'];
    // io-pgtable-arm's limits, within what the model translates: 48-bit input and
    // output at most (52-bit addresses, FEAT_LVA/FEAT_LPA, are not modelled).
    const ias = args.ias === undefined ? undefined : Number(args.ias);
    const oas = args.oas === undefined ? undefined : Number(args.oas);
    const minIas = GRANULES[granule].shift + 1;
    if (ias !== undefined && (ias < minIas || ias > 48)) throw new DriverFailure('EINVAL', `domain_alloc ias=${ias}: must be ${minIas}..48 with a ${granule} granule (52-bit input is not modelled)`);
    if (oas !== undefined && ![32, 36, 40, 42, 44, 48].includes(oas)) throw new DriverFailure('EINVAL', `domain_alloc oas=${oas}: must be 32, 36, 40, 42, 44 or 48 (52-bit output is not modelled)`);
    if (oas !== undefined && oas > this.st.features.oas) throw new DriverFailure('EINVAL', `domain_alloc oas=${oas}: above the SMMU's ${this.st.features.oas}-bit output size (SMMU_IDR5.OAS)`);
    this.st.domains.set(id, {
      id, type, granule,
      ias, oas,
      asidReq: args.asid === undefined ? undefined : Number(args.asid),
      vmidReq: args.vmid === undefined ? undefined : Number(args.vmid),
      finalised: type === 'identity' || type === 'blocked',
      cfg: new CfgStorage(this.variant.layout, this.variant.unionLayout),
      s1Present: false, abort: false, masters: new Set(),
    });
  }

  private domainFree(args: Record<string, ArgValue>): void {
    const d = this.domain(args, 'id');
    if (d.masters.size) throw new DriverFailure('EBUSY', `domain '${d.id}' still has attached StreamIDs`);
    if (d.asid !== undefined) this.st.asids.free(d.asid);
    if (d.vmid !== undefined) this.st.vmids.free(d.vmid);
    this.st.domains.delete(d.id);
  }

  /** arm_smmu_domain_finalise: ASID/VMID, page tables, and (legacy stage 1) the domain's CD. */
  private finalise(d: Domain): void {
    if (d.finalised) return;
    const st = this.st;
    const feat = st.features;
    const io = { read: (a: bigint) => this.memRead(a), write: (a: bigint, v: bigint) => this.mem(a, v) };
    if (d.type === 's1') {
      const asid = d.asidReq !== undefined ? (st.asids.claim(d.asidReq) ? d.asidReq : undefined) : st.asids.alloc();
      if (asid === undefined) throw new DriverFailure('ENOSPC', `domain '${d.id}': ASID ${d.asidReq ?? ''} not available`);
      d.asid = asid;
      d.pgtable = new IoPgtable({ stage: 1, granule: d.granule, ias: d.ias ?? Math.min(48, feat.vaBits), oas: d.oas ?? Math.min(48, feat.oas) }, st.alloc, io);
      const tcr = d.pgtable.tcr();
      d.cfg.setS1('asid', BigInt(asid));
      d.cfg.setS1('ttbr', d.pgtable.root);
      d.cfg.setS1('mair', LINUX_MAIR);
      d.cfg.setS1('tcr', BigInt(tcr.T0SZ | (tcr.TG0 << 6) | (tcr.IR0 << 8) | (tcr.OR0 << 10) | (tcr.SH0 << 12)) | (BigInt(tcr.IPS) << 32n));
      if (this.variant.builder === 'legacy') {
        // The 2019 driver keeps one CD per stage-1 domain (s1_cfg.cdptr), written before any STE points at it.
        const cd = st.alloc.alloc(64n, 64n);
        d.cfg.setS1('cdptr', 0xffff_8000_0000_0000n | cd);
        d.cfg.setS1('cdptr_dma', cd);
        d.s1Present = true;
        const q = this.s1Cd(d);
        for (const i of [1, 2, 3]) this.mem(cd + BigInt(8 * i), q[i]!);
        this.mem(cd, q[0]!);
      }
    } else if (d.type === 's2' || d.type === 'nested') {
      const vmid = d.vmidReq !== undefined ? (st.vmids.claim(d.vmidReq) ? d.vmidReq : undefined) : st.vmids.alloc();
      if (vmid === undefined) throw new DriverFailure('ENOSPC', `domain '${d.id}': VMID ${d.vmidReq ?? ''} not available`);
      d.vmid = vmid;
      d.pgtable = new IoPgtable({ stage: 2, granule: d.granule, ias: d.ias ?? Math.min(48, feat.ias), oas: d.oas ?? Math.min(48, feat.oas) }, st.alloc, io);
      const v = d.pgtable.vtcr();
      d.cfg.setS2('vmid', BigInt(vmid));
      d.cfg.setS2('vttbr', d.pgtable.root);
      d.cfg.setS2('vtcr', BigInt(v.S2T0SZ | (v.S2SL0 << 6) | (v.S2IR0 << 8) | (v.S2OR0 << 10) | (v.S2SH0 << 12) | (v.S2TG << 14) | (v.S2PS << 16)));
    }
    d.finalised = true;
  }

  /** The stage-1 CD of a domain (arm_smmu_write_ctx_desc / arm_smmu_make_s1_cd). */
  private s1Cd(d: Domain): bigint[] {
    const t = d.pgtable!.tcr();
    return encode(CD_LAYOUT, {
      T0SZ: t.T0SZ, TG0: t.TG0, IR0: t.IR0, OR0: t.OR0, SH0: t.SH0, EPD1: 1, V: 1, IPS: t.IPS,
      AA64: 1, R: 1, A: 1, ASET: 1, ASID: d.asid!, TTB0: d.pgtable!.root, MAIR0: LINUX_MAIR & 0xffffffffn, MAIR1: LINUX_MAIR >> 32n,
    });
  }

  // -------------------------------------------------------------------------
  // attach / detach.

  private master(sids: readonly number[], create: boolean): Master {
    const st = this.st;
    const existing = st.masters.get(sids[0]!);
    if (existing) {
      if (existing.sids.length !== sids.length || !sids.every((s) => existing.sids.includes(s))) {
        throw new DriverFailure('EINVAL', `StreamID 0x${sids[0]!.toString(16)} belongs to the master with StreamIDs ${existing.sids.map((s) => '0x' + s.toString(16)).join('|')}`);
      }
      return existing;
    }
    if (!create) throw new DriverFailure('EINVAL', `no master with StreamID 0x${sids[0]!.toString(16)}`);
    for (const s of sids) if (st.masters.has(s)) throw new DriverFailure('EINVAL', `StreamID 0x${s.toString(16)} already belongs to another master`);
    // Linux skips duplicate StreamIDs of one master (arm_smmu_install_ste_for_dev).
    const m: Master = { sids: [...new Set(sids)], domain: undefined, ats: false, s1dss: 0, ssidBits: 0 };
    for (const s of m.sids) st.masters.set(s, m);
    return m;
  }

  private attach(args: Record<string, ArgValue>): void {
    const d = this.domain(args);
    const m = this.master(args.sid as number[], true);
    for (const sid of m.sids) this.steAddr(sid);
    const ats = args.ats === '1';
    const s1dss = args.s1dss === undefined ? 0 : ({ terminate: 0, bypass: 1, ssid0: 2 } as const)[args.s1dss as 'terminate' | 'bypass' | 'ssid0'];
    const ssidBits = args.ssid_bits === undefined ? 0 : Number(args.ssid_bits);
    if (ssidBits > this.st.features.ssidSize) throw new DriverFailure('EINVAL', `ssid_bits=${ssidBits} exceeds SMMU_IDR1.SSIDSIZE=${this.st.features.ssidSize}`);
    if (this.variant.builder === 'legacy') {
      // arm_smmu_attach_dev (v5.0): an attached master is detached first (bypass/abort, one sync per StreamID).
      if (m.domain) this.detachMaster(m);
      this.finalise(d);
      m.ats = false; // ATS arrived after this revision
      m.domain = d;
      d.masters.add(m);
      for (const sid of m.sids) this.installSte(sid, m);
      return;
    }
    this.finalise(d);
    m.ats = ats && this.st.features.ats;
    m.s1dss = s1dss;
    m.ssidBits = ssidBits;
    if (d.type === 's1') this.installCd(m, d);
    m.domain?.masters.delete(m);
    m.domain = d;
    d.masters.add(m);
    for (const sid of m.sids) this.installSte(sid, m);
  }

  private detach(args: Record<string, ArgValue>): void {
    const m = this.master(args.sid as number[], false);
    if (!m.domain) throw new DriverFailure('WARN', `detach: StreamID 0x${m.sids[0]!.toString(16)} is not attached`, m.sids[0]);
    this.detachMaster(m);
  }

  private detachMaster(m: Master): void {
    m.domain?.masters.delete(m);
    m.domain = undefined;
    for (const sid of m.sids) this.installSte(sid, m);
  }

  // -------------------------------------------------------------------------
  // Building the target STE.

  /** What the master's STE should be, and for the legacy builder which qwords its code stores. */
  private targetSte(sid: number, m: Master, current: Entry): bigint[] {
    const t = this.variant.builder === 'legacy' ? this.legacySte(m, current) : this.modernSte(m);
    const adjust = this.variant.hooks?.adjustSte;
    return adjust ? adjust(t, { sid, domainType: m.domain?.type }) : t;
  }

  /** True when the 2019 driver takes its bypass/fault path for this master. */
  private legacyBypassPath(m: Master): boolean {
    const d = m.domain;
    if (!d) return true;
    const s1 = d.s1Present && (d.type === 's1' || d.type === 'nested');
    const s2 = d.type === 's2' || d.type === 'nested';
    if (!s1 && !s2) return true;
    return d.abort && this.variant.abort === 'config-abort';
  }

  /** arm_smmu_write_strtab_ent (v4.19-v5.x and the 2019-2021 nested series): the target entry. */
  private legacySte(m: Master, current: Entry): bigint[] {
    const d = m.domain;
    const q = [...current];
    if (this.legacyBypassPath(m)) {
      const abort = (d?.abort ?? false) || (!d && this.st.disableBypass);
      q[0] = V | ((abort ? CFG.abort : CFG.bypass) << 1n);
      q[1] = SHCFG_INCOMING;
      q[2] = 0n;
      return q; // q3 is not touched: a stale S2TTB survives
    }
    const dd = d!;
    const s1 = dd.s1Present;
    const s2 = dd.type === 's2' || dd.type === 'nested';
    q[0] = V;
    if (s1) {
      q[1] = ste({ S1CIR: 1, S1COR: 1, S1CSH: 3, STRW: 0 })[1]!;
      // RFC v3: with nested_bypass set, s1_cfg stays (qword 1 keeps its stage-1 fields) but stage 1 is not enabled.
      // The flag is read from the struct's byte; in the union layout that byte is also vtcr[7:0].
      const nestedBypass = this.variant.s1Bypass === 'flag' && dd.type === 'nested' && dd.cfg.getS1('nested_bypass') !== 0n;
      if (!nestedBypass) q[0] |= (dd.cfg.getS1('cdptr_dma') & 0x000f_ffff_ffff_ffc0n) | (CFG.s1 << 1n);
    }
    if (s2) {
      const vtcr = dd.cfg.getS2('vtcr') & 0x7ffffn;
      q[2] = (dd.cfg.getS2('vmid') & 0xffffn) | (vtcr << 32n) | (1n << 51n) /* S2AA64 */ | (1n << 54n) /* S2PTW */ | (1n << 58n) /* S2R */;
      q[3] = dd.cfg.getS2('vttbr') & 0x000f_ffff_ffff_fff0n;
      q[0] |= CFG.s2 << 1n;
    } else if (this.variant.zeroS2WithoutS2) {
      q[2] = 0n;
      q[3] = 0n;
    }
    return q;
  }

  /** arm_smmu_make_{abort,bypass,cdtable,s2_domain,nested}_ste (v6.9+). */
  private modernSte(m: Master): bigint[] {
    const d = m.domain;
    if (!d) return this.defaultSte();
    switch (d.type) {
      case 'blocked': return ste({ V: 1, Config: CFG.abort });
      case 'identity': return ste({ V: 1, Config: CFG.bypass, SHCFG: this.attrTypesOvr() ? 1 : 0 });
      case 's1': return this.cdtableSte(m);
      case 's2': return this.s2Ste(m, d);
      case 'nested': {
        const v = d.vste;
        if (!v || (v[0]! & 1n) === 0n) return d.vste ? ste({ V: 1, Config: CFG.abort }) : this.s2Ste(m, d);
        const cfg = field('Config', v);
        if (cfg === CFG.abort) return ste({ V: 1, Config: CFG.abort });
        if (cfg === CFG.bypass) return this.s2Ste(m, d);
        const q = this.s2Ste(m, d);
        q[0] = V | (CFG.nested << 1n) | (v[0]! & ~0xen);
        q[1] = q[1]! | (v[1]! & ste({ S1DSS: 3, S1CIR: 3, S1COR: 3, S1CSH: 3, S1STALLD: 1 })[1]!);
        if (this.variant.usedBits === 'current') q[1] = q[1]! | ste({ MEV: 1 })[1]!;
        return q;
      }
    }
  }

  private cdtableSte(m: Master): bigint[] {
    const t = m.cdTable!;
    return ste({
      V: 1, Config: CFG.s1, S1Fmt: t.s1fmt, S1ContextPtr: t.base, S1CDMax: t.s1cdmax,
      S1DSS: m.s1dss, S1CIR: 1, S1COR: 1, S1CSH: 3, EATS: m.ats ? 1 : 0,
      SHCFG: this.attrTypesOvr() && m.s1dss === 1 ? 1 : 0,
    });
  }

  private s2Ste(m: Master, d: Domain): bigint[] {
    const v = d.pgtable!.vtcr();
    return ste({
      V: 1, Config: CFG.s2, EATS: m.ats ? 1 : 0, SHCFG: this.attrTypesOvr() ? 1 : 0,
      S2VMID: d.vmid!, ...v, S2AA64: 1, S2PTW: 1, S2R: 1, S2TTB: d.pgtable!.root,
    });
  }

  // -------------------------------------------------------------------------
  // Writing an STE with the variant's update procedure.

  private installSte(sid: number, m: Master): void {
    const addr = this.steAddr(sid);
    const current = this.readEntry(addr);
    this.writeSte(sid, addr, current, this.targetSte(sid, m, current));
  }

  private writeSte(sid: number, addr: bigint, current: Entry, target: Entry): void {
    const plan = this.stePlan(sid, current, target);
    if (!plan) return;
    this.warnUnusedBits(plan, `STE of StreamID 0x${sid.toString(16)}`, sid);
    this.execute(plan, addr, current, target, () => {
      this.cmd('CFGI_STE', { sid, leaf: 1 });
      this.sync();
    }, { kind: 'ste', sid });
    const translating = (target[0]! & 1n) === 1n && (field('Config', target) & 4n) === 4n && field('Config', target) !== CFG.bypass;
    if (this.variant.prefetch && plan.steps.length && (this.variant.builder === 'modern' || translating)) this.cmd('PREFETCH_CONFIG', { sid });
  }

  /** The used-bits writer's WARN_ON_ONCE: the target sets bits its used-bits function says are unused. */
  private warnUnusedBits(plan: Plan, what: string, sid: number): void {
    for (const u of plan.unusedTargetBits ?? []) {
      this.ctx.driverFault('WARN', `arm_smmu_entry_qword_diff: the target ${what} sets bits 0x${u.bits.toString(16)} of qword ${u.qword} that its used bits do not cover`, sid);
    }
  }

  private stePlan(sid: number, current: Entry, target: Entry): Plan | undefined {
    const v = this.variant;
    switch (v.liveUpdate) {
      case 'hitless': return hitlessPlan(current, target, steUsed(v.usedBits));
      case 'hitless-safe': return hitlessPlan(current, target, steUsed(v.usedBits), steUpdateSafe);
      case 'always-break': return alwaysBreakPlan(current, target);
      case 'torn': return inOrderPlan(current, target, true);
      case 'nosync': return inOrderPlan(current, target, false);
      default: return this.legacyPlan(sid, current, target);
    }
  }

  /**
   * The 2019 write sequence: the bypass/fault path stores qwords 0, 1, 2 and
   * syncs once; the translation path stores qword 1 (stage 1) and qwords 2-3
   * (stage 2), syncs, stores qword 0, syncs.  A live translating entry is a
   * BUG (bug-on-live), goes through qword 0 := 0 first (invalidate-first), or
   * is rewritten in place.  Stores are unconditional, syncs too.
   */
  private legacyPlan(sid: number, current: Entry, target: Entry): Plan | undefined {
    const cfg = field('Config', target);
    const steps: Step[] = [];
    const store = (i: number) => steps.push({ kind: 'store', qword: i, value: target[i] ?? 0n });
    if ((target[0]! & 1n) === 0n || cfg === CFG.abort || cfg === CFG.bypass) {
      store(0); store(1); store(2);
      for (let i = 3; i < 8; i++) if ((current[i] ?? 0n) !== (target[i] ?? 0n)) store(i);
      steps.push({ kind: 'sync' });
      return { steps, hitless: true };
    }
    const curCfg = field('Config', current);
    const live = (current[0]! & 1n) === 1n && (curCfg === CFG.s1 || curCfg === CFG.s2 || curCfg === CFG.nested);
    if (live && this.variant.liveUpdate === 'bug-on-live') {
      throw new DriverFailure('BUG', `BUG_ON(ste_live): StreamID 0x${sid.toString(16)} has a live ${curCfg === CFG.s1 ? 'S1' : curCfg === CFG.s2 ? 'S2' : 'nested'} STE and is given a translating one`, sid);
    }
    if (live && this.variant.liveUpdate === 'invalidate-first') {
      steps.push({ kind: 'store', qword: 0, value: 0n }, { kind: 'sync' });
    }
    const s1 = (cfg & 1n) === 1n || (target[1] ?? 0n) !== (current[1] ?? 0n);
    const s2 = (cfg & 2n) === 2n;
    if (s1) store(1);
    if (s2 || (target[2] ?? 0n) !== (current[2] ?? 0n) || (target[3] ?? 0n) !== (current[3] ?? 0n)) { store(2); store(3); }
    for (let i = 4; i < 8; i++) if ((current[i] ?? 0n) !== (target[i] ?? 0n)) store(i);
    steps.push({ kind: 'sync' });
    store(0);
    steps.push({ kind: 'sync' });
    return { steps, hitless: !(live && this.variant.liveUpdate === 'invalidate-first') };
  }

  /**
   * Perform a plan on an entry, and judge every intermediate entry the way
   * the kernel's KUnit test does (equal to the old or the new entry on the
   * bits it uses).  Each window in which a live STE is unsafe or has V=0 is
   * one hazard row, at the store that opens it.
   */
  private execute(plan: Plan, addr: bigint, initial: Entry, target: Entry, doSync: () => void, what: HazardTarget): void {
    const vBit = what.kind === 'ste' ? 0n : 31n;
    const live = ((initial[0]! >> vBit) & 1n) === 1n;
    const hazards = live ? windows(plan, initial, target, what.kind === 'ste' ? STE_RULES : CD_RULES, vBit) : new Map<number, Window>();
    const cur = [...initial];
    plan.steps.forEach((step, i) => {
      if (step.kind === 'sync') return doSync();
      cur[step.qword] = step.value;
      this.mem(addr + BigInt(8 * step.qword), step.value);
      const w = hazards.get(i);
      if (w) this.ctx.hazard(w.kind, hazardDetail(what, step.qword, cur, initial, target, w, this.ctx), what.sid);
    });
  }

  // -------------------------------------------------------------------------
  // Context descriptors (modern: per-master CD tables).

  private ensureCdTable(m: Master): CdTable {
    if (m.cdTable) return m.cdTable;
    const feat = this.st.features;
    const bits = Math.min(m.ssidBits, feat.ssidSize);
    // arm_smmu_alloc_cd_tables: linear when it fits in 1024 CDs or without CD2L, else 2-level with 64 KiB leaves.
    const linear = bits <= 10 || !feat.cd2l;
    const entries = 2 ** bits;
    const base = linear ? this.st.alloc.alloc(BigInt(64 * entries), BigInt(Math.max(64, 64 * entries))) : this.st.alloc.alloc(BigInt(8 * 2 ** (bits - 10)), 64n);
    m.cdTable = { base, s1cdmax: bits, s1fmt: linear ? 0 : 2 };
    return m.cdTable;
  }

  /** The CD of SubstreamID `ssid` in the master's table (allocating a 2-level leaf on first use). */
  private cdAddr(m: Master, ssid: number): bigint {
    const t = this.ensureCdTable(m);
    if (t.s1fmt === 0) return t.base + BigInt(ssid) * 64n;
    const l1 = t.base + BigInt(ssid >> 10) * 8n;
    let d = this.memRead(l1);
    if ((d & 1n) === 0n) {
      const leaf = this.st.alloc.alloc(64n * 1024n, 64n * 1024n);
      d = leaf | 1n;
      this.mem(l1, d);
    }
    return (d & 0x000f_ffff_ffff_f000n) + BigInt(ssid & 1023) * 64n;
  }

  private installCd(m: Master, d: Domain): void {
    this.writeCd(m, 0, this.s1Cd(d));
  }

  private writeCd(m: Master, ssid: number, target: Entry): void {
    const addr = this.cdAddr(m, ssid);
    const current = this.readEntry(addr);
    const plan = this.variant.builder === 'legacy'
      ? { steps: [...[1, 2, 3, 4, 5, 6, 7].map((i) => ({ kind: 'store' as const, qword: i, value: target[i] ?? 0n })), { kind: 'store' as const, qword: 0, value: target[0] ?? 0n }, { kind: 'sync' as const }], hitless: true }
      : this.variant.liveUpdate === 'nosync' ? inOrderPlan(current, target, false)
        : this.variant.liveUpdate === 'torn' ? inOrderPlan(current, target, true)
          : hitlessPlan(current, target, cdUsed);
    this.warnUnusedBits(plan, `CD ${ssid} of StreamID 0x${m.sids[0]!.toString(16)}`, m.sids[0]!);
    this.execute(plan, addr, current, target, () => {
      for (const sid of m.sids) this.cmd('CFGI_CD', { sid, ssid, leaf: 1 });
      this.sync();
    }, { kind: 'cd', sid: m.sids[0]!, ssid });
  }

  // -------------------------------------------------------------------------
  // map / unmap / TLB maintenance.

  private pagedDomain(args: Record<string, ArgValue>, what: string): Domain {
    const d = this.domain(args);
    if (d.type === 'identity' || d.type === 'blocked') throw new DriverFailure('EINVAL', `${what}: domain '${d.id}' is ${d.type} and has no page tables`);
    if (!d.finalised || !d.pgtable) throw new DriverFailure('ENODEV', `${what}: domain '${d.id}' has no page tables until an attach finalises it (arm_smmu_map: no pgtbl_ops)`);
    return d;
  }

  private map(args: Record<string, ArgValue>): void {
    const d = this.pagedDomain(args, 'map');
    const prot = parseProt((args.prot as string | undefined) ?? 'rw');
    if (typeof prot === 'string') throw new DriverFailure('EINVAL', `map: ${prot}`);
    const err = d.pgtable!.map(args.iova as bigint, args.pa as bigint, args.size as bigint, prot as Prot);
    if (err) throw new DriverFailure('EINVAL', `map: ${err}`);
  }

  private unmap(args: Record<string, ArgValue>): void {
    const d = this.pagedDomain(args, 'unmap');
    const leaves = d.pgtable!.unmap(args.iova as bigint, args.size as bigint);
    if (typeof leaves === 'string') throw new DriverFailure('WARN', `unmap: ${leaves}`);
    this.invalidateRange(d, leaves);
    this.sync();
  }

  /** io-pgtable's TLB maintenance for unmapped leaves (strict mode): by VA for stage 1, by IPA for stage 2. */
  private invalidateRange(d: Domain, leaves: readonly Leaf[]): void {
    const granule = BigInt(1 << d.pgtable!.g.shift);
    const byAddr = (name: string, tag: Record<string, bigint | number>) => {
      for (const l of leaves) {
        if (this.variant.builder === 'modern' && this.st.features.ril) {
          // Range invalidation (v5.10+): one command per leaf, TG = granule, NUM+1 = pages, TTL = leaf level.
          const pages = l.size / granule;
          const scale = BigInt(ctz(pages));
          const num = (pages >> scale) - 1n;
          const tg = d.pgtable!.g.name === '4K' ? 1 : d.pgtable!.g.name === '16K' ? 2 : 3;
          if (num <= 31n) { this.cmd(name, { ...tag, addr: l.iova, leaf: 1, tg, scale, num, ttl: l.level }); continue; }
        }
        for (let a = l.iova; a < l.iova + l.size; a += granule) this.cmd(name, { ...tag, addr: a, leaf: 1 });
      }
    };
    if (d.type === 's1') {
      byAddr('TLBI_NH_VA', { asid: d.asid!, vmid: 0 });
    } else if (d.type === 's2') {
      byAddr('TLBI_S2_IPA', { vmid: d.vmid! });
    } else if (this.variant.tlbiAsid === 'shared') {
      // RFC v3: the nested branch of tlb_inv_range invalidates by VA with the ASID last stored in s1_cfg.cd.asid.
      byAddr('TLBI_NH_VA', { asid: d.cfg.getS1('asid') & 0xffffn, vmid: d.vmid! });
    } else {
      // Stage-2 change of a nested domain: by IPA, then every stage-1 entry of the VMID (combined entries
      // need not be removed by TLBI_S2_IPA, IHI0070 §4.4.3.1).
      byAddr('TLBI_S2_IPA', { vmid: d.vmid! });
      this.cmd('TLBI_NH_ALL', { vmid: d.vmid! });
    }
    for (const m of d.masters) if (m.ats) for (const sid of m.sids) this.cmd('ATC_INV', { sid, size: 52 });
  }

  private tlbFlush(args: Record<string, ArgValue>): void {
    const d = this.pagedDomain(args, 'tlb_flush');
    if (d.type === 's1') this.cmd('TLBI_NH_ASID', { asid: d.asid!, vmid: 0 });
    else if (d.type === 's2') this.cmd('TLBI_S12_VMALL', { vmid: d.vmid! });
    else if (this.variant.tlbiAsid === 'shared') this.cmd('TLBI_NH_ASID', { asid: d.cfg.getS1('asid') & 0xffffn, vmid: d.vmid! });
    else this.cmd('TLBI_S12_VMALL', { vmid: d.vmid! });
    this.sync();
  }

  // -------------------------------------------------------------------------
  // Nested: the guest's stage-1 configuration.

  private nestedDomain(args: Record<string, ArgValue>, what: string): Domain {
    if (this.variant.nested === 'none') throw new DriverFailure('EINVAL', `${what}: this revision has no nested translation`);
    const d = this.domain(args);
    if (d.type !== 'nested') throw new DriverFailure('EINVAL', `${what}: domain '${d.id}' is ${d.type}, not nested`);
    if (!d.finalised) throw new DriverFailure('EINVAL', `${what}: domain '${d.id}' is not finalised (attach it first)`);
    return d;
  }

  private setPasidTable(args: Record<string, ArgValue>): void {
    const d = this.nestedDomain(args, 'set_pasid_table');
    const config = args.config as 'translate' | 'bypass' | 'abort';
    const base = args.base as bigint | undefined;
    if (config === 'translate' && base === undefined) throw new DriverFailure('EINVAL', 'set_pasid_table config=translate needs base=');
    const s1dss = args.s1dss === undefined ? 0 : ({ terminate: 0, bypass: 1, ssid0: 2 } as const)[args.s1dss as 'terminate' | 'bypass' | 'ssid0'];
    if (this.variant.nested === 'vste') {
      // iommufd: the guest's STE arrives as a vSTE; only S1 fields are taken from it.
      const cfg = config === 'translate' ? CFG.s1 : config === 'bypass' ? CFG.bypass : CFG.abort;
      d.vste = ste({
        V: 1, Config: cfg,
        ...(config === 'translate' ? { S1ContextPtr: base!, S1Fmt: Number(args.s1fmt ?? 0n), S1CDMax: Number(args.s1cdmax ?? 0n), S1DSS: s1dss, S1CIR: 1, S1COR: 1, S1CSH: 3 } : {}),
      });
    } else {
      this.pasidTableConfig(d, config, base);
    }
    for (const m of d.masters) for (const sid of m.sids) this.installSte(sid, m);
  }

  /** set_pasid_table of the 2019-2021 series: fill (or clear) s1_cfg and the abort/bypass state. */
  private pasidTableConfig(d: Domain, config: 'translate' | 'bypass' | 'abort', base: bigint | undefined): void {
    const v = this.variant;
    const setS1 = (ptr: bigint) => {
      d.cfg.setS1('cdptr', 0n); // no host CD: the guest owns the table
      d.cfg.setS1('cdptr_dma', ptr);
      d.cfg.setS1('nested_bypass', 0n);
      d.cfg.setS1('nested_abort', 0n);
      d.s1Present = true;
    };
    switch (config) {
      case 'translate':
        setS1(base!);
        d.abort = false;
        return;
      case 'bypass':
        d.abort = false;
        if (v.s1Bypass === 'flag') {
          // RFC v3 patch 09: s1_cfg stays, nested_bypass is set.
          if (!d.s1Present) setS1(base ?? 0n);
          d.cfg.setS1('nested_bypass', 1n);
        } else {
          d.s1Present = false;
        }
        return;
      case 'abort':
        if (v.abort === 'unreachable') {
          // RFC v3 as posted: nested_abort is set, but the check sits on the bypass/fault path, which an
          // assigned master with an S2 configuration never takes: the STE keeps translating.
          if (!d.s1Present || base !== undefined) setS1(base ?? d.cfg.getS1('cdptr_dma'));
          d.cfg.setS1('nested_abort', 1n);
        } else if (v.abort === 'config-abort') {
          d.s1Present = false;
          d.abort = true;
        } else {
          setS1(this.emptyCd(d));
          d.abort = false;
        }
        return;
    }
  }

  /**
   * The review's proposal for a guest abort: stage 1+2 with a CD that makes
   * every access fault with a recorded event.  The host places a CD with both
   * translation table halves disabled (EPD0=EPD1=1, R=1) on a page at the top
   * of the domain's IPA space and maps it read-only at stage 2.
   */
  private emptyCd(d: Domain): bigint {
    if (d.emptyCdIpa !== undefined) return d.emptyCdIpa;
    const pt = d.pgtable!;
    const gran = BigInt(1 << pt.g.shift);
    const ipa = (1n << BigInt(pt.cfg.ias)) - gran;
    const pa = this.st.alloc.alloc(gran, gran);
    const q = encode(CD_LAYOUT, { V: 1, EPD0: 1, EPD1: 1, T0SZ: 16, AA64: 1, R: 1, A: 1, IPS: 5 });
    for (const i of [1, 2, 3]) this.mem(pa + BigInt(8 * i), q[i]!);
    this.mem(pa, q[0]!);
    const err = pt.map(ipa, pa, gran, { read: true, write: false, exec: false, priv: false });
    if (err) throw new DriverFailure('EINVAL', `empty CD: ${err}`);
    d.emptyCdIpa = ipa;
    return ipa;
  }

  private unsetPasidTable(args: Record<string, ArgValue>): void {
    const d = this.nestedDomain(args, 'unset_pasid_table');
    if (this.variant.nested === 'vste') {
      d.vste = ste({});
    } else {
      // s1_cfg is freed (the pointer cleared); its storage is not touched.
      d.s1Present = false;
      // detach_pasid_table: abort stays set (v10-v13) unless the revision resets it.
      d.abort = !this.variant.detachResetsAbort;
    }
    for (const m of d.masters) for (const sid of m.sids) this.installSte(sid, m);
  }

  /** A guest TLB invalidation forwarded by the VMM (cache_invalidate). */
  private cacheInvalidate(args: Record<string, ArgValue>): void {
    const d = this.nestedDomain(args, 'cache_invalidate');
    const gran = args.granularity as 'asid' | 'addr' | 'all';
    const guestAsid = (args.asid as bigint | undefined) ?? 0n;
    const leaf = args.leaf === '1' ? 1 : 0;
    let asid = guestAsid;
    if (this.variant.tlbiAsid === 'shared') {
      // RFC v3: the guest ASID is stored in s1_cfg.cd.asid and the generic helpers read it from there.
      d.cfg.setS1('asid', guestAsid);
      asid = d.cfg.getS1('asid') & 0xffffn;
    }
    if (gran === 'all') this.cmd('TLBI_NH_ALL', { vmid: d.vmid! });
    else if (gran === 'asid') this.cmd('TLBI_NH_ASID', { asid, vmid: d.vmid! });
    else {
      const addr = args.addr as bigint | undefined;
      if (addr === undefined) throw new DriverFailure('EINVAL', 'cache_invalidate granularity=addr needs addr=');
      const size = (args.size as bigint | undefined) ?? 4096n;
      for (let a = addr; a < addr + size; a += 4096n) this.cmd('TLBI_NH_VA', { asid, vmid: d.vmid!, addr: a, leaf });
    }
    this.sync();
  }

  // -------------------------------------------------------------------------
  // write_ste / write_cd: program exactly this entry with the variant's procedure (as the KUnit test does).

  private writeSteOp(args: Record<string, ArgValue>): void {
    const sid = Number(args.sid);
    const addr = this.steAddr(sid);
    const target = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (args[`q${i}`] as bigint | undefined) ?? 0n);
    this.writeSte(sid, addr, this.readEntry(addr), target);
  }

  private writeCdOp(args: Record<string, ArgValue>): void {
    const sid = Number(args.sid);
    const ssid = Number(args.ssid ?? 0n);
    const m = this.st.masters.get(sid);
    if (!m) throw new DriverFailure('EINVAL', `write_cd: StreamID 0x${sid.toString(16)} has no master (attach it first)`, sid);
    if (this.variant.builder === 'modern' && ssid >= 2 ** (m.cdTable?.s1cdmax ?? m.ssidBits)) {
      throw new DriverFailure('EINVAL', `write_cd: SubstreamID ${ssid} is beyond the master's CD table`, sid);
    }
    if (this.variant.builder === 'legacy') throw new DriverFailure('EINVAL', 'write_cd: this revision keeps one CD per stage-1 domain and has no CD writer', sid);
    const target = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (args[`q${i}`] as bigint | undefined) ?? 0n);
    this.writeCd(m, ssid, target);
  }
}

/** Command definitions by the names the driver uses, looked up once. */
const COMMAND_DEFS = new Map<string, CommandDef>();

function commandDef(name: string): CommandDef {
  let d = COMMAND_DEFS.get(name);
  if (!d) {
    d = commandByName(name)!;
    COMMAND_DEFS.set(name, d);
  }
  return d;
}

function ctz(v: bigint): number {
  let n = 0;
  for (let x = v; x > 0n && (x & 1n) === 0n; x >>= 1n) n++;
  return n;
}

/** Which entry a plan writes, for hazard rows. */
type HazardTarget = { readonly kind: 'ste'; readonly sid: number } | { readonly kind: 'cd'; readonly sid: number; readonly ssid: number };

interface Window {
  readonly kind: 'invalid' | 'unsafe';
  stores: number;
  syncs: number;
}

/**
 * The hazard windows of a plan: for each store that makes a live entry unsafe
 * or invalid after a safe state, the kind and how long the window lasts.
 */
function windows(plan: Plan, initial: Entry, target: Entry, rules: typeof STE_RULES, vBit: bigint): Map<number, Window> {
  const out = new Map<number, Window>();
  const cur = [...initial];
  let open: Window | undefined;
  plan.steps.forEach((step, i) => {
    if (step.kind === 'sync') {
      if (open) open.syncs++;
      return;
    }
    cur[step.qword] = step.value;
    const state = classifyStore(cur, initial, target, rules, vBit);
    if (state === 'invalid' || state === 'unsafe') {
      if (open) open.stores++;
      else out.set(i, (open = { kind: state, stores: 1, syncs: 0 }));
    } else {
      open = undefined;
    }
  });
  return out;
}

/** What a transaction arriving during an unsafe or V=0 window gets, and which fields are mixed. */
function hazardDetail(what: HazardTarget, qword: number, cur: Entry, initial: Entry, target: Entry, w: Window, ctx: DriverContext): string {
  const span = `for ${w.stores} store${w.stores === 1 ? '' : 's'} and ${w.syncs} sync${w.syncs === 1 ? '' : 's'}`;
  const entry = what.kind === 'ste' ? `STE of StreamID 0x${what.sid.toString(16)}` : `CD ${what.ssid} of StreamID 0x${what.sid.toString(16)}`;
  const where = `${entry} from the store to qword ${qword}, ${span}`;
  if (w.kind === 'invalid') return `${where}: V=0, a transaction gets ${what.kind === 'ste' ? 'C_BAD_STE' : 'C_BAD_CD'}`;
  const layout = what.kind === 'ste' ? STE_LAYOUT : CD_LAYOUT;
  const used = what.kind === 'ste' ? steUsedMask(cur) : cdUsed(cur);
  const mixed: string[] = [];
  for (const f of layout.fields as readonly FieldDef[]) {
    const m = fieldMask(f) & (used[f.qword] ?? 0n);
    if (m === 0n) continue;
    const c = (cur[f.qword] ?? 0n) & m;
    const o = (initial[f.qword] ?? 0n) & m;
    const n = (target[f.qword] ?? 0n) & m;
    if (o !== n) mixed.push(`${f.name}:${c === o ? 'old' : c === n ? 'new' : 'neither'}`);
  }
  let outcome = 'translation through a mixed configuration';
  if (what.kind === 'ste') {
    const verdict = interpretSte(decodeSte(cur), { features: ctx.smmu.features, e2h: (Number(ctx.smmu.reg('CR2')) & 1) === 1 });
    outcome = verdict.kind === 'illegal' ? `C_BAD_STE (ILLEGAL: ${verdict.reason})`
      : verdict.kind === 'invalid' ? 'C_BAD_STE'
        : verdict.kind === 'abort' ? 'termination without an event (Config=abort)'
          : verdict.kind === 'bypass' ? 'bypass'
            : verdict.kind === 'unsupported' ? 'an unsupported configuration'
              : outcome;
  }
  return `${where}: a transaction gets ${outcome}; ${mixed.join(' ')}`;
}
