/**
 * `featurize watch`: the upload trigger's incremental behaviour (functions/trigger) over a local folder. The
 * folder as it is when watching starts is the baseline; files that appear or change afterwards are gathered
 * for a batching window, deduplicated, written to a manifest, and processed through the state machine's
 * manifest path on this machine, one run per batch, one run at a time.
 *
 * Duplicates: a file is identified by its content (SHA-256). A file whose content is already known starts
 * nothing: saved again, copied over with the same bytes, an editor's touch, the same event twice, and a copy of
 * a known file under another name. A file whose content changed is processed again, and publishing replaces its
 * older row. Hidden files and folders are skipped, by the rule every input path shares (skipReason).
 *
 * A run that did not succeed publishes nothing: its files are not known yet, and are tried again in the next
 * batch, or on their own after a pause that doubles each time (up to `maxAttempts` runs); after that, they are
 * tried again when they change.
 */
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { skipReason } from '../functions/shared/failures.ts';
import { manifestKey } from '../functions/shared/run-layout.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import { normalizePrefix, type Storage, type StorageLocation } from '../functions/shared/storage/storage.ts';
import { executionNameFor, type Upload } from '../functions/trigger/start-run.ts';

/** One batch of new files, as the state machine's execution input names it. */
export interface WatchBatch {
  runId: string;
  manifest: { bucket: string; key: string };
  keys: string[];
}

export interface FolderWatchOptions {
  /** The watched folder (absolute): keys are relative to it, as the local runner's input "bucket". */
  dir: string;
  output: Required<StorageLocation>;
  /** How long changes gather after the first one before they become a batch. */
  windowMs: number;
  /** Runs one batch through the pipeline, true when it succeeded (and so published); the next batch waits for it. */
  run: (batch: WatchBatch) => Promise<boolean>;
  /** Files whose runs failed this many times are left until they change (default 3). */
  maxAttempts?: number;
  /** A batch's files given up on: reported, and watching goes on. */
  onGiveUp?: (keys: readonly string[]) => void;
  /** A batch that could not be prepared or run: reported, and watching goes on. */
  onError: (error: unknown) => void;
}

export interface FolderWatch {
  /** Resolves, with how many files were already there, once they are recorded and changes are watched. */
  ready: Promise<number>;
  /** Stops watching; resolves when a running batch has finished. */
  stop(): Promise<void>;
}

interface Seen {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** What the watch has seen and what it has published, by key and by content. */
interface WatchState {
  /** Every file as last looked at. */
  seen: Map<string, Seen>;
  /** Content already in the dataset (or there when watching began): a file with it starts nothing. */
  knownContent: Set<string>;
  /** Files a failed run did not publish: tried again, with the number of runs that failed them. */
  retry: Map<string, number>;
}

export function watchFolder(options: FolderWatchOptions): FolderWatch {
  const input = openStorage({ bucket: options.dir });
  const output = openStorage(options.output);
  const maxAttempts = options.maxAttempts ?? 3;
  const state: WatchState = { seen: new Map(), knownContent: new Set(), retry: new Map() };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let changedWhileBusy = false;
  let stopped = false;

  // Until the baseline is recorded, and while a batch runs, changes are only noted: they are looked at after.
  let busy = true;
  const schedule = (delayMs = options.windowMs) => {
    if (stopped) return;
    if (busy) changedWhileBusy = true;
    else timer ??= setTimeout(flush, delayMs);
  };
  const idle = () => {
    busy = false;
    if (changedWhileBusy) {
      changedWhileBusy = false;
      schedule();
    } else if (state.retry.size > 0) {
      schedule(options.windowMs * 2 ** Math.max(...state.retry.values()));
    }
  };

  const flush = () => {
    timer = undefined;
    busy = true;
    running = (async () => {
      const uploads = await changedFiles(input, state);
      if (uploads.length === 0) return;
      const succeeded = await options.run(await writeManifest(uploads, output, options.output)).catch((error: unknown) => {
        options.onError(error);
        return false;
      });
      settle(state, uploads, succeeded, maxAttempts, options.onGiveUp);
    })()
      .catch(options.onError)
      .finally(() => {
        running = undefined;
        idle();
      });
  };

  // Watching starts before the baseline is read, so that nothing written meanwhile goes unnoticed. An event
  // only means "look again": the look (a listing against what is known) finds what changed.
  const watcher = watch(options.dir, { recursive: true }, () => schedule());
  const ready = changedFiles(input, state).then((baseline) => {
    for (const upload of baseline) state.knownContent.add(upload.etag!);
    idle();
    return baseline.length;
  });

  return {
    ready,
    async stop() {
      stopped = true;
      watcher.close();
      clearTimeout(timer);
      await running;
    },
  };
}

/** After a run: its content is known when it succeeded; otherwise its files are tried again, a few times. */
function settle(
  state: WatchState,
  uploads: readonly Upload[],
  succeeded: boolean,
  maxAttempts: number,
  onGiveUp?: (keys: readonly string[]) => void,
) {
  const givenUp: string[] = [];
  for (const upload of uploads) {
    if (succeeded) {
      state.knownContent.add(upload.etag!);
      state.retry.delete(upload.key);
      continue;
    }
    const attempts = (state.retry.get(upload.key) ?? 0) + 1;
    if (attempts < maxAttempts) {
      state.retry.set(upload.key, attempts);
    } else {
      state.retry.delete(upload.key);
      givenUp.push(upload.key);
    }
  }
  if (givenUp.length > 0) onGiveUp?.(givenUp);
}

/**
 * Files to run: those whose content is new since the last look, and those a failed run left to try again. A
 * file whose size and modification time are unchanged is not read again; hidden files are not images; a file
 * whose content is already known (a copy under another name) is recorded and left alone.
 */
async function changedFiles(input: Storage, state: WatchState): Promise<Upload[]> {
  const uploads: Upload[] = [];
  for await (const object of input.list()) {
    if (skipReason(object.key)) continue;
    const mtimeMs = object.lastModified?.getTime() ?? 0;
    const seen = state.seen.get(object.key);
    const retrying = state.retry.has(object.key);
    if (!retrying && seen && seen.size === object.size && seen.mtimeMs === mtimeMs) continue;
    const sha256 = createHash('sha256')
      .update(await input.read(object.key))
      .digest('hex');
    state.seen.set(object.key, { size: object.size, mtimeMs, sha256 });
    if (!retrying && (seen?.sha256 === sha256 || state.knownContent.has(sha256))) continue;
    uploads.push({ key: object.key, size: object.size, etag: sha256, time: new Date(mtimeMs).toISOString() });
  }
  return uploads;
}

/**
 * The batch's manifest, named as the trigger names its runs (from the keys and their content). Items carry
 * Key and Size only: a local file has no ETag, and the dataset's etag column stays empty as in `featurize run`.
 */
async function writeManifest(uploads: Upload[], output: Storage, location: Required<StorageLocation>): Promise<WatchBatch> {
  const runId = executionNameFor(uploads);
  const items = uploads.map((upload) => ({ Key: upload.key, Size: upload.size }));
  await output.write(manifestKey(runId), `${JSON.stringify(items)}\n`);
  return {
    runId,
    manifest: { bucket: location.bucket, key: `${normalizePrefix(location.prefix)}${manifestKey(runId)}` },
    keys: uploads.map((upload) => upload.key),
  };
}
