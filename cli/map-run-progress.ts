/**
 * Progress of a deployed run's Distributed Map, from the item counts polled from Step Functions: on a TTY a
 * progress bar; otherwise (CI, a log file) one plain line whenever the counts change.
 */
import { SingleBar } from 'cli-progress';
import type { ItemTally } from './deployed-runs.ts';

export interface MapRunProgress {
  update(items: ItemTally): void;
  stop(): void;
}

export function mapRunProgress(stream: NodeJS.WriteStream = process.stderr): MapRunProgress {
  const bar = stream.isTTY
    ? new SingleBar({ stream, format: 'extracting {bar} {value}/{total} images | {failed} failed | ETA {eta_formatted}', hideCursor: true })
    : undefined;
  let started = false;
  let last = '';
  return {
    update(items) {
      const done = items.succeeded + items.failed;
      if (bar) {
        if (!started) bar.start(items.total, done, { failed: items.failed });
        bar.setTotal(items.total);
        bar.update(done, { failed: items.failed });
      } else {
        const line = `featurize: ${done}/${items.total} images, ${items.failed} failed\n`;
        if (line !== last) stream.write(line);
        last = line;
      }
      started = true;
    },
    stop() {
      if (started) bar?.stop();
    },
  };
}
