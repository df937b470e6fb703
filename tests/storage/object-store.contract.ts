/**
 * The ObjectStore contract, one suite run against every implementation (local folder, S3), so the
 * pipeline can rely on the same behaviour whichever STORAGE is configured: what put returns, what
 * a missing key does, that a big stream is stored whole, that presigned URLs work with plain
 * fetch (what a GPU provider does with them). Signature tampering and expiry are the signer's own
 * unit tests (tests/unit) and real S3's job: none of the local S3 servers checks them.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../src/storage/object-store.js';

export interface StoreUnderTest {
  store: ObjectStore;
  close(): Promise<void>;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Deterministic, incompressible bytes, produced in 1 MiB chunks so the store sees a real stream. */
export function streamOf(totalBytes: number, seed = 1): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  let state = seed;
  const stream = new Readable({
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const n = Math.min(1024 * 1024, totalBytes - produced);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        chunk.writeUInt32LE(state, i);
      }
      hash.update(chunk);
      produced += n;
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

let unique = 0;
const keyFor = (what: string) => `contract/${process.pid}-${Date.now()}-${++unique}/${what}`;

export function objectStoreContract(name: string, setup: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    beforeAll(async () => {
      sut = await setup();
    });
    afterAll(async () => {
      await sut?.close();
    });

    it('put returns the size and SHA-256 of the bytes; head and get give them back', async () => {
      const key = keyFor('image.jpg');
      const bytes = Buffer.from('not really a jpeg, but bytes all the same \u00e9\u00e8');
      const stored = await sut.store.put(key, bytes, 'image/jpeg');
      expect(stored).toEqual({ key, size: bytes.length, sha256: sha256(bytes) });
      expect(await sut.store.head(key)).toEqual({ size: bytes.length });
      expect(await readAll(await sut.store.get(key))).toEqual(bytes);
    });

    it('a second put replaces the object', async () => {
      const key = keyFor('caption.txt');
      await sut.store.put(key, Buffer.from('first version'));
      const second = Buffer.from('second');
      await sut.store.put(key, second, 'text/plain');
      expect(await sut.store.head(key)).toEqual({ size: second.length });
      expect((await readAll(await sut.store.get(key))).toString()).toBe('second');
    });

    it('stores a 20 MB stream whole and returns its SHA-256', async () => {
      const key = keyFor('lora.safetensors');
      const total = 20 * 1024 * 1024;
      const source = streamOf(total, 7);
      const stored = await sut.store.put(key, source.stream, 'application/octet-stream');
      const expected = source.sha256();
      expect(stored).toEqual({ key, size: total, sha256: expected });
      expect(await sut.store.head(key)).toEqual({ size: total });
      const back = await readAll(await sut.store.get(key));
      expect(back.length).toBe(total);
      expect(sha256(back)).toBe(expected);
    });

    it('stores empty objects, from a Buffer and from a stream', async () => {
      const empty = sha256(Buffer.alloc(0));
      const a = keyFor('empty-a.txt');
      const b = keyFor('empty-b.txt');
      expect(await sut.store.put(a, Buffer.alloc(0))).toEqual({ key: a, size: 0, sha256: empty });
      expect(await sut.store.put(b, Readable.from([]))).toEqual({ key: b, size: 0, sha256: empty });
      expect(await sut.store.head(b)).toEqual({ size: 0 });
      expect((await readAll(await sut.store.get(b))).length).toBe(0);
    });

    it('a failing source stream rejects put and leaves nothing under the key', async () => {
      const key = keyFor('broken.bin');
      let sent = 0;
      const failing = new Readable({
        read() {
          if (sent >= 2) {
            this.destroy(new Error('source broke mid-way'));
            return;
          }
          sent += 1;
          this.push(Buffer.alloc(64 * 1024, sent));
        },
      });
      await expect(sut.store.put(key, failing)).rejects.toThrow(/source broke mid-way/);
      expect(await sut.store.head(key)).toBeNull();
    });

    it('a missing key: head is null, get rejects with ENOENT naming the key', async () => {
      const key = keyFor('missing.bin');
      expect(await sut.store.head(key)).toBeNull();
      const err = await sut.store.get(key).then(
        () => null,
        (e: unknown) => e as NodeJS.ErrnoException,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err?.code).toBe('ENOENT');
      expect(err?.message).toContain(key);
    });

    it('delete removes the object and is idempotent', async () => {
      const key = keyFor('gone.bin');
      await sut.store.put(key, Buffer.from('to be deleted'));
      await sut.store.delete(key);
      expect(await sut.store.head(key)).toBeNull();
      await expect(sut.store.get(key)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(sut.store.delete(key)).resolves.toBeUndefined();
    });

    it('a presigned GET URL serves the bytes to plain fetch', async () => {
      const key = keyFor('dataset/img_001.jpg');
      const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
      await sut.store.put(key, bytes, 'image/jpeg');
      const url = await sut.store.presign(key, 'GET', 300);
      expect(url).toMatch(/^https?:\/\//);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    });

    it('a presigned PUT URL stores what plain fetch sends, readable through the store', async () => {
      const key = keyFor('outputs/lora_000000100.safetensors');
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
      const url = await sut.store.presign(key, 'PUT', 300);
      const res = await fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
      await res.body?.cancel();
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
      expect(await sut.store.head(key)).toEqual({ size: bytes.length });
      expect(sha256(await readAll(await sut.store.get(key)))).toBe(sha256(bytes));
    });

    it('refuses keys outside the safe alphabet before touching the store', async () => {
      await expect(sut.store.put('../escape.txt', Buffer.from('x'))).rejects.toThrow(/unsafe object key/);
      await expect(sut.store.get('a/../../b')).rejects.toThrow(/unsafe object key/);
      await expect(sut.store.presign('/abs', 'GET', 60)).rejects.toThrow(/unsafe object key/);
    });
  });
}
