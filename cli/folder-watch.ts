/**
 * `featurize watch`: the upload trigger's incremental behaviour (functions/trigger) over a local folder. The
 * folder as it is when watching starts is the baseline; files that appear or change afterwards are gathered
 * for a batching window, deduplicated, written to a manifest, and processed through the state machine's
 * manifest path on this machine, one run per batch, one run at a time.
 *
 * Duplicates: a file is identified by its content (SHA-256). A change event for a file whose content is
 * already known (saved again, copied over with the same bytes, an editor's touch, the same event twice) starts
 * nothing; a file whose content changed is processed again, and the reducer replaces its older row.
 */
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
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
  /** Runs one batch through the pipeline; the next batch waits for it. */
  run: (batch: WatchBatch) => Promise<void>;
  /** A batch that could not be prepared or run: reported, and watching goes on. */
  onError: (error: unknown) => void;
}

export interface FolderWatch {
  /** Resolves, with how many files were already there, once they are recorded and changes are watched. */
  ready: Promise<number>;
  /** Stops watching; resolves when a running batch has finished. */
  stop(): Promise<void>;
}

interface Known {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export function watchFolder(options: FolderWatchOptions): FolderWatch {
  const input = openStorage({ bucket: options.dir });
  const output = openStorage(options.output);
  const known = new Map<string, Known>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let changedWhileBusy = false;
  let stopped = false;

  // Until the baseline is recorded, and while a batch runs, changes are only noted: they are looked at after.
  let busy = true;
  const schedule = () => {
    if (stopped) return;
    if (busy) changedWhileBusy = true;
    else timer ??= setTimeout(flush, options.windowMs);
  };
  const idle = () => {
    busy = false;
    if (changedWhileBusy) {
      changedWhileBusy = false;
      schedule();
    }
  };

  const flush = () => {
    timer = undefined;
    busy = true;
    running = (async () => {
      const uploads = await changedFiles(input, known);
      if (uploads.length > 0) await options.run(await writeManifest(uploads, output, options.output));
    })()
      .catch(options.onError)
      .finally(() => {
        running = undefined;
        idle();
      });
  };

  // Watching starts before the baseline is read, so that nothing written meanwhile goes unnoticed. An event
  // only means "look again": the look (a listing against what is known) finds what changed.
  const watcher = watch(options.dir, { recursive: true }, schedule);
  const ready = changedFiles(input, known).then((baseline) => {
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

/**
 * Files whose content is new since the last look, recorded as known. A file whose size and modification time
 * are unchanged is not read again; hidden files (`.name`: partial downloads, system files) are not images.
 */
async function changedFiles(input: Storage, known: Map<string, Known>): Promise<Upload[]> {
  const uploads: Upload[] = [];
  for await (const object of input.list()) {
    if (object.key.split('/').some((segment) => segment.startsWith('.'))) continue;
    const mtimeMs = object.lastModified?.getTime() ?? 0;
    const seen = known.get(object.key);
    if (seen && seen.size === object.size && seen.mtimeMs === mtimeMs) continue;
    const sha256 = createHash('sha256')
      .update(await input.read(object.key))
      .digest('hex');
    known.set(object.key, { size: object.size, mtimeMs, sha256 });
    if (seen?.sha256 === sha256) continue;
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
