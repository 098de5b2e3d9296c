/**
 * The validate Lambda: after the reduce fan-out, sums the audits its children wrote of the run's staged Parquet
 * and of the input listed anew, proves the accounting, and writes runs/<runId>/report.json. Only a run that
 * passes is published.
 *
 * Event (the state machine's Validate state): the run's settings ({ runId, input, manifest, output, mapError }),
 * toleratedFailurePercentage and the reducer's result at `reduce`.
 * Returns ValidationResult: the Choice state reads `passed`, the Fail state uses `summary` as its cause.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type ValidateEvent, type ValidationResult, validateEventSchema } from '../../statemachine/contracts.ts';
import { validationModelDir } from '../shared/config.ts';
import { listedInputs } from '../shared/dataset/listed-inputs.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { defaultVectorShape, loadModelDescriptor } from '../shared/model/model-descriptor.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { validateRun } from './validate-run.ts';

const modelDir = validationModelDir();

export async function validate(event: ValidateEvent): Promise<ValidationResult> {
  const result = await validateRun(
    {
      runId: event.runId,
      output: openStorage(event.output),
      scope: event.scope,
      listInputs: () => listedInputs(event),
      listedByParts: event.manifest === null,
      mapError: event.mapError,
      toleratedFailurePercentage: event.toleratedFailurePercentage,
      reduce: event.reduce,
    },
    modelDir ? await loadModelDescriptor(modelDir) : defaultVectorShape,
  );
  logger[result.passed ? 'info' : 'warn']('run validated', { ...result });
  // An alarm on this metric catches a failed run even where nobody watches the executions.
  metrics.addMetric('RunsFailingValidation', MetricUnit.Count, result.passed ? 0 : 1);
  return result;
}

export const handler = middy(validate).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(validateEventSchema));
