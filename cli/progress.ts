/**
 * Progress of a run's Map Run, for the person at the terminal: on a TTY a progress bar (images done of the
 * total, images/s, failures); otherwise (CI, a log file) one plain line every few seconds.
 */
import { SingleBar } from 'cli-progress';
import type { ExtractBatchResult } from '../statemachine/contracts.ts';
import type { ChildOutcome, MapRunObserver } from '../statemachine/local/distributed-map.ts';

const lineIntervalMs = 5000;

export interface Progress extends MapRunObserver {
  /** Leaves the terminal clean for what follows. */
  stop(): void;
}

export function startProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let total = 0;
  let done = 0;
  let failures = 0;
  let started = 0;
  const rate = () => (done / Math.max((performance.now() - started) / 1000, 0.001)).toFixed(1);
  const bar = stream.isTTY
    ? new SingleBar({
        stream,
        format: 'extracting {bar} {value}/{total} images | {rate} images/s | {failures} failed | ETA {eta_formatted}',
        hideCursor: true,
      })
    : undefined;
  let timer: NodeJS.Timeout | undefined;
  let written = -1;
  // A line only when there is news: the last one is not repeated at the end.
  const line = () => {
    if (done === written) return;
    written = done;
    stream.write(`featurize: ${done}/${total} images, ${rate()} images/s, ${failures} failed\n`);
  };

  return {
    mapRunStarted(run) {
      total = run.items;
      started = performance.now();
      if (bar) bar.start(total, 0, { rate: '0.0', failures: 0 });
      else timer = setInterval(line, lineIntervalMs).unref();
    },
    childFinished(child: ChildOutcome) {
      done += child.items;
      // A failed batch's images all failed; a finished batch reports its bad images.
      failures += child.status === 'FAILED' ? child.items : ((child.output as unknown as ExtractBatchResult).failures ?? 0);
      bar?.update(done, { rate: rate(), failures });
    },
    stop() {
      if (bar) bar.stop();
      if (timer) {
        clearInterval(timer);
        line();
      }
    },
  };
}
