/**
 * A run's wall time and bill on AWS, step by step, predicted from times measured here (the extract path's time per
 * image, bench:tail's per-child times) and the platform's published limits. Pure: `npm run model:aws` feeds it.
 *
 * Extract: b = ceil(N / B) batches, one EXPRESS child each, run c at once, where
 *   c = min(MaxConcurrency, 10,000 children of a Distributed Map, the account's Lambda concurrency);
 *   Lambda adds at most 1,000 environments per function every 10 s, so c environments take
 *   (ceil(c / 1000) - 1) · 10 s to come up; each starts cold once (s seconds).
 *   wall = ramp + s + ceil(b / c) · B · t, t = the CPU time per image over the function's vCPUs (memory / 1,769 MB);   a child (s + B · t) must end within EXPRESS's 5 minutes.
 *   bill: infra/cost-estimate.ts's extraction lines (compute, cold starts, requests, EXPRESS children, S3, parent).
 * Each later step, from bench:tail at R rows: a step measured with one child is one invocation over the whole run,
 *   its time growing as N / R; a step measured with k children keeps R / k rows a child, so N · k / R children,
 *   each as slow as measured, run in waves of the concurrency above. A child must end within Lambda's 15 minutes.
 *   bill: children · child seconds · memory · the GB-second price of its architecture, plus a request each.
 */
import {
  estimateCost,
  extractWallMsPerImage,
  lambdaArmPerGbSecond,
  lambdaPerRequest,
  lambdaX86PerGbSecond,
} from '../infra/cost-estimate.ts';
import { expressChildLimitSeconds } from '../infra/extract-sizing.ts';
import type { TailBench } from './tail.ts';

/**
 * A Distributed Map runs at most 10,000 child workflow executions at once (its default and ceiling):
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 */
export const distributedMapMaxChildren = 10_000;
/**
 * Each function scales by at most 1,000 execution environments every 10 seconds:
 * https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html
 */
export const lambdaScalingStep = { environments: 1000, seconds: 10 };
/**
 * An account's concurrent executions across its functions in a Region, 1,000 by default (a quota that can be
 * raised; new accounts may start lower): https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
export const defaultAccountConcurrency = 1000;
/** A Lambda invocation runs at most 15 minutes: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const lambdaMaxSeconds = 900;
/**
 * An EXPRESS workflow execution (each child of the map) runs at most 5 minutes (expressChildLimitSeconds):
 * https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html
 */
const expressMaxSeconds = expressChildLimitSeconds;

export interface TailStepSizing {
  memoryMb: number;
  architecture: 'arm64' | 'x86_64';
}

export interface ModelInputs {
  images: number;
  /** The extract path's CPU time per image, measured (bench: `batch path`), in ms. */
  cpuMsPerImage: number;
  maxItemsPerBatch: number;
  extractMemoryMb: number;
  /** The map's MaxConcurrency. */
  maxConcurrency: number;
  accountConcurrency: number;
  coldStartSeconds: number;
  tail: TailBench;
  /** Memory and architecture of each later step's function, by bench:tail's step name. */
  tailSizing: Record<string, TailStepSizing>;
}

export interface StepPrediction {
  name: string;
  children: number;
  /** One child's seconds. */
  childSeconds: number;
  /** Children running at once. */
  concurrency: number;
  wallSeconds: number;
  usd: number;
  /** Platform limits this step breaks, each naming the limit. */
  limits: string[];
}

export interface ModelPrediction {
  images: number;
  steps: StepPrediction[];
  wallSeconds: number;
  usd: number;
}

export function predictRun(inputs: ModelInputs): ModelPrediction {
  const concurrency = Math.min(inputs.maxConcurrency, distributedMapMaxChildren, inputs.accountConcurrency);
  const steps = [extractStep(inputs, concurrency), ...inputs.tail.steps.map((step) => tailStep(inputs, step, concurrency))];
  return {
    images: inputs.images,
    steps,
    wallSeconds: steps.reduce((sum, step) => sum + step.wallSeconds, 0),
    usd: steps.reduce((sum, step) => sum + step.usd, 0),
  };
}

/** Seconds until `environments` execution environments of one function can run. */
export function rampSeconds(environments: number): number {
  return Math.max(0, Math.ceil(environments / lambdaScalingStep.environments) - 1) * lambdaScalingStep.seconds;
}

function extractStep(inputs: ModelInputs, concurrency: number): StepPrediction {
  const batches = Math.ceil(inputs.images / inputs.maxItemsPerBatch);
  const running = Math.min(batches, concurrency);
  const batchSeconds = (inputs.maxItemsPerBatch * extractWallMsPerImage(inputs.cpuMsPerImage, inputs.extractMemoryMb)) / 1000;
  const cost = estimateCost({
    images: inputs.images,
    cpuMsPerImage: inputs.cpuMsPerImage,
    extractMemoryMb: inputs.extractMemoryMb,
    maxItemsPerBatch: inputs.maxItemsPerBatch,
    maxConcurrency: running,
    coldStartSeconds: inputs.coldStartSeconds,
    reduceSeconds: 0,
    reduceMemoryMb: 0,
    validateSeconds: 0,
    validateMemoryMb: 0,
  });
  const childSeconds = inputs.coldStartSeconds + batchSeconds;
  return {
    name: 'extract',
    children: batches,
    childSeconds,
    concurrency: running,
    wallSeconds: rampSeconds(running) + inputs.coldStartSeconds + Math.ceil(batches / running) * batchSeconds,
    usd: cost.lines.filter((line) => !line.item.startsWith('reduce')).reduce((sum, line) => sum + line.usd, 0),
    limits: childSeconds > expressMaxSeconds ? [`a batch takes ${Math.round(childSeconds)} s, over EXPRESS's ${expressMaxSeconds} s`] : [],
  };
}

function tailStep(inputs: ModelInputs, step: TailBench['steps'][number], concurrency: number): StepPrediction {
  const sizing = inputs.tailSizing[step.name];
  if (!sizing) throw new Error(`no memory and architecture for the ${step.name} step`);
  const single = step.children === 1;
  const children = single ? 1 : Math.ceil((inputs.images * step.children) / inputs.tail.rows);
  const childSeconds = single ? (step.maxChildSeconds * inputs.images) / inputs.tail.rows : step.maxChildSeconds;
  const running = Math.min(children, concurrency);
  const price = sizing.architecture === 'arm64' ? lambdaArmPerGbSecond : lambdaX86PerGbSecond;
  return {
    name: step.name,
    children,
    childSeconds,
    concurrency: running,
    wallSeconds: rampSeconds(running) + Math.ceil(children / running) * childSeconds,
    usd: children * (childSeconds * (sizing.memoryMb / 1024) * price + lambdaPerRequest),
    limits:
      childSeconds > lambdaMaxSeconds
        ? [`one invocation takes ${Math.round(childSeconds)} s, over Lambda's ${lambdaMaxSeconds} s: the step must fan out`]
        : [],
  };
}
