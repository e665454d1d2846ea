/**
 * The storage of a domain's stage-1 and stage-2 configuration, byte for byte,
 * as the 2019 driver declared it (struct arm_smmu_s1_cfg, struct
 * arm_smmu_s2_cfg, and the anonymous union of the two in struct
 * arm_smmu_domain; arm64 LP64, little-endian, natural alignment).
 *
 * With the `split` layout the two structs have their own bytes.  With the
 * `union` layout they share bytes from offset 0, so a store to an s1_cfg
 * member changes whichever s2_cfg member lives at those bytes, and the STE
 * built from s2_cfg afterwards carries the result.  Member offsets:
 *
 *   v5.0   s1_cfg: cdptr 0 (8), cdptr_dma 8 (8), cd.asid 16 (2), cd.ttbr 24,
 *          cd.tcr 32, cd.mair 40 (8 each); size 48
 *   rfc-v3 s1_cfg: cdptr 0, cdptr_dma 8, nested_bypass 16 (1), nested_abort
 *          17 (1), cd.asid 24 (2), cd.ttbr 32, cd.tcr 40, cd.mair 48; size 56
 *   both   s2_cfg: vmid 0 (2), vttbr 8 (8), vtcr 16 (8); size 24
 *
 * so vmid aliases cdptr[15:0], vttbr aliases cdptr_dma, and vtcr[15:0]
 * aliases cd.asid (v5.0) or nested_bypass/nested_abort (rfc-v3).
 */

type Member = { readonly off: number; readonly size: number };

const S2: Readonly<Record<'vmid' | 'vttbr' | 'vtcr', Member>> = {
  vmid: { off: 0, size: 2 },
  vttbr: { off: 8, size: 8 },
  vtcr: { off: 16, size: 8 },
};

type S1Name = 'cdptr' | 'cdptr_dma' | 'nested_bypass' | 'nested_abort' | 'asid' | 'ttbr' | 'tcr' | 'mair';

const S1_V50: Readonly<Partial<Record<S1Name, Member>>> = {
  cdptr: { off: 0, size: 8 }, cdptr_dma: { off: 8, size: 8 },
  asid: { off: 16, size: 2 }, ttbr: { off: 24, size: 8 }, tcr: { off: 32, size: 8 }, mair: { off: 40, size: 8 },
};

const S1_RFC3: Readonly<Record<S1Name, Member>> = {
  cdptr: { off: 0, size: 8 }, cdptr_dma: { off: 8, size: 8 },
  nested_bypass: { off: 16, size: 1 }, nested_abort: { off: 17, size: 1 },
  asid: { off: 24, size: 2 }, ttbr: { off: 32, size: 8 }, tcr: { off: 40, size: 8 }, mair: { off: 48, size: 8 },
};

export class CfgStorage {
  private readonly s1: Uint8Array;
  private readonly s2: Uint8Array;
  private readonly s1Layout: Readonly<Partial<Record<S1Name, Member>>>;

  constructor(readonly layout: 'split' | 'union', readonly structLayout: 'v5.0' | 'rfc-v3') {
    this.s1Layout = structLayout === 'rfc-v3' ? S1_RFC3 : S1_V50;
    const s1Size = structLayout === 'rfc-v3' ? 56 : 48;
    this.s1 = new Uint8Array(layout === 'union' ? Math.max(s1Size, 24) : s1Size);
    this.s2 = layout === 'union' ? this.s1 : new Uint8Array(24);
  }

  private static get(buf: Uint8Array, m: Member): bigint {
    let v = 0n;
    for (let i = m.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[m.off + i]!);
    return v;
  }

  private static set(buf: Uint8Array, m: Member, v: bigint): void {
    for (let i = 0; i < m.size; i++) buf[m.off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  }

  /** Members the struct layout does not have (the nested flags in v5.0) live outside the structs. */
  private readonly outside = new Map<S1Name, bigint>();

  getS1(name: S1Name): bigint {
    const m = this.s1Layout[name];
    return m ? CfgStorage.get(this.s1, m) : this.outside.get(name) ?? 0n;
  }

  setS1(name: S1Name, v: bigint): void {
    const m = this.s1Layout[name];
    if (m) CfgStorage.set(this.s1, m, v);
    else this.outside.set(name, v);
  }

  getS2(name: keyof typeof S2): bigint {
    return CfgStorage.get(this.s2, S2[name]);
  }

  setS2(name: keyof typeof S2, v: bigint): void {
    CfgStorage.set(this.s2, S2[name], v);
  }

}
