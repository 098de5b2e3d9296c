import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as report } from '../../functions/report/handler.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import type { ReportResult } from '../../statemachine/contracts.ts';
import { runPcaSteps } from '../support/pca-steps.ts';
import { sampleFailures, sampleLabels, writeSampleRun } from '../support/sample-run.ts';

// Debian's chromium (.ci/run installs it); CHROMIUM_PATH points elsewhere.
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const context = { functionName: 'report', awsRequestId: 'test' } as Context;
let dir: string;
let profile: string;
let browser: BrowserContext;
let page: Page;
const requested: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'report-chromium-'));
  profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  const output = { bucket: dir };
  await writeSampleRun(new FsStorage(dir), 'seen');
  const pcaResult = await runPcaSteps({ runId: 'seen', output, pca: { components: 3 } });
  const { location } = (await report(
    {
      runId: 'seen',
      output,
      pca: { components: 3 },
      validation: { passed: true },
      reduce: { millis: 2500 },
      publish: { millis: 900 },
      pcaResult,
    } as never,
    context,
  )) as ReportResult;

  browser = await chromium.launchPersistentContext(profile, { executablePath, args: flags, headless: true });
  // Any request but the page itself is recorded and refused: the report must open offline.
  await browser.route('**/*', (route) => {
    requested.push(route.request().url());
    return route.request().url().startsWith('file:') ? route.continue() : route.abort();
  });
  page = await browser.newPage();
  await page.goto(pathToFileURL(location).href, { waitUntil: 'load' });
});
afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
  await rm(profile, { recursive: true, force: true });
});

const texts = (selector: string) => page.locator(selector).allTextContents();

describe('the HTML report in Chromium', () => {
  it('loads nothing but itself', () => {
    expect(requested).toHaveLength(1);
    expect(requested[0]).toMatch(/^file:.*\/runs\/seen\/report\.html$/);
  });

  it('shows the counts and a row per failure code', async () => {
    expect(await texts('[data-count] .value')).toEqual(['204', '200', '4', '0']);
    expect(await texts('tr[data-code] code')).toEqual(expect.arrayContaining([...new Set(sampleFailures.map((f) => f.code))]));
    expect(await page.locator('#failures').textContent()).toContain('s3://images/fruits/Kiwi/empty.jpg');
  });

  it('draws one bar per label, with the label names as written', async () => {
    const chart = page.locator('#labels svg');
    expect(await chart.locator('.mark-rect.role-mark path').count()).toBe(sampleLabels.length);
    expect((await texts('#labels svg .role-axis-label text')).filter((t) => sampleLabels.includes(t)).sort()).toEqual(
      [...sampleLabels].sort(),
    );
  });

  it('draws the cumulative explained variance with its axis titles and the kept count marked', async () => {
    const curve = page.locator('#pca svg').first();
    expect(await curve.locator('.mark-line.role-mark path').count()).toBe(1);
    expect(await curve.locator('.role-axis-title text').allTextContents()).toEqual([
      'number of components',
      'cumulative share of variance',
    ]);
    expect(await curve.locator('.mark-text.role-mark text').allTextContents()).toEqual(['3 kept']);
  });

  it('draws every vector on the first two components, coloured by label, with a legend entry per label', async () => {
    const scatter = page.locator('#pca svg').nth(1);
    expect(await scatter.locator('.mark-symbol.role-mark path').count()).toBe(200);
    const titles = await scatter.locator('.role-axis-title text').allTextContents();
    expect(titles).toEqual([
      expect.stringMatching(/^PC1 \(\d+\.\d% of variance\)$/),
      expect.stringMatching(/^PC2 \(\d+\.\d% of variance\)$/),
    ]);
    expect((await scatter.locator('.role-legend-label text').allTextContents()).sort()).toEqual([...sampleLabels].sort());
    const fills = await scatter.locator('.role-legend-symbol path').evaluateAll((paths) => paths.map((p) => p.getAttribute('fill')));
    expect(new Set(fills).size).toBe(sampleLabels.length);
    const box = await scatter.boundingBox();
    expect(box?.width).toBeGreaterThan(300);
    expect(box?.height).toBeGreaterThan(300);
  });
});
