import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  failuresKey,
  featuresPrefix,
  intermediatePrefix,
  manifestKey,
  mapResultsPrefix,
  reportKey,
  shardKey,
} from '../../functions/shared/run-layout.ts';

describe('run layout', () => {
  it('puts every intermediate object under the one prefix the lifecycle rule expires', () => {
    expect(shardKey('r1', 'abc')).toBe('tmp/r1/shards/abc.arrow');
    expect(mapResultsPrefix('r1')).toBe('tmp/r1/map/');
    for (const key of [shardKey('r1', 'abc'), mapResultsPrefix('r1')]) expect(key.startsWith(intermediatePrefix)).toBe(true);
  });

  it('keeps the dataset, failures, reports and manifests outside the expiring prefix', () => {
    for (const key of [`${featuresPrefix}part-00000.parquet`, failuresKey('r1'), reportKey('r1'), manifestKey('upload-1')]) {
      expect(key.startsWith(intermediatePrefix), key).toBe(false);
    }
  });

  it('agrees with the prefix the state machine gives its ResultWriter', async () => {
    const asl = JSON.parse(await readFile(new URL('../../statemachine/featurize.asl.json', import.meta.url), 'utf8'));
    for (const state of ['Extract', 'ExtractManifest']) {
      const format: string = asl.States[state].ResultWriter.Parameters['Prefix.$'];
      // States.Format('{}tmp/{}/map', $.output.prefix, $.runId) with the output prefix '' and run id r1:
      const template = /States\.Format\('\{\}(.*)', \$\.output\.prefix, \$\.runId\)/.exec(format)?.[1];
      expect(`${template?.replace('{}', 'r1')}/`).toBe(mapResultsPrefix('r1'));
    }
  });
});
