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

/**
 * One object could not be read (missing, forbidden), or copied (S3 refused the copy): an image's becomes that
 * item's failure record; a run artifact's fails the step. Never retried.
 */
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

/**
 * A ReduceParts child failed after its retries: its message names the group and the child's own error (the
 * map's own error only says that too many children failed).
 */
export class ReduceGroupFailedError extends FeaturizeError {
  override name = 'ReduceGroupFailedError';
}

/**
 * A run that cannot start as asked: a setting of the wrong type or out of range, an unknown setting, an input or
 * output location that does not exist or overlaps the other, an output holding files this pipeline did not write.
 * Retrying cannot help; the cause names what to change.
 */
export class RunRefusedError extends FeaturizeError {
  override name = 'RunRefusedError';
}

/** The run's output location does not exist or cannot be used: not even its report can be written there. */
export class OutputUnavailableError extends RunRefusedError {
  override name = 'OutputUnavailableError';
}

/** The model directory, its descriptor or its weights are missing or inconsistent. */
export class ModelLoadError extends FeaturizeError {
  override name = 'ModelLoadError';
}

/** The model cannot be exported to ONNX: an op, attribute or weight the exporter does not map, or an export
 *  whose outputs differ from the TF.js model's. */
export class ModelExportError extends FeaturizeError {
  override name = 'ModelExportError';
}

/** A setting (environment variable, CLI flag, URI) has an invalid value. */
export class ConfigError extends FeaturizeError {
  override name = 'ConfigError';
}

/**
 * PCA cannot be fitted or applied to this run's vectors: too few rows, a fixed number of components above
 * what the data supports, non-finite values, or a saved model made for another feature extractor.
 * Retrying cannot help; the report still renders, and the run fails with this name.
 */
export class PcaError extends FeaturizeError {
  override name = 'PcaError';
}

/**
 * Publishing was asked for a run whose validation report is missing, did not pass, or names parts that are not
 * the run's staged parts: nothing unaudited reaches features/, which is left as it was. Retrying cannot help.
 */
export class PublishRefusedError extends FeaturizeError {
  override name = 'PublishRefusedError';
}

/**
 * Another run holds the lease on the output's dataset (it is publishing) or on its index (updating it): transient,
 * the state machine retries the publish or the index update with backoff until the lease is free.
 */
export class PublishLeaseBusyError extends FeaturizeError {
  override name = 'PublishLeaseBusyError';
}

/**
 * The lease was lost while publishing (not renewed in time: the process stalled longer than the lease, and
 * another run may have taken over). The publish stops before its next change; a retry finishes it.
 */
export class PublishLeaseLostError extends FeaturizeError {
  override name = 'PublishLeaseLostError';
}

/**
 * A publish a killed process left half-done (its journal) waits to be finished, by `featurize repair` or the next
 * publish: until then features/ is between two states, and the index update, which only reads the dataset, refuses
 * to index it. The index step's failure fails nothing (the run's indexError).
 */
export class PublishInterruptedError extends FeaturizeError {
  override name = 'PublishInterruptedError';
}

/**
 * Building the dataset's ANN index would need more memory, or more time, than the update has (its Lambda
 * function's and invocation's, or its machine's): refused before any change, not killed mid-build. The index
 * step's failure fails nothing (the run's indexError).
 */
export class IndexBuildRefusedError extends FeaturizeError {
  override name = 'IndexBuildRefusedError';
}
