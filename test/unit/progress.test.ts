import { afterEach, describe, expect, it, vi } from 'vitest';
import { startProgress } from '../../cli/progress.ts';

/** A terminal (or a pipe) that keeps what is written to it. */
function stream(isTTY: boolean) {
  const written: string[] = [];
  const fake = {
    isTTY,
    columns: 160,
    write: (text: string) => written.push(text) > 0,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
    clearScreenDown: () => true,
    on: () => fake,
    removeListener: () => fake,
  };
  return { stream: fake as unknown as NodeJS.WriteStream, text: () => written.join('') };
}

const batch = (items: number, failures: number) => ({
  items,
  status: 'SUCCEEDED' as const,
  output: { items, vectors: items - failures, failures },
});

afterEach(() => {
  vi.useRealTimers();
});

describe('run progress', () => {
  it('draws a bar on a terminal: images done of the total, failures (bad images and failed batches)', () => {
    const terminal = stream(true);
    const progress = startProgress(terminal.stream);
    progress.mapRunStarted!({ mapRunArn: 'arn', items: 120, batches: 3 });
    progress.childFinished!(batch(50, 2));
    progress.childFinished!({ items: 50, status: 'FAILED', error: { Error: 'StorageUnavailableError', Cause: '' } });
    progress.stop();
    expect(terminal.text()).toMatch(/extracting .* 100\/120 images \| [\d.]+ images\/s \| 52 failed/);
  });

  it('writes a plain line every few seconds when there is news and the output is not a terminal, and a last one at the end', () => {
    vi.useFakeTimers();
    const pipe = stream(false);
    const progress = startProgress(pipe.stream);
    progress.mapRunStarted!({ mapRunArn: 'arn', items: 90, batches: 2 });
    progress.childFinished!(batch(45, 1));
    expect(pipe.text()).toBe('');
    vi.advanceTimersByTime(5000);
    expect(pipe.text()).toMatch(/^featurize: 45\/90 images, [\d.]+ images\/s, 1 failed\n$/);
    vi.advanceTimersByTime(5000);
    expect(pipe.text().split('\n').filter(Boolean)).toHaveLength(1);
    progress.childFinished!(batch(45, 0));
    progress.stop();
    const lines = pipe.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^featurize: 90\/90 images, [\d.]+ images\/s, 1 failed$/);
    expect(pipe.text()).not.toContain('\x1B');
  });
});
