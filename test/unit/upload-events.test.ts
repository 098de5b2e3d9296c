import { describe, expect, it } from 'vitest';
import { runIdPattern } from '../../functions/shared/run-layout.ts';
import { formDecode, type HeadObject, resolveEventKey } from '../../functions/trigger/event-keys.ts';
import { dedupeUploads, executionNameFor, parseUpload, resolveUploads, type Upload } from '../../functions/trigger/start-run.ts';
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

  it('accepts a key under the input prefix in either spelling: as uploaded or URL-encoded', () => {
    const spaced = { bucket: 'fruits', prefix: 'my images/' };
    expect(parseUpload(body('my+images/Kiwi/k.jpg'), spaced).key).toBe('my+images/Kiwi/k.jpg');
    expect(parseUpload(body('my images/Kiwi/k.jpg'), spaced).key).toBe('my images/Kiwi/k.jpg');
  });

  it('skips hidden files and folders and folder markers, by the shared rule, judged below the input prefix', async () => {
    // Every key exists as given: no lookup is needed to resolve them.
    const head: HeadObject = async () => ({});
    const upload = (key: string, size = 10): Upload => ({ key, size, time: '2026-11-25T15:10:40Z' });
    const batch = await resolveUploads(
      [
        upload('images/Kiwi/', 0),
        upload('images/', 0),
        upload('images/Kiwi/.DS_Store'),
        upload('images/.cache/Kiwi/k.jpg'),
        upload('images/Kiwi/empty.jpg', 0),
        upload('images/Kiwi/k.jpg'),
      ],
      'images/',
      head,
    );
    expect(batch.skipped).toEqual([
      { key: 'images/', reason: 'FOLDER_MARKER' },
      { key: 'images/.cache/Kiwi/k.jpg', reason: 'HIDDEN' },
      { key: 'images/Kiwi/', reason: 'FOLDER_MARKER' },
      { key: 'images/Kiwi/.DS_Store', reason: 'HIDDEN' },
    ]);
    // An empty image is no folder marker: the run records it as EMPTY.
    expect(batch.uploads.map((u) => u.key)).toEqual(['images/Kiwi/empty.jpg', 'images/Kiwi/k.jpg']);
    // A hidden folder above the input is the user's choice of input, not a reason to skip.
    const hiddenInput = await resolveUploads([upload('.staging/images/Kiwi/k.jpg')], '.staging/images/', head);
    expect(hiddenInput).toMatchObject({ skipped: [], uploads: [{ key: '.staging/images/Kiwi/k.jpg' }] });
  });

  it('form-decodes as Python unquote_plus does, leaving a stray % as it is', () => {
    expect(formDecode('red+flower.jpg')).toBe('red flower.jpg');
    expect(formDecode('c%2B%2B+lemon%2B1.jpg')).toBe('c++ lemon+1.jpg');
    expect(formDecode('kiw%C3%AF+%C3%BC+%E7%8C%95%E7%8C%B4%E6%A1%83.jpg')).toBe('kiwï ü 猕猴桃.jpg');
    expect(formDecode('100%.jpg')).toBe('100%.jpg');
    expect(formDecode('100%25+pear.jpg')).toBe('100% pear.jpg');
  });

  it('resolves an event key as given when that object exists, else form-decoded, else keeps it as given', async () => {
    const objects = new Map([
      ['images/a b.jpg', 'e-space'],
      ['images/a+b.jpg', 'e-plus'],
      ['images/c d.jpg', 'e-cd'],
    ]);
    const asked: string[] = [];
    const head: HeadObject = async (key) => {
      asked.push(key);
      return objects.has(key) ? { etag: objects.get(key) } : undefined;
    };
    // Nothing to decode: no lookup.
    expect(await resolveEventKey('images/plain.jpg', 'x', head)).toEqual({ key: 'images/plain.jpg', spelling: 'as-given' });
    expect(asked).toEqual([]);
    expect(await resolveEventKey('images/c+d.jpg', 'e-cd', head)).toEqual({ key: 'images/c d.jpg', spelling: 'form-decoded' });
    // Both spellings name an object: the event's ETag says which was uploaded; without one, the key as given.
    expect(await resolveEventKey('images/a+b.jpg', 'e-plus', head)).toEqual({ key: 'images/a+b.jpg', spelling: 'as-given' });
    expect(await resolveEventKey('images/a+b.jpg', '"e-space"', head)).toEqual({ key: 'images/a b.jpg', spelling: 'form-decoded' });
    expect(await resolveEventKey('images/a+b.jpg', undefined, head)).toEqual({ key: 'images/a+b.jpg', spelling: 'as-given' });
    // Overwritten since the event: the object that exists is still the one meant.
    expect(await resolveEventKey('images/c+d.jpg', 'older', head)).toEqual({ key: 'images/c d.jpg', spelling: 'form-decoded' });
    expect(await resolveEventKey('images/gone+now.jpg', 'x', head)).toEqual({ key: 'images/gone+now.jpg', spelling: 'not-found' });
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
