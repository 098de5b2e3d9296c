/** Parsers for option values: a bad value stops commander with one line naming the option and what it expects. */
import { InvalidArgumentError, Option } from 'commander';
import { parsePcaText } from '../functions/shared/pca/pca-setting.ts';

export function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < 1) {
    throw new InvalidArgumentError('expected a whole number of at least 1.');
  }
  return number;
}

export function nonNegativeInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) {
    throw new InvalidArgumentError('expected a whole number of at least 0.');
  }
  return number;
}

/** A whole percentage: Step Functions' ToleratedFailurePercentagePath takes an integer from 0 to 100. */
export function wholePercentage(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number > 100) throw new InvalidArgumentError('expected a whole percentage from 0 to 100.');
  return number;
}

/** A duration in seconds, fractions allowed, above 0. */
export function positiveSeconds(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0)
    throw new InvalidArgumentError('expected a number of seconds above 0.');
  return number;
}

/** `--pca`: off, a variance share in (0, 1) or a number of components (null stands for off). */
export function pcaShorthand(value: string): number | null {
  try {
    return parsePcaText(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

export function httpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // reported below, as any value that is not an http(s) URL
  }
  throw new InvalidArgumentError('expected an http:// or https:// URL.');
}

/** `--s3-endpoint`, shared by the commands that read or write s3:// locations. */
export function s3EndpointOption(): Option {
  return new Option('--s3-endpoint <url>', 'S3-compatible endpoint for s3:// locations (MinIO...): sets AWS_ENDPOINT_URL_S3').argParser(
    httpUrl,
  );
}

/** Points this process and the workers it starts at the endpoint; S3-compatible stores ignore the region the SDK wants. */
export function useS3Endpoint(url: string | undefined): void {
  if (url === undefined) return;
  process.env.AWS_ENDPOINT_URL_S3 = url;
  process.env.AWS_REGION ??= 'us-east-1';
}
