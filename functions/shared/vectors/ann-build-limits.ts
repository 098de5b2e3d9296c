/**
 * What a first build of the dataset's ANN index (vector-index.ts) needs, bounded from `npm run bench:search`'s
 * measurements, and the refusal of a build its Lambda function (memory, vCPUs, time left) or its machine
 * (`featurize index`) cannot hold: refused before anything changes, not killed mid-build.
 */

/**
 * A bound on the memory building the ANN index takes, in MiB. Measured by `npm run bench:search`, the update alone
 * in its process, 1,280 floats a vector: 773 MiB at 12,000 vectors, 2,548 and 2,666 at 200,000 (two days), 9,212,
 * 9,415 and 9,428 at 1,000,000 (HNSW holds its graph and every vector in memory while it builds). This lies above each:
 * 1,100 MiB and 1.8 times the vectors' float32 bytes.
 */
export function annBuildMiB(rows: number, dimension: number): number {
  return Math.ceil(annBuildBaseMiB + (rows * dimension * annBuildBytesPerValue) / 2 ** 20);
}

const annBuildBaseMiB = 1100;
const annBuildBytesPerValue = 4 * 1.8;

/** The most vectors whose ANN build `annBuildMiB` lets into `memoryMiB`: its inverse. */
function annBuildVectors(memoryMiB: number, dimension: number): number {
  return Math.floor(((memoryMiB - annBuildBaseMiB) * 2 ** 20) / (dimension * annBuildBytesPerValue));
}

/**
 * A bound on the CPU time building the ANN index takes, in seconds. Measured by `npm run bench:search` on a quiet
 * 2-core EPYC, the build alone in its process, 1,280 floats a vector: 567 s at 200,000 vectors and 5,386 s at
 * 1,000,000 one day, so growing as the vectors to the power 1.4 (the IVF training and the HNSW graphs both grow
 * faster than the rows); 705 s at 200,000 and 5,853 s at 1,000,000 another day, on the same machine. This is 1.25
 * times the slower day's curve, in proportion to the vectors' width.
 */
export function annBuildCpuSeconds(rows: number, dimension: number): number {
  return annBuildCpuMargin * annBuildCpuAtScale * (rows / annBuildScaleRows) ** annBuildCpuExponent * (dimension / 1280);
}

const annBuildCpuAtScale = 705;
const annBuildScaleRows = 200_000;
const annBuildCpuExponent = 1.4;
const annBuildCpuMargin = 1.25;

/** The most vectors whose ANN build `annBuildCpuSeconds` lets into `cpuSeconds`: its inverse. */
function annBuildVectorsIn(cpuSeconds: number, dimension: number): number {
  const scale = annBuildCpuMargin * annBuildCpuAtScale * (dimension / 1280);
  return Math.floor(annBuildScaleRows * (cpuSeconds / scale) ** (1 / annBuildCpuExponent));
}

/** A Lambda function's vCPUs: one per 1,769 MB, six at most (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). */
function lambdaVcpus(memoryMiB: number): number {
  return Math.min(6, memoryMiB / 1769);
}

/**
 * The CPU seconds the build gets in `seconds` of a function of `memoryMiB`: each vCPU kept as busy as the two
 * cores here were (1.66 of 2 at 200,000 vectors, 1.76 at 1,000,000: the lower; beyond two cores assumed, not
 * measured).
 */
function lambdaCpuSeconds(memoryMiB: number, seconds: number): number {
  return seconds * lambdaVcpus(memoryMiB) * 0.83;
}

/** The share of an invocation's remaining time a build may take: the rest reads the parts and adds their rows. */
const annBuildTimeShare = 0.8;

/**
 * Why a first ANN build over `rows` vectors of `width` cannot run within `limits` (more memory than the function
 * has, or more time than its vCPUs give in what is left of the invocation), saying what to do instead; undefined
 * when it can. `location` is the output's, for the command to run instead.
 */
export function annBuildRefusal(
  limits: { memoryLimitMiB: number; remainingMs?: (() => number) | undefined },
  rows: number,
  width: number,
  location: string,
): string | undefined {
  const { memoryLimitMiB } = limits;
  const neededMiB = annBuildMiB(rows, width);
  const cpuSeconds = annBuildCpuSeconds(rows, width);
  const leftSeconds = limits.remainingMs ? limits.remainingMs() / 1000 : undefined;
  const buildSeconds = cpuSeconds / lambdaCpuSeconds(memoryLimitMiB, 1);
  const tooLong = leftSeconds !== undefined && buildSeconds > leftSeconds * annBuildTimeShare;
  if (neededMiB <= memoryLimitMiB && !tooLong) return undefined;

  const reasons = [
    ...(neededMiB > memoryLimitMiB
      ? [`needs about ${count(neededMiB)} MiB, more than the ${count(memoryLimitMiB)} MiB this update may use`]
      : []),
    ...(tooLong
      ? [
          `takes about ${duration(buildSeconds)} on this function's ${lambdaVcpus(memoryLimitMiB).toFixed(1)} vCPUs ` +
            `(${duration(cpuSeconds)} of CPU), more than the ${duration(leftSeconds! * annBuildTimeShare)} it may take ` +
            `(${annBuildTimeShare * 100} % of the ${duration(leftSeconds!)} this update has left)`,
        ]
      : []),
  ];
  // The largest function, with as much time as this one (its timeout).
  const largest = Math.min(
    annBuildVectors(lambdaMaxMemoryMiB, width),
    leftSeconds === undefined
      ? Number.POSITIVE_INFINITY
      : annBuildVectorsIn(lambdaCpuSeconds(lambdaMaxMemoryMiB, leftSeconds * annBuildTimeShare), width),
  );
  const largerFunction =
    memoryLimitMiB < lambdaMaxMemoryMiB && largest >= rows
      ? `deploy with -c updateIndexMemoryMb=${lambdaMaxMemoryMiB} (about ${count(largest)} vectors), or `
      : '';
  return (
    `building the index over ${count(rows)} vectors ${reasons.join(' and ')}: ${largerFunction}build it with ` +
    `featurize index ${location} where the memory and time are; later runs' updates extend it`
  );
}

/** As annBuildRefusal, for `featurize index` on a machine of `memoryMiB`: its time is the user's to spend. */
export function annBuildRefusalOnMachine(memoryMiB: number, rows: number, width: number): string | undefined {
  const neededMiB = annBuildMiB(rows, width);
  if (neededMiB <= memoryMiB) return undefined;
  return (
    `building the index over ${count(rows)} vectors needs about ${count(neededMiB)} MiB, more than this machine's ` +
    `${count(memoryMiB)} MiB: run featurize index on one with more memory; later runs' updates extend the index`
  );
}

const count = (value: number) => Math.round(value).toLocaleString('en-US');
const duration = (seconds: number) => (seconds < 120 ? `${count(seconds)} s` : `${count(seconds / 60)} min`);

/** Lambda's largest memory setting. */
const lambdaMaxMemoryMiB = 10_240;
