/**
 * Driver-engine behaviours not covered by the scenario traces: argument
 * checks that become `driver` rows, and the map failures of io-pgtable.
 */
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_PROFILE, PROFILES } from '../../src/model/profiles.js';
import { DriverEngine } from '../../src/policy/driver.js';
import { variantByName } from '../../src/policy/registry.js';
import { Replay } from '../../src/replay/engine.js';
import type { DmaStreamRow, FaultRow } from '../../src/replay/streams.js';
import { parseTraceText } from '../../src/trace/parse.js';

async function run(variant: string, text: string): Promise<{ faults: FaultRow[]; dma: DmaStreamRow[] }> {
  const out = { faults: [] as FaultRow[], dma: [] as DmaStreamRow[] };
  const r = new Replay({
    file: 't.csv', variant, profile: DEFAULT_PROFILE, caching: 'max', driver: new DriverEngine(variantByName(variant)!, 't.csv'),
  }, { ste() {}, fault: (f) => out.faults.push(f), dma: (d) => out.dma.push(d) });
  for (const row of await parseTraceText(text, 't.csv')) r.apply(row);
  r.finish();
  return out;
}

const driverRows = (f: FaultRow[]) => f.filter((r) => r.source === 'driver').map((r) => `${r.line} ${r.type}: ${r.detail}`);

describe('domain_alloc sizes', () => {
  it.each(['linux-5.0', 'linux-current'])('%s: ias/oas outside what io-pgtable and the model support are EINVAL', async (v) => {
    const f = await run(v, [
      'op,probe',
      'op,domain_alloc,id=a,type=s1,ias=52', // 52-bit input is not modelled
      'op,domain_alloc,id=b,type=s1,oas=47', // no IPS/PS encoding for 47 bits
      'op,domain_alloc,id=c,type=s2,oas=52', // not modelled either
      'op,domain_alloc,id=d,type=s1,granule=64k,ias=16', // 64K needs more than 16 input bits
      'op,domain_alloc,id=e,type=s2,ias=40,oas=48',
    ].join('\n'));
    expect(driverRows(f.faults)).toEqual([
      '2 EINVAL: domain_alloc ias=52: must be 13..48 with a 4K granule (52-bit input is not modelled)',
      '3 EINVAL: domain_alloc oas=47: must be 32, 36, 40, 42, 44 or 48 (52-bit output is not modelled)',
      '4 EINVAL: domain_alloc oas=52: must be 32, 36, 40, 42, 44 or 48 (52-bit output is not modelled)',
      '5 EINVAL: domain_alloc ias=16: must be 17..48 with a 64K granule (52-bit input is not modelled)',
    ]);
  });

  it('an oas above SMMU_IDR5.OAS is EINVAL (default profile: 48 bits, so nothing legal is above it; qemu-7.2 has 44)', async () => {
    const out = { faults: [] as FaultRow[] };
    const r = new Replay({
      file: 't.csv', variant: 'linux-current', profile: PROFILES.get('qemu-7.2')!, caching: 'max',
      driver: new DriverEngine(variantByName('linux-current')!, 't.csv'),
    }, { ste() {}, fault: (f) => out.faults.push(f), dma() {} });
    for (const row of await parseTraceText('op,probe\nop,domain_alloc,id=a,type=s1,oas=48\nop,domain_alloc,id=b,type=s1,oas=44\n', 't.csv')) r.apply(row);
    r.finish();
    expect(driverRows(out.faults)).toEqual(["2 EINVAL: domain_alloc oas=48: above the SMMU's 44-bit output size (SMMU_IDR5.OAS)"]);
  });
});

describe('map failures', () => {
  it('a 1 GiB block above the start level is EINVAL and maps nothing; the DMA faults at stage 2', async () => {
    // stage 2, 4K, ias 30: start level 2, so a 1 GiB-aligned 1 GiB range cannot be one block
    const { faults, dma } = await run('linux-current', [
      'op,probe',
      'op,domain_alloc,id=d,type=s2,ias=30',
      'op,attach,sid=0x1,domain=d',
      'op,map,domain=d,iova=0,pa=0x4000_0000,size=0x4000_0000',
      'dma,0x1,0x1000,r',
    ].join('\n'));
    expect(driverRows(faults)).toEqual([
      "4 EINVAL: map: a 40000000-byte block needs level 1, above this table's start level 2 (io-pgtable: -EINVAL)",
    ]);
    expect(dma[0]!.detail).toMatch(/^F_TRANSLATION S2=1 CLASS=IN level=2/);
  });

  it('prot without r or w maps nothing and reports nothing (arm_lpae_map_pages returns 0)', async () => {
    const { faults, dma } = await run('linux-current', [
      'op,probe',
      'op,domain_alloc,id=d,type=s1',
      'op,attach,sid=0x1,domain=d',
      'op,map,domain=d,iova=0x1000,pa=0x4000_0000,size=0x1000,prot=x',
      'dma,0x1,0x1000,r',
    ].join('\n'));
    expect(driverRows(faults)).toEqual([]);
    expect(dma[0]!.outcome).toBe('fault');
    expect(dma[0]!.detail).toMatch(/^F_TRANSLATION S2=0/);
  });
});
