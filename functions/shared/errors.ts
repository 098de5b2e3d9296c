/**
 * Named errors. A Lambda error's `name` becomes the error type Step Functions matches in `Retry`/`Catch`
 * (`ErrorEquals`), so each class sets it explicitly. A bad image is never an error: it is a failure record.
 */

/** Base class: every error the project raises on purpose. */
export class FeaturizeError extends Error {
  override name = 'FeaturizeError';
}

/** The event or request is malformed: retrying cannot help. */
export class InvalidEventError extends FeaturizeError {
  override name = 'InvalidEventError';
}

/** Storage could not be reached or answered with a server error: transient, the batch is retried. */
export class StorageUnavailableError extends FeaturizeError {
  override name = 'StorageUnavailableError';
}

/** One object could not be read (missing, forbidden): recorded as that item's failure, not retried. */
export class ObjectReadError extends FeaturizeError {
  override name = 'ObjectReadError';
  readonly key: string;
  readonly notFound: boolean;
  constructor(key: string, message: string, options: { notFound?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.key = key;
    this.notFound = options.notFound ?? false;
  }
}

/**
 * A file the run itself produced (a map result, a shard, a part) is malformed, belongs to another run or
 * contradicts the others (two models in one run): retrying cannot help, the run must be looked at.
 */
export class RunArtifactError extends FeaturizeError {
  override name = 'RunArtifactError';
}

/** The model directory, its descriptor or its weights are missing or inconsistent. */
export class ModelLoadError extends FeaturizeError {
  override name = 'ModelLoadError';
}

/** A setting (environment variable, CLI flag, URI) has an invalid value. */
export class ConfigError extends FeaturizeError {
  override name = 'ConfigError';
}
