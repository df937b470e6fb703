/**
 * Issue 6's "done when" for storage: a real Likeness with STORAGE=s3 against the local S3 server
 * takes a character sheet to a ready LoRA. Every object (uploaded images, the prepared dataset,
 * the LoRA, samples) lands in the bucket, the GPU emulator reads the dataset through S3 presigned
 * URLs, and the LoRA download redirects to the bucket, not to /v1/storage.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, HAVE_FACES, facesForm, safetensorsHeader, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startS3TestServer, type S3TestServer } from './s3-server.fixture.js';

const BUCKET = 'likeness-lifecycle';
const PREFIX = 'install-1';

describe.skipIf(!HAVE_FACES)('LoRA lifecycle with STORAGE=s3', () => {
  let s3: S3TestServer;
  let h: Harness;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    await s3.createBucket(BUCKET);
    h = await startHarness({
      STORAGE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: BUCKET,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_PREFIX: PREFIX,
    });
  });
  afterAll(async () => {
    await h?.close();
    await s3?.close();
  });

  it('stores images, dataset and LoRA in the bucket and serves the LoRA from it', async () => {
    const admin = { token: ADMIN_TOKEN };
    const user = (await h.call('POST', '/v1/users', { ...admin, body: { name: 's3' } })).body as { id: string; token: string };
    await h.call('POST', `/v1/users/${user.id}/credits`, { ...admin, body: { amount: 100_000, reason: 'test' } });
    const character = (await h.call('POST', '/v1/characters', { token: user.token, body: { name: 'Amy' } })).body as { id: string };
    const up = await h.call('POST', `/v1/characters/${character.id}/images`, { token: user.token, form: await facesForm() });
    expect(up.status).toBe(201);
    const complete = await h.call('POST', `/v1/characters/${character.id}/character-sheet/complete`, { token: user.token });
    expect(complete.body.training?.started).toBe(true);
    const runId = complete.body.run.id as string;

    const ready = await waitFor('ready', async () => {
      const r = await h.call('GET', `/v1/training-runs/${runId}`, { token: user.token });
      if (r.body.status === 'failed') throw new Error(`run failed: ${r.body.error?.message}`);
      return r.body.status === 'ready' ? r.body : null;
    }, 45_000, 150);

    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys.some((k) => k.startsWith(`${PREFIX}/loras/${character.id}/${runId}/`) && k.endsWith('.safetensors'))).toBe(true);
    expect(keys.length).toBeGreaterThan(10); // 5 uploads + 5 dataset images + 5 captions + the LoRA, at least

    const dl = await h.call('GET', `/v1/lora-models/${ready.loraModelId}/download`, { token: user.token });
    expect(dl.status).toBe(302);
    const location = dl.headers.get('location')!;
    expect(location.startsWith(`${s3.endpoint}/${BUCKET}/${PREFIX}/loras/`)).toBe(true);
    const file = Buffer.from(await (await fetch(location)).arrayBuffer());
    expect(safetensorsHeader(file).metadata.ss_base_model_version).toBe('zimage');
  });
});
