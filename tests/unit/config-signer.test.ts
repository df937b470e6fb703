import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/config.js';
import { UrlSigner } from '../../src/storage/url-signer.js';
import { isSafeKey } from '../../src/storage/object-key.js';

describe('configuration', () => {
  it('defaults to the emulator, port 8080 and ./data', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.training.backend).toBe('emulator');
    expect(c.images.minSide).toBe(512);
    expect(c.prices['zimage-turbo']).toEqual({ base: 15_000, perImage: 1_000 });
  });
  it('names the variable in a bad value, without echoing secrets', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ LIKENESS_MIN_IMAGE_SIDE: '-3' })).toThrow(/LIKENESS_MIN_IMAGE_SIDE/);
    try {
      loadConfig({ LIKENESS_ADMIN_TOKEN: 'short-secret' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/LIKENESS_ADMIN_TOKEN/);
      expect((err as Error).message).not.toContain('short-secret');
    }
  });
  it('requires the RunPod key when RunPod is chosen, and reads price overrides', () => {
    expect(() => loadConfig({ LIKENESS_TRAINING_BACKEND: 'runpod' })).toThrow(/RUNPOD_API_KEY/);
    const c = loadConfig({ LIKENESS_PRICES: '{"flux-dev":{"base":1,"perImage":2}}' });
    expect(c.prices['flux-dev']).toEqual({ base: 1, perImage: 2 });
    expect(c.prices['zimage-turbo'].base).toBe(15_000);
    expect(() => loadConfig({ LIKENESS_PRICES: '{"flux-dev":1}' })).toThrow(/LIKENESS_PRICES/);
  });
});

describe('signed URLs', () => {
  const secret = 'x'.repeat(40);
  it('verify for the same method and key until they expire', () => {
    let now = 1_000_000_000_000;
    const s = new UrlSigner(secret, () => now);
    const q = Object.fromEntries(new URLSearchParams(s.sign('GET', 'runs/a/b.jpg', 60)));
    expect(s.verify('GET', 'runs/a/b.jpg', q)).toBe('ok');
    expect(s.verify('PUT', 'runs/a/b.jpg', q)).toBe('invalid');
    expect(s.verify('GET', 'runs/a/c.jpg', q)).toBe('invalid');
    expect(s.verify('GET', 'runs/a/b.jpg', { ...q, expires: String(Number(q.expires) + 3600) })).toBe('invalid');
    now += 61_000;
    expect(s.verify('GET', 'runs/a/b.jpg', q)).toBe('expired');
  });
  it('refuse a tampered signature and another secret', () => {
    const s = new UrlSigner(secret);
    const q = Object.fromEntries(new URLSearchParams(s.sign('GET', 'k', 60)));
    expect(s.verify('GET', 'k', { ...q, sig: q.sig!.replace(/.$/, q.sig!.endsWith('A') ? 'B' : 'A') })).toBe('invalid');
    expect(new UrlSigner('y'.repeat(40)).verify('GET', 'k', q)).toBe('invalid');
  });
  it('only accept keys from the safe alphabet', () => {
    expect(isSafeKey('characters/abc/images/x.jpg')).toBe(true);
    expect(isSafeKey('../etc/passwd')).toBe(false);
    expect(isSafeKey('a/../b')).toBe(false);
    expect(isSafeKey('/abs')).toBe(false);
    expect(isSafeKey('a b')).toBe(false);
  });
});
