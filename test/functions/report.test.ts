import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { gatherReportData } from '../../functions/report/gather-report-data.ts';
import { handler } from '../../functions/report/handler.ts';
import { renderReport } from '../../functions/report/render-report.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { ReportEvent, ReportResult } from '../../statemachine/contracts.ts';
import fixture from '../events/report.json' with { type: 'json' };
import { runPcaSteps } from '../support/pca-steps.ts';
import { sampleLabels, writeSampleRun } from '../support/sample-run.ts';
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'report', awsRequestId: 'test' } as Context;
const invoke = (event: unknown) => handler(event as ReportEvent, context) as Promise<ReportResult>;
const fitPca = (runId: string, output: { bucket: string; prefix?: string }) => runPcaSteps({ runId, output, pca: 0.9 });

const escaped = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const stores = useTestStores('report', ['datasets']);

describe('report handler', () => {
  it('renders a complete run from S3: counts, rows per label, failures per code with examples, variance curve and scatter', async () => {
    const output = fixture.output;
    const storage = new S3Storage(output.bucket, output.prefix);
    const { failures } = await writeSampleRun(storage, fixture.runId);
    const pcaResult = await fitPca(fixture.runId, output);

    const result = await invoke({ ...fixture, pcaResult });

    expect(result).toEqual({
      report: `runs/${fixture.runId}/report.html`,
      location: `s3://datasets/fruits/runs/${fixture.runId}/report.html`,
      bytes: expect.any(Number),
    });
    const html = Buffer.from(await storage.read(result.report)).toString('utf8');
    expect(Buffer.byteLength(html)).toBe(result.bytes);
    expect(html).toContain('validation passed');
    expect(html).toMatch(/data-count="listed"><span class="value">204</);
    expect(html).toMatch(/data-count="rows"><span class="value">200</);
    expect(html).toMatch(/data-count="failures"><span class="value">4</);
    for (const label of sampleLabels) expect(html).toContain(escaped(label));
    expect(html).not.toContain('Lemon <Meyer>');
    for (const failure of failures) {
      expect(html).toContain(`data-code="${failure.code}"`);
      expect(html).toContain(failure.path);
      expect(html).toContain(failure.message);
    }
    expect(html).toMatch(/<tr data-code="CORRUPT"><td><code>CORRUPT<\/code><\/td><td class="num">2</);
    expect(html).toContain(`${pcaResult.components} of 48, explaining`);
    expect(html).toContain('fitted on this run');
    expect(html).toContain('All 200 vectors of the run.');
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).toMatch(/<td>reduce<\/td><td class="num">4\.2 s</);
    expect(html).toMatch(/<td>extract, summed over its batches<\/td><td class="num">21\.6 s</);
    expect(html).toMatch(/<td>extract: inference, summed<\/td><td class="num">9\.3 s</);
    expect(html).toMatch(/<td>publish<\/td><td class="num">1\.1 s</);
    expect(html).toMatch(/<td>pca: eigen<\/td>/);
    expect(html).toMatch(/<td>run, from its start to this report<\/td>/);
  });

  it('renders what it has when report.json, the failure records and PCA are all missing', async () => {
    await writeSampleRun(new FsStorage(stores.dir), 'bare', { validationReport: false, failures: false });
    const result = await invoke({
      runId: 'bare',
      output: { bucket: stores.dir },
      pca: null,
      validation: { passed: true },
      reduce: null,
      publish: null,
    });
    const html = await readFile(result.location, 'utf8');
    expect(html).toContain(`No validation report at ${join(stores.dir, 'runs/bare/report.json')}`);
    expect(html).toContain('4 labels, counted from the run&#39;s staged parts.');
    expect(html).toMatch(/data-count="rows"><span class="value">200</);
    expect(html).toMatch(/data-count="listed"><span class="value">–</);
    expect(html).toContain('No failure records were found for this run.');
    expect(html).toContain('PCA was not requested for this run.');
    expect(html).toContain('No timings recorded.');
    expect(html.match(/<svg/g)).toHaveLength(1);
  });

  it('says why there is no PCA: skipped after a failed validation, or the error that stopped it', async () => {
    await writeSampleRun(new FsStorage(stores.dir), 'failed', { passed: false });
    const base = { runId: 'failed', output: { bucket: stores.dir }, pca: { components: 4 }, reduce: null, publish: null };
    const skipped = await readFile(
      (await invoke({ ...base, validation: { passed: false, summary: 'accounting: 3 keys missing' } })).location,
      'utf8',
    );
    expect(skipped).toContain('validation failed');
    expect(skipped).toContain('accounting: 3 keys missing');
    expect(skipped).toContain('PCA did not run: the validation did not pass.');
    expect(skipped).toContain('Nothing was published: features/ is as it was before this run.');
    expect(skipped).toContain('3 listed inputs are neither a row nor a failure');

    const pcaError = {
      Error: 'PcaError',
      Cause: JSON.stringify({ errorType: 'PcaError', errorMessage: 'PCA needs at least 2 vectors, the run has 1', trace: [] }),
    };
    const failed = await readFile((await invoke({ ...base, validation: { passed: true }, pcaError })).location, 'utf8');
    expect(failed).toContain('PCA failed: PcaError: PCA needs at least 2 vectors, the run has 1');
  });

  it('shows why a run that passed validation is not published, and that PCA did not run for that reason', async () => {
    await writeSampleRun(new FsStorage(stores.dir), 'unpublished');
    const publishError = {
      Error: 'RunArtifactError',
      Cause: JSON.stringify({ errorType: 'RunArtifactError', errorMessage: 'run unpublished: 1 of its audited parts are gone', trace: [] }),
    };
    const event = {
      runId: 'unpublished',
      output: { bucket: stores.dir },
      pca: 0.9,
      validation: { passed: true },
      reduce: null,
      publish: null,
      publishError,
    };

    const html = await readFile((await invoke(event)).location, 'utf8');

    expect(html).toContain(
      'The run passed validation but could not be published: RunArtifactError: run unpublished: 1 of its audited parts are gone.',
    );
    expect(html).toContain('PCA did not run: the run could not be published.');
    expect(html).not.toContain('Nothing was published');
  });

  it('draws a fixed-seed sample of at most the point limit, and says how many of how many', async () => {
    const storage = new FsStorage(stores.dir);
    await writeSampleRun(storage, 'sampled');
    const pcaResult = await fitPca('sampled', { bucket: stores.dir });
    const request = { runId: 'sampled', output: storage, pcaRequested: true, steps: { pca: pcaResult }, maxPoints: 50 };
    const data = await gatherReportData(request);
    expect(data.pca.state === 'done' && data.pca.scatter?.points).toHaveLength(50);
    expect(data.pca.state === 'done' && data.pca.scatter?.total).toBe(200);
    expect((await gatherReportData(request)).pca).toEqual(data.pca);
    expect(await renderReport(data)).toContain("A uniform random sample of 50 of the run's 200 vectors");
  });

  it('refers to nothing outside the page: no script, stylesheet, image, frame or font to fetch', async () => {
    await writeSampleRun(new FsStorage(stores.dir), 'offline');
    const pcaResult = await fitPca('offline', { bucket: stores.dir });
    const result = await invoke({
      runId: 'offline',
      output: { bucket: stores.dir },
      pca: 0.9,
      validation: { passed: true },
      reduce: null,
      publish: null,
      pcaResult,
    });
    const html = await readFile(result.location, 'utf8');
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed|source|video|audio)\b/i);
    expect(html).not.toMatch(/@import|@font-face/i);
    expect(html).not.toMatch(/url\((?!#)/i);
    expect(html).not.toMatch(/\s(src|href|xlink:href|srcset|action)=/i);
    // The only addresses are the SVG namespaces, which browsers never fetch.
    const addresses = new Set(html.match(/https?:\/\/[^"'\s)]+/g) ?? []);
    expect([...addresses].sort()).toEqual(['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
  });

  it.each([
    [{ output: { bucket: '/tmp' } }, /runId/],
    [{ runId: 'r', output: { bucket: '/tmp' }, pcaResult: { model: 3 } }, /pcaResult\.model/],
  ])('rejects a malformed event with InvalidEventError naming the field (%#)', async (event, pattern) => {
    await expect(invoke(event)).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringMatching(pattern) });
  });
});
