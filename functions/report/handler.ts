/**
 * The report Lambda: renders runs/<runId>/report.html after validation, whether it passed or not, after
 * publishing when it ran (or failed), and after PCA when it ran (or failed). The page is built from what the run left in its output location; the event
 * adds what only the state machine knows (step results, the execution's start).
 *
 * Event (the Report state's Parameters):
 *   { runId, output: { bucket, prefix }, pca, validation, reduce, publish, publishError, pcaResult, pcaError,
 *     indexResult, indexError, startedAt }
 * Returns { report, location, bytes }: the page's key relative to the output location, its full location, size.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type ReportEvent, type ReportResult, reportEventSchema } from '../../statemachine/contracts.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { reportHtmlKey } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { preloadDotProducts } from '../shared/vectors/dot-products.ts';
import { gatherReportData } from './gather-report-data.ts';
import { renderReport } from './render-report.ts';

// Started at init: the run's sample is searched with ONNX Runtime, and locally this module is imported while the
// extraction runs (statemachine/local/run-pipeline.ts), so that its load is not left for the end of the run.
preloadDotProducts();

export async function report(event: ReportEvent): Promise<ReportResult> {
  const output = openStorage(event.output);
  const data = await gatherReportData({
    runId: event.runId,
    output,
    pcaRequested: event.pca !== null && event.pca !== undefined,
    steps: {
      reduce: event.reduce,
      validation: event.validation,
      publish: event.publish,
      publishError: event.publishError,
      checkError: event.checkError,
      pca: event.pcaResult,
      pcaError: event.pcaError,
      index: event.indexResult,
      indexError: event.indexError,
    },
    ...(event.startedAt ? { startedAt: event.startedAt } : {}),
  });
  const html = await renderReport(data);
  const key = reportHtmlKey(event.runId);
  await output.write(key, html);
  const result = { report: key, location: output.locationOf(key), bytes: Buffer.byteLength(html) };
  logger.info('report rendered', { runId: event.runId, ...result });
  return result;
}

export const handler = middy(report).use(injectLambdaContext(logger)).use(parseEvent(reportEventSchema));
