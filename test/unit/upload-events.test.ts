import { describe, expect, it } from 'vitest';
import { runIdPattern } from '../../functions/shared/run-layout.ts';
import { dedupeUploads, executionNameFor, parseUpload, type Upload } from '../../functions/trigger/start-run.ts';
import fixture from '../events/upload-batch.json' with { type: 'json' };

const input = { bucket: 'fruits', prefix: 'images/' };
const body = (key: string, extra: Record<string, unknown> = {}, bucket = 'fruits') =>
  JSON.stringify({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    time: '2026-11-25T15:10:40Z',
    detail: { bucket: { name: bucket }, object: { key, size: 10, etag: 'e1', ...extra } },
  });

describe('upload events', () => {
  it('takes the key of an EventBridge event verbatim: spaces, plus signs and non-ASCII are not decoded', () => {
    const keys = fixture.Records.slice(0, 3).map((record) => parseUpload(record.body, input)?.key);
    expect(keys).toEqual(['images/Apple Red 1/r_1 copy.jpg', 'images/Lemon/c++ lemon+1.jpg', 'images/Kiwi/kiwï ü 猕猴桃.jpg']);
  });

  it('refuses events outside the input bucket or prefix, and other shapes, with a reason', () => {
    expect(() => parseUpload(body('datasets/mobilenet-v2/features/part-00000.parquet'), input)).toThrow(/outside the input/);
    expect(() => parseUpload(body('images/a.jpg', {}, 'other'), input)).toThrow(/outside the input/);
    expect(() => parseUpload(fixture.Records[5]!.body, input)).toThrow(/not an S3 Object Created event/);
    expect(() => parseUpload('{', input)).toThrow(/not JSON/);
  });

  it('skips folder markers (zero bytes, key ending in /) but keeps an empty image', () => {
    expect(parseUpload(body('images/Kiwi/', { size: 0 }), input)).toBeNull();
    expect(parseUpload(body('images/Kiwi/empty.jpg', { size: 0 }), input)).toMatchObject({ key: 'images/Kiwi/empty.jpg', size: 0 });
  });

  it('keeps the latest write of a key, comparing sequencers of different lengths as numbers', () => {
    const write = (etag: string, sequencer: string): Upload => ({ key: 'images/a.jpg', etag, sequencer, time: '2026-11-25T15:10:40Z' });
    expect(dedupeUploads([write('new', '0062E99A88DC4074A0'), write('old', '62E99A88DC40749F')])).toEqual([
      write('new', '0062E99A88DC4074A0'),
    ]);
    expect(dedupeUploads([write('old', '0062E99A88DC407401'), write('new', '0062E99A88DC407402')])[0]?.etag).toBe('new');
  });

  it('names a batch from its content: same uploads, same name; new content, new name; a valid run id', () => {
    const a: Upload = { key: 'images/a.jpg', etag: '1', time: '2026-11-25T15:10:41.123Z' };
    const b: Upload = { key: 'images/b.jpg', etag: '2', time: '2026-11-25T15:10:40Z' };
    const name = executionNameFor([a, b]);
    expect(name).toMatch(/^upload-20261125T151040Z-[0-9a-f]{24}$/);
    expect(name).toMatch(runIdPattern);
    expect(executionNameFor([b, a, b])).toBe(name);
    expect(executionNameFor([a, { ...b, etag: '3' }])).not.toBe(name);
  });
});
