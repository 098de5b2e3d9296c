import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { intermediateTags, manifestKey, mapResultsPrefix, runPrefix, shardKey } from '../../functions/shared/run-layout.ts';

describe('run layout', () => {
  it('keeps a run under runs/<runId>/ and manifests outside it, so the trigger never writes into a run', () => {
    expect(shardKey('r1', 'abc')).toBe('runs/r1/shards/abc.arrow');
    expect(manifestKey('upload-1')).toBe('manifests/upload-1.json');
    expect(manifestKey('upload-1').startsWith('runs/')).toBe(false);
  });

  it('marks intermediates with the one tag the bucket lifecycle rule filters on', () => {
    expect(intermediateTags).toEqual({ 'featurize:intermediate': 'true' });
  });

  it('agrees with the prefix the state machine gives its ResultWriter', async () => {
    const asl = JSON.parse(await readFile(new URL('../../statemachine/featurize.asl.json', import.meta.url), 'utf8'));
    for (const state of ['Extract', 'ExtractManifest']) {
      const format: string = asl.States[state].ResultWriter.Parameters['Prefix.$'];
      // States.Format('{}runs/{}/map', $.output.prefix, $.runId), with the output prefix '' and run id r1:
      const template = /States\.Format\('\{\}(.*)', \$\.output\.prefix, \$\.runId\)/.exec(format)?.[1];
      expect(`${template?.replace('{}', 'r1')}/`).toBe(mapResultsPrefix('r1'));
      expect(mapResultsPrefix('r1').startsWith(runPrefix('r1'))).toBe(true);
    }
  });
});
