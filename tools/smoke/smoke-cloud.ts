/**
 * Everything the smoke test asks of a deployment, behind one small interface: AWS implements it
 * (aws-cloud.ts: cdk deploy, S3, `featurize start --wait`, the upload trigger's executions, cdk destroy), and the
 * tests implement it with fauxqs, the real trigger function and the local runner (test/smoke/).
 */
import type { Storage, StorageLocation } from '../../functions/shared/storage/storage.ts';

/** Where the deployment's runs read and write by default. */
export interface SmokeTarget {
  input: Required<StorageLocation>;
  output: Required<StorageLocation>;
}

/** How one execution ended. */
export interface RunOutcome {
  runId: string;
  /** SUCCEEDED, FAILED, TIMED_OUT, ABORTED. */
  status: string;
  error?: { error: string; cause: string };
}

export interface SmokeCloud {
  /** Deploys the stack (creating or updating it) and says where its runs read and write. */
  deploy(): Promise<SmokeTarget>;
  /** Writes one object, `key` relative to the input bucket. */
  upload(key: string, body: Uint8Array): Promise<void>;
  /** A run over `prefix` (relative to the input bucket), as `featurize start --prefix <prefix> --wait` starts and follows it. */
  runPrefix(prefix: string): Promise<RunOutcome>;
  /** The runs the upload trigger started for the uploads since `since`, followed until `keys` were all in one and they ended. */
  awaitUploadRuns(keys: readonly string[], since: Date): Promise<RunOutcome[]>;
  /** The deployment's output location: the dataset, the runs' reports and failure records. */
  output(): Storage;
  /** Removes what deploy() made, data included. */
  teardown(): Promise<void>;
}
