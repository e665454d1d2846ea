/**
 * The HTML report in a real headless browser: Debian's chromium driven by
 * playwright-core (.ci/run installs the chromium package).  The test opens
 * the report from a file: URL, reads the summary table back, checks that a
 * known difference is highlighted, that no request left the file, and saves
 * a screenshot under test-output/report/ (git-ignored).
 *
 * Where /usr/bin/chromium is absent the browser test is skipped and says so;
 * under CI (CI=true) it fails instead, since .ci/run must have installed it.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, runCli } from '../helpers/cli.js';

// Each test replays whole traces (several variants, or many candidate traces): seconds under load.
jest.setTimeout(60_000);

const CHROMIUM = '/usr/bin/chromium';
/** The launch flags this machine needs (no sandbox as root; nothing that reaches for the network). */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUT = join(ROOT, 'test-output', 'report');
const VARIANTS = ['rfc-v3', 'rfc-v3-cleared', 'rfc-v3-union'];
const REPORT = join(OUT, 'nested-bypass.html');

describe('report: the file itself', () => {
  beforeAll(() => { mkdirSync(OUT, { recursive: true }); });
  it('is written whole, self-contained (no URL to fetch, no script) and byte-identical on a second run', async () => {
    const r = await runCli(['report', 'traces/nested-bypass.csv', '--variants', VARIANTS.join(','), '-o', REPORT], ROOT);
    expect(r.err).toBe('');
    expect(r.code).toBe(1); // the variants differ
    expect(r.out).toBe(`wrote ${REPORT} (3 variants; ste: differs at 8 trace lines, faults: differs at 5 trace lines, dma: differs at 4 trace lines)\n`);
    const html = readFileSync(REPORT, 'utf8');
    expect(html).not.toMatch(/<script|<link|\bsrc=|url\(|https?:/i);
    const again = join(mkdtempSync(join(tmpdir(), 'smmu-report-')), 'r.html');
    await runCli(['report', 'traces/nested-bypass.csv', '--variants', VARIANTS.join(','), '-o', again], ROOT);
    expect(readFileSync(again, 'utf8')).toBe(html);
  });
  it('a trace without op rows: one variant (hw), every line shown, exit 0', async () => {
    const d = mkdtempSync(join(tmpdir(), 'smmu-report-'));
    const r = await runCli(['report', join(ROOT, 'traces/s1-translate.csv'), '-o', 'hw.html'], d);
    expect([r.code, r.out]).toEqual([0, 'wrote hw.html (1 variant; ste: same, faults: same, dma: same)\n']);
    const html = readFileSync(join(d, 'hw.html'), 'utf8');
    // every DMA row of the golden DMA stream is in the report, at its trace line
    const golden = readFileSync(join(ROOT, 'golden/s1-translate/hw.dma.csv'), 'utf8').split('\n').slice(1).filter(Boolean);
    for (const row of golden) expect(html).toContain(row.slice(row.indexOf(',') + 1).replace(/&/g, '&amp;'));
    expect(html).not.toContain('class="folded"');
  });
  it('bad requests exit 2 and write nothing', async () => {
    const d = mkdtempSync(join(tmpdir(), 'smmu-report-'));
    const unknown = await runCli(['report', join(ROOT, 'traces/nested-bypass.csv'), '--variants', 'rfc-v3,linux-9.9', '-o', 'r.html'], d);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown variant 'linux-9.9'");
    const twice = await runCli(['report', join(ROOT, 'traces/nested-bypass.csv'), '--variants', 'rfc-v3,rfc-v3', '-o', 'r.html'], d);
    expect([twice.code, twice.err]).toEqual([2, 'smmu-replay: report: a variant is named twice\n']);
    expect(existsSync(join(d, 'r.html'))).toBe(false);
  });
  it('a stream of more than 200,000 rows: exit 2 with what to do instead, and nothing written', async () => {
    // SMMUEN=0 after reset: every DMA bypasses by GBPA and is one DMA-stream row, so 200,001 rows
    // give 200,001 DMA rows, one over the bound; the replay stops there rather than go on holding them.
    const d = mkdtempSync(join(tmpdir(), 'smmu-report-'));
    writeFileSync(join(d, 'big.csv'), 'dma,0,0x1000,r\n'.repeat(200_001));
    const r = await runCli(['report', 'big.csv', '-o', 'r.html'], d);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err).toBe('smmu-replay: big.csv: the dma stream has more than 200000 rows: the HTML report is for traces of at most that many rows per stream (it holds every variant\'s streams in memory, and a browser shows no more usefully); shrink the trace with `minimize`, or diff the streams with `compare`\n');
    expect(existsSync(join(d, 'r.html'))).toBe(false);
  }, 60_000);
});

const browserTest = existsSync(CHROMIUM) || process.env.CI ? describe : describe.skip;
const skipNote = existsSync(CHROMIUM) ? '' : ` (skipped: ${CHROMIUM} is not installed here; apt-get install chromium, as .ci/run does)`;

browserTest(`report: in headless chromium${skipNote}`, () => {
  let ctx: BrowserContext;
  let page: Page;
  let profile = '';
  const requests: string[] = [];
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing under CI: .ci/run must apt-get install chromium`);
    mkdirSync(OUT, { recursive: true });
    const r = await runCli(['report', 'traces/nested-bypass.csv', '--variants', VARIANTS.join(','), '-o', REPORT], ROOT);
    expect(r.code).toBe(1);
    profile = mkdtempSync(join(tmpdir(), 'smmu-chromium-')); // an empty --user-data-dir
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 } });
    page = ctx.pages()[0] ?? await ctx.newPage();
    page.on('request', (q) => { requests.push(q.url()); });
    await page.goto(pathToFileURL(REPORT).href);
  }, 60_000);
  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('the summary table shows each variant\'s numbers', async () => {
    const table = await page.$$eval('#summary tr[data-metric]', (rows) => Object.fromEntries(rows.map((r) => [
      (r as HTMLElement).dataset.metric!, Array.from(r.querySelectorAll('td')).map((td) => Number(td.textContent)),
    ])));
    // The trace (traces/nested-bypass.csv) has four DMAs, each with an expect=pa:..., after four
    // set_pasid_table calls (bypass, translate, bypass, translate):
    // - rfc-v3 and rfc-v3-cleared translate all four; the union variant's nested STE is ILLEGAL
    //   (S2T0SZ 0 or 1 from the union), so each DMA gets C_BAD_STE and fails its expectation;
    // - every variant breaks each of the four live changes through V=0: four `invalid` hazards;
    // - the cleared variant does not rewrite qword 1 at the first bypass: one STE store fewer (21).
    expect(table['dma:translated']).toEqual([4, 4, 0]);
    expect(table['dma:fault']).toEqual([0, 0, 4]);
    expect(table['fault:C_BAD_STE']).toEqual([0, 0, 4]);
    expect(table['expect-mismatched']).toEqual([0, 0, 4]);
    expect(table['fault:check:dma']).toEqual([0, 0, 4]);
    expect(table.hazards).toEqual([4, 4, 4]);
    expect(table['fault:hazard:invalid']).toEqual([4, 4, 4]);
    expect(table.stores![1]).toBe(table.stores![0]! - 1);
    // and every number is the replay's own (smmu-replay replay --json)
    const json = JSON.parse((await runCli(['replay', 'traces/nested-bypass.csv', '--variant', VARIANTS.join(','), '--json'], ROOT)).out) as { commands: Record<string, number>; ste: { store: number } }[];
    expect(table.syncs).toEqual(json.map((s) => s.commands.CMD_SYNC));
    expect(table.stores).toEqual(json.map((s) => s.ste.store));
    // metrics that differ between variants are marked
    expect(await page.getAttribute('#summary tr[data-metric="stores"]', 'class')).toBe('differs');
    expect(await page.getAttribute('#summary tr[data-metric="hazards"]', 'class')).toBeNull();
  });

  it('the SHCFG difference at trace line 50 is highlighted, with its field change', async () => {
    const cell = page.locator('#stream-ste tr[data-line="50"] td[data-variant="rfc-v3-cleared"]');
    expect(await cell.getAttribute('class')).toBe('changed');
    // the cfgi the SMMU used: the flag variant's qword 1 lost SHCFG=incoming; the cleared one kept it
    const only = cell.locator('.row.only', { hasText: 'cfgi,,,valid,V=1 Config=S2 SHCFG=incoming' });
    expect(await only.count()).toBe(1);
    const bg = await only.evaluate((e) => getComputedStyle(e).backgroundColor);
    expect(bg).toBe('rgb(207, 229, 255)'); // #cfe5ff, the "only one side has" colour
    const field = cell.locator('ul.fields li[data-field="SHCFG"]').first();
    expect((await field.textContent())!.replace(/\s+/g, ' ')).toBe('SHCFG: 0 (NSH) → 1 (incoming) DW1[45:44]');
    expect(await field.isVisible()).toBe(true);
    // the baseline's cell at the same line is not marked changed; a line without differences is not highlighted
    expect(await page.getAttribute('#stream-ste tr[data-line="50"] td[data-variant="rfc-v3"]', 'class')).toBe('same');
    expect(await page.getAttribute('#stream-ste tr[data-line="40"]', 'class')).toBeNull();
  });

  it('hazard rows are highlighted, and the page made no request beyond its own file; screenshot saved', async () => {
    const hazards = page.locator('#stream-faults .row.hazard');
    expect(await hazards.count()).toBeGreaterThan(0);
    expect(await hazards.first().evaluate((e) => getComputedStyle(e).borderLeftColor)).toBe('rgb(192, 57, 43)'); // #c0392b
    expect(requests).toEqual([pathToFileURL(REPORT).href]);
    const shot = join(OUT, 'nested-bypass.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  });
});
