/**
 * The S3 store against a real S3-compatible server started here (moto_server, else s3rver; see
 * s3-server.fixture.ts): the shared ObjectStore contract, then what only S3 has: the key prefix,
 * multipart uploads, the SHA-256 checksums sent with uploads, the presign limit, and the bucket check.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultChecksums, MAX_PRESIGN_SECONDS, S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/s3.store.js';
import { objectStoreContract, streamOf } from './object-store.contract.js';
import { startS3TestServer, type S3TestServer } from './s3-server.fixture.js';

let serverPromise: Promise<S3TestServer> | null = null;
const server = () => (serverPromise ??= startS3TestServer());
let buckets = 0;

async function newStore(over: Partial<S3ObjectStoreOptions> = {}): Promise<{ store: S3ObjectStore; s: S3TestServer }> {
  const s = await server();
  const bucket = `likeness-test-${process.pid}-${++buckets}`;
  await s.createBucket(bucket);
  const store = new S3ObjectStore({
    endpoint: s.endpoint,
    region: s.region,
    bucket,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    forcePathStyle: true,
    checksums: s.storesChecksums,
    ...over,
  });
  return { store, s };
}

afterAll(async () => {
  if (serverPromise) await (await serverPromise).close();
});

objectStoreContract('S3', async () => {
  const { store } = await newStore();
  return { store, close: async () => store.destroy() };
});

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

describe('S3ObjectStore, S3 specifics', () => {
  let store: S3ObjectStore;
  let s: S3TestServer;
  beforeAll(async () => {
    ({ store, s } = await newStore({ prefix: '/likeness/test/' }));
    console.info(`S3 store tests run against ${s.kind} at ${s.endpoint}`);
  });
  afterAll(() => store?.destroy());

  it('stores keys under the prefix, and presigned URLs point there', async () => {
    await store.put('characters/c1/a.txt', Buffer.from('prefixed'));
    const raw = await s.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: 'likeness/test/characters/c1/a.txt' }));
    expect(raw.ContentLength).toBe(8);
    expect(await store.presign('characters/c1/a.txt', 'GET', 60)).toContain(`/${store.bucket}/likeness/test/characters/c1/a.txt?`);
  });

  it('uploads a stream in 8 MiB parts (multipart: the ETag counts the parts)', async (ctx) => {
    if (!s.multipartEtags) ctx.skip(); // s3rver stores multipart uploads with a plain MD5 ETag.
    const src = streamOf(20 * 1024 * 1024, 3);
    await store.put('big/multipart.bin', src.stream);
    const raw = await s.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: store.objectKey('big/multipart.bin') }));
    expect(raw.ETag).toMatch(/-3"?$/);
  });

  it('sends the SHA-256 with uploads, so the server stores the same checksum', async (ctx) => {
    if (!s.storesChecksums) ctx.skip(); // s3rver keeps no checksums; moto does, as AWS, R2 and MinIO do.
    const bytes = Buffer.from('checksummed bytes');
    const stored = await store.put('sums/one.bin', bytes);
    expect(stored.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const one = await s.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: store.objectKey('sums/one.bin'), ChecksumMode: 'ENABLED' }));
    expect(one.ChecksumSHA256).toBe(b64(stored.sha256));

    // Multipart: S3 keeps the SHA-256 of the parts' SHA-256s (AWS appends "-<parts>", moto does
    // not), which exists only if each 8 MiB part carried its checksum.
    const parts = [Buffer.alloc(8 * 1024 * 1024, 1), Buffer.alloc(4 * 1024 * 1024, 2)];
    const whole = await store.put('sums/multi.bin', Readable.from(parts));
    expect(whole.sha256).toBe(createHash('sha256').update(Buffer.concat(parts)).digest('hex'));
    const composite = createHash('sha256')
      .update(Buffer.concat(parts.map((p) => createHash('sha256').update(p).digest())))
      .digest('base64');
    const multi = await s.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: store.objectKey('sums/multi.bin'), ChecksumMode: 'ENABLED' }));
    expect(multi.ChecksumSHA256?.replace(/-\d+$/, '')).toBe(composite);
  });

  it('with checksums off, uploads carry none (Bunny)', async (ctx) => {
    if (!s.storesChecksums) ctx.skip();
    const { store: plain } = await newStore({ checksums: false });
    await plain.put('x/plain.bin', Buffer.from('no checksum'));
    const raw = await s.client.send(new HeadObjectCommand({ Bucket: plain.bucket, Key: 'x/plain.bin', ChecksumMode: 'ENABLED' }));
    expect(raw.ChecksumSHA256).toBeUndefined();
    plain.destroy();
  });

  it('refuses a presign longer than SigV4 allows', async () => {
    await expect(store.presign('a/b.bin', 'GET', MAX_PRESIGN_SECONDS + 1)).rejects.toThrow(RangeError);
    await expect(store.presign('a/b.bin', 'PUT', MAX_PRESIGN_SECONDS)).resolves.toMatch(/X-Amz-Expires=604800/);
  });

  it('checkBucket passes for the bucket and names a missing one; errors never contain the secret', async () => {
    await expect(store.checkBucket()).resolves.toBeUndefined();
    const secret = s.secretAccessKey;
    const missing = new S3ObjectStore({
      endpoint: s.endpoint,
      region: s.region,
      bucket: 'no-such-bucket-here',
      accessKeyId: s.accessKeyId,
      secretAccessKey: secret,
      forcePathStyle: true,
    });
    const err = await missing.checkBucket().then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/S3 bucket "no-such-bucket-here" does not exist/);
    const putErr = await missing.put('a/b.txt', Buffer.from('x')).then(() => null, (e: Error) => e);
    expect(putErr?.message).toMatch(/S3 PUT s3:\/\/no-such-bucket-here\/a\/b\.txt failed/);
    for (const e of [err, putErr]) expect(e?.message).not.toContain(secret);
    missing.destroy();
  });
});

describe('defaultChecksums', () => {
  it('is on for AWS, R2 and MinIO, off for Bunny', () => {
    expect(defaultChecksums(undefined)).toBe(true);
    expect(defaultChecksums('https://abc123.r2.cloudflarestorage.com')).toBe(true);
    expect(defaultChecksums('http://minio:9000')).toBe(true);
    expect(defaultChecksums('https://de-s3.storage.bunnycdn.com')).toBe(false);
  });
});
