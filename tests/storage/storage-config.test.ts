/** STORAGE and S3_* variables, and the factory that turns them into a store. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createObjectStore, describeObjectStore } from '../../src/storage/object-store.factory.js';
import { LocalObjectStore } from '../../src/storage/local.store.js';
import { S3ObjectStore } from '../../src/storage/s3.store.js';
import { UrlSigner } from '../../src/storage/url-signer.js';

const deps = { signer: new UrlSigner('k'.repeat(40)), baseUrl: () => 'http://127.0.0.1:1' };
const SECRET = 'wJalrXUtnFEMI-very-secret-value';
const s3Env = {
  STORAGE: 's3',
  S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com/',
  S3_REGION: 'auto',
  S3_BUCKET: 'likeness',
  S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  S3_SECRET_ACCESS_KEY: SECRET,
};

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('storage configuration', () => {
  it('defaults to the local folder store', () => {
    const c = loadConfig({ LIKENESS_DATA_DIR: '/tmp/likeness-cfg' });
    expect(c.storage).toEqual({ kind: 'local' });
    const store = createObjectStore(c, deps);
    expect(store).toBeInstanceOf(LocalObjectStore);
    expect(describeObjectStore(c)).toBe('local folder /tmp/likeness-cfg/objects');
  });

  it('reads the S3 variables with their defaults and builds an S3 store', () => {
    const c = loadConfig({ ...s3Env, S3_PREFIX: 'prod/likeness/' });
    expect(c.storage).toEqual({
      kind: 's3',
      endpoint: 'https://acct.r2.cloudflarestorage.com',
      region: 'auto',
      bucket: 'likeness',
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: SECRET,
      forcePathStyle: true,
      prefix: 'prod/likeness',
    });
    const store = createObjectStore(c, deps);
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.kind).toBe('s3');
    (store as S3ObjectStore).destroy();
    expect(describeObjectStore(c)).not.toContain(SECRET);
    const aws = loadConfig({ STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'a', S3_SECRET_ACCESS_KEY: 's', S3_FORCE_PATH_STYLE: 'false' });
    expect(aws.storage).toMatchObject({ kind: 's3', endpoint: undefined, region: 'us-east-1', forcePathStyle: false, prefix: undefined });
  });

  it('names every missing S3 variable, never the secret', () => {
    expect(configError({ STORAGE: 's3' })).toBe(
      'Invalid configuration: S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required when STORAGE=s3.',
    );
    const msg = configError({ STORAGE: 's3', S3_SECRET_ACCESS_KEY: SECRET, S3_ACCESS_KEY_ID: 'a' });
    expect(msg).toBe('Invalid configuration: S3_BUCKET is required when STORAGE=s3.');
    expect(configError({ ...s3Env, S3_ENDPOINT: `not a url ${SECRET}` })).toMatch(/S3_ENDPOINT/);
    expect(configError({ ...s3Env, S3_ENDPOINT: `not a url ${SECRET}` })).not.toContain(SECRET);
    expect(configError({ ...s3Env, STORAGE: 'gcs' })).toMatch(/STORAGE/);
    expect(configError({ ...s3Env, S3_PREFIX: '../up' })).toMatch(/S3_PREFIX/);
  });

  it('ignores S3 variables while STORAGE is local', () => {
    expect(loadConfig({ S3_BUCKET: 'b' }).storage).toEqual({ kind: 'local' });
  });
});
