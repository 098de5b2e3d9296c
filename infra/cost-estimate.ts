/**
 * What a run costs on AWS, from measured per-image time and the published prices: `npm run bench` calls
 * estimateCost with its figures. Prices are us-east-1 list prices, without the free tier, as published on the
 * pages cited beside each (as known in 2025; this machine cannot reach them: check before quoting a figure).
 *
 * Cost per run of N images, batches of B (b = ceil(N / B) batches), c CPU-seconds per image (measured: user +
 * system time of the extract path), memory M GB, v = M / 1.769 vCPUs:
 *   extract compute   N·(c / v)·M·λx86 = N·c·1.728·λx86   (the path keeps its vCPUs busy: wall t = c / v per image,
 *                     so the bill depends on CPU time, not on the memory chosen)
 *                     +  cold starts  min(b, C)·s·M·λx86   (C: max concurrency, s: cold start, billed)
 *   extract requests  b·ρ
 *   EXPRESS children  b·ε  +  b·(B·t)·0.064·δ                     (one child per batch, billed in 64 MB steps)
 *   map children      b·τ                    (the parent Distributed Map counts one state transition per child)
 *   parent workflow   T·τ                                          (T: its state transitions, a dozen)
 *   upload path       N·(η + 1.1·σ)   triggered runs only: one S3 event into EventBridge and one SQS send per upload,
 *                                     a receive per batch and a delete per 10
 *   reduce + validate (Tr·Mr + Tv·Mv)·λarm + 2ρ
 *   S3 requests       N·g (image reads) + b·p (shard writes) + ceil(N/1000)·p (listing) + b·g (reducer reads)
 */
import { defaultVectorShape } from '../functions/shared/model/model-descriptor.ts';

/** https://aws.amazon.com/lambda/pricing/ — x86_64, per GB-second (first 6 billion GB-seconds a month). */
export const lambdaX86PerGbSecond = 0.0000166667;
/** https://aws.amazon.com/lambda/pricing/ — Arm (Graviton), per GB-second. */
export const lambdaArmPerGbSecond = 0.0000133334;
/** https://aws.amazon.com/lambda/pricing/ — per request, any architecture ($0.20 per million). */
export const lambdaPerRequest = 0.2 / 1_000_000;
/** https://aws.amazon.com/step-functions/pricing/ — Standard workflows, per state transition ($0.025 per 1,000). */
export const standardPerStateTransition = 0.025 / 1000;
/** https://aws.amazon.com/step-functions/pricing/ — Express workflows, per request ($1.00 per million). */
export const expressPerRequest = 1 / 1_000_000;
/** https://aws.amazon.com/step-functions/pricing/ — Express workflows, per GB-second (first 1,000 GB-hours). */
export const expressPerGbSecond = 0.00001667;
/** Express duration is billed on memory used in 64 MB steps; a child that only invokes a function uses the first. */
export const expressBilledGb = 64 / 1024;
/**
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html — "At 1,769 MB, a function has the
 * equivalent of one vCPU"; CPU is allocated in proportion to memory.
 */
export const lambdaMbPerVcpu = 1769;
/** https://aws.amazon.com/eventbridge/pricing/ — AWS opt-in data events (S3's), per event ingested ($1.00 per million). */
export const eventBridgePerEvent = 1 / 1_000_000;
/** https://aws.amazon.com/sqs/pricing/ — standard queue, per request ($0.40 per million, each 64 KB a request). */
export const sqsPerRequest = 0.4 / 1_000_000;
/** https://aws.amazon.com/s3/pricing/ — S3 Standard PUT, COPY, POST, LIST requests ($0.005 per 1,000). */
export const s3PerPutOrList = 0.005 / 1000;
/** https://aws.amazon.com/s3/pricing/ — S3 Standard GET and other requests ($0.0004 per 1,000). */
export const s3PerGet = 0.0004 / 1000;
/** https://aws.amazon.com/s3/pricing/ — S3 Standard storage, per GB-month (first 50 TB). */
export const s3PerGbMonth = 0.023;

/**
 * Parent (STANDARD) transitions of one run: Prepare, ApplyDefaults, CheckRun, Choice, Map, PlanReduce, ReduceParts,
 * FinishReduce, Validate, Choices, Report, end. Left out: the reduce fan-out's STANDARD children, about three
 * transitions per part of 25,000 rows (120 per million images, $0.003).
 */
export const parentStateTransitions = 14;
/** Bytes a vector takes in the dataset: 1280 float32, before Parquet's (small) compression of ReLU6 outputs. */
export const bytesPerVector = defaultVectorShape.featureLength * Float32Array.BYTES_PER_ELEMENT;

export interface CostInputs {
  images: number;
  /** Measured CPU time per image of the extract path (read, decode, resize, infer, shard), in ms, in a warm batch. */
  cpuMsPerImage: number;
  extractMemoryMb: number;
  maxItemsPerBatch: number;
  /** Containers started at once at most: each one starts cold once. */
  maxConcurrency: number;
  /** Model load in a fresh container (billed since Lambda bills the INIT phase). */
  coldStartSeconds: number;
  /** Measured reducer and validator durations for this many images, in seconds, and their memory. */
  reduceSeconds: number;
  reduceMemoryMb: number;
  validateSeconds: number;
  validateMemoryMb: number;
  /** The extract function's CPU (infra/settings.ts): arm64's GB-second costs 20 % less. Default x86_64. */
  extractArchitecture?: 'x86_64' | 'arm64';
  /** Started by uploads (the trigger path): adds EventBridge and SQS per image. */
  triggered?: boolean;
}

/** The extract path's wall time per image on a function of `memoryMb`, which keeps its vCPUs busy. */
export function extractWallMsPerImage(cpuMsPerImage: number, memoryMb: number): number {
  return (cpuMsPerImage * lambdaMbPerVcpu) / memoryMb;
}

export interface CostLine {
  item: string;
  usd: number;
}

export interface CostEstimate {
  inputs: CostInputs;
  lines: CostLine[];
  /** The run's cost, all lines added. */
  totalUsd: number;
  /** Storing the vectors a month (not part of the run's cost). */
  storagePerMonthUsd: number;
}

export function estimateCost(inputs: CostInputs): CostEstimate {
  const { images: n, maxItemsPerBatch } = inputs;
  const t = extractWallMsPerImage(inputs.cpuMsPerImage, inputs.extractMemoryMb) / 1000;
  const extractGb = inputs.extractMemoryMb / 1024;
  const batches = Math.ceil(n / maxItemsPerBatch);
  const arch = inputs.extractArchitecture ?? 'x86_64';
  const extractPrice = arch === 'arm64' ? lambdaArmPerGbSecond : lambdaX86PerGbSecond;
  const coldStarts = Math.min(batches, inputs.maxConcurrency);
  const lines: CostLine[] = [
    { item: `extract compute (${arch})`, usd: n * t * extractGb * extractPrice },
    { item: 'extract cold starts', usd: coldStarts * inputs.coldStartSeconds * extractGb * extractPrice },
    { item: 'extract requests', usd: batches * lambdaPerRequest },
    {
      item: 'Distributed Map EXPRESS children',
      usd: batches * expressPerRequest + batches * maxItemsPerBatch * t * expressBilledGb * expressPerGbSecond,
    },
    { item: 'Distributed Map child transitions', usd: batches * standardPerStateTransition },
    { item: 'parent workflow transitions', usd: parentStateTransitions * standardPerStateTransition },
    {
      item: 'reduce + validate (arm64)',
      usd:
        ((inputs.reduceSeconds * inputs.reduceMemoryMb + inputs.validateSeconds * inputs.validateMemoryMb) / 1024) * lambdaArmPerGbSecond +
        2 * lambdaPerRequest,
    },
    {
      item: 'S3 requests',
      usd: n * s3PerGet + batches * s3PerPutOrList + Math.ceil(n / 1000) * s3PerPutOrList + batches * s3PerGet,
    },
    ...(inputs.triggered ? [{ item: 'upload path (EventBridge, SQS)', usd: n * (eventBridgePerEvent + 1.1 * sqsPerRequest) }] : []),
  ];
  return {
    inputs,
    lines,
    totalUsd: lines.reduce((sum, line) => sum + line.usd, 0),
    storagePerMonthUsd: ((n * bytesPerVector) / 1024 ** 3) * s3PerGbMonth,
  };
}

/** The estimate as a Markdown table, for the bench's output and the README. */
export function formatCostEstimate(estimate: CostEstimate): string {
  const usd = (value: number) => `$${value.toFixed(value < 1 ? 4 : 2)}`;
  return [
    `| ${estimate.inputs.images.toLocaleString('en-US')} images | USD |`,
    '|---|---:|',
    ...estimate.lines.map((line) => `| ${line.item} | ${usd(line.usd)} |`),
    `| **total per run** | **${usd(estimate.totalUsd)}** |`,
    `| storage of the vectors, per month | ${usd(estimate.storagePerMonthUsd)} |`,
  ].join('\n');
}
