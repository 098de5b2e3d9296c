import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatherReportData } from '../../functions/report/gather-report-data.ts';
import { renderReport } from '../../functions/report/render-report.ts';
import { stagedPartsPrefix } from '../../functions/shared/run-layout.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { clusteredRows, type FeatureRow, writeFeatureParts } from '../support/feature-parts.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('report-vectors', []);

/** A run's staged parts of `rows`, whose paths are real sample images (so that they get thumbnails). */
async function stagedRun(name: string, rows: FeatureRow[]): Promise<FsStorage> {
  const output = new FsStorage(join(stores.dir, name));
  await writeFeatureParts(output, name, rows, { folder: stagedPartsPrefix(name), rowsPerPart: 25 });
  return output;
}

describe("report: the run's vectors", () => {
  it('shows kNN accuracy per label, copies, near-duplicates and neighbours, with thumbnails of a few KB', async () => {
    const keys = await sampleKeys(4, 10);
    const rows = clusteredRows(40, { width: 32 }).map((row, i) => ({ ...row, path: join(sampleDir, keys[i]!) }));
    rows[1] = { ...rows[1]!, sha256: rows[0]!.path.padEnd(64, '0').slice(0, 64) };
    rows[3] = { ...rows[3]!, label: rows[2]!.label, features: Array.from(rows[2]!.features, (x) => x * 1.5) };
    const runId = '20260101T000000Z-aaaaaa';
    const output = await stagedRun(runId, rows);

    const data = await gatherReportData({ runId, output, pcaRequested: false, steps: {} });
    expect(data.vectors?.state).toBe('done');
    const analysis = data.vectors?.state === 'done' ? data.vectors.analysis : undefined;
    expect(analysis).toMatchObject({ rows: 40, analysed: 40 });
    expect(analysis?.knn).toMatchObject({ mode: 'leave-one-out', images: 40 });
    expect(Object.keys(analysis?.knn?.perLabel ?? {})).toHaveLength(4);
    expect(analysis?.sameContent).toEqual({
      groups: 1,
      images: 2,
      examples: [[rows[0]!, rows[1]!].map(({ path, label }) => ({ path, label }))],
    });
    const nearPaths = analysis?.nearDuplicates.examples.flat().map((image) => image.path);
    expect(nearPaths).toEqual(expect.arrayContaining([rows[2]!.path, rows[3]!.path]));
    expect(analysis?.neighbours).toHaveLength(4);

    const html = await renderReport(data);
    expect(html).toMatch(/<td data-knn="images">40<\/td>/);
    expect(html).toMatch(/<td data-knn="top1">\d+\.\d%<\/td>/);
    expect(html).toContain('data-groups="same-content">1 group, 2 images');
    expect(html).toMatch(/data-groups="near-duplicates">\d+ groups?, \d+ images/);
    const thumbnails = [...html.matchAll(/<img class="thumb" alt="" src="data:image\/jpeg;base64,([^"]+)">/g)].map((m) => m[1]!);
    expect(thumbnails.length).toBeGreaterThan(4);
    for (const thumbnail of thumbnails) expect(Buffer.from(thumbnail, 'base64').byteLength).toBeLessThan(4096);
    // Nothing to fetch: every src is inline data.
    expect(html.match(/\ssrc="(?!data:image\/jpeg;base64,)/g)).toBeNull();
  });

  it('says why there is no kNN accuracy, and why no thumbnail, when it cannot have them', async () => {
    const rows = clusteredRows(8, { width: 16, labels: ['Kiwi'], prefix: join(stores.dir, 'gone') });
    const runId = '20260101T000000Z-bbbbbb';
    const data = await gatherReportData({ runId, output: await stagedRun(runId, rows), pcaRequested: false, steps: {} });
    const html = await renderReport(data);
    expect(html).toContain('No kNN accuracy: it needs at least 20 images of two labels or more.');
    expect(html).toMatch(/No thumbnails: the images could not be read \(.*gone.*\)\./);
  });

  it('analyses the sample of a run above the row limit, and says its copies were not counted', async () => {
    const runId = '20260101T000000Z-cccccc';
    const output = await stagedRun(runId, clusteredRows(30, { width: 16 }));
    const data = await gatherReportData({ runId, output, pcaRequested: false, steps: {}, maxVectorRows: 20 });
    expect(data.vectors).toMatchObject({ state: 'done', analysis: { rows: 30, analysed: 30, sameContent: undefined } });
    expect(await renderReport(data)).toContain('Not counted: the run has 30 rows, more than the 20 whose hashes the report reads.');
  });

  it('takes at most the vector limit of the sample, the same rows however the run was cut into parts', async () => {
    const rows = clusteredRows(60, { width: 16 });
    const analysed = async (runId: string, rowsPerPart: number) => {
      const output = new FsStorage(join(stores.dir, runId));
      await writeFeatureParts(output, runId, rows, { folder: stagedPartsPrefix(runId), rowsPerPart });
      const data = await gatherReportData({ runId, output, pcaRequested: false, steps: {}, maxVectors: 25 });
      return { data, html: await renderReport(data) };
    };
    const inOnePart = await analysed('20260101T000000Z-dddddd', 60);
    const inSevenParts = await analysed('20260101T000000Z-eeeeee', 9);
    expect(inOnePart.html).toContain("A uniform sample of 25 of the run's 60 vectors");
    const shown = (data: typeof inOnePart.data) => (data.vectors?.state === 'done' ? data.vectors.analysis.neighbours : undefined);
    expect(shown(inSevenParts.data)).toEqual(shown(inOnePart.data));
  });
});
