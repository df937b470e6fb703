/**
 * HMAC-signed, expiring URLs for the local object store, served by the API at /v1/storage/*.
 * The signature covers the method, the key and the expiry, so a URL cannot be re-targeted at
 * another object, used for another verb, or extended.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** GET/PUT: object-store URLs; POST: provider webhook URLs (api/routes/provider-webhooks.routes.ts). */
export type SignedMethod = 'GET' | 'PUT' | 'POST';

export class UrlSigner {
  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {
    if (secret.length < 32) throw new Error('signing secret must be at least 32 characters');
  }

  private mac(method: SignedMethod, key: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${method}\n${key}\n${expires}`).digest('base64url');
  }

  /** Query string (without '?') authorising `method` on `key` for `ttlSeconds`. */
  sign(method: SignedMethod, key: string, ttlSeconds: number): string {
    const expires = Math.floor(this.now() / 1000) + Math.max(1, Math.floor(ttlSeconds));
    return `method=${method}&expires=${expires}&sig=${this.mac(method, key, expires)}`;
  }

  verify(
    method: string,
    key: string,
    query: { method?: string; expires?: string; sig?: string },
  ): 'ok' | 'expired' | 'invalid' {
    if (query.method !== method || !query.expires || !query.sig) return 'invalid';
    const expires = Number(query.expires);
    if (!Number.isInteger(expires)) return 'invalid';
    const expected = Buffer.from(this.mac(method as SignedMethod, key, expires));
    const given = Buffer.from(query.sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    if (expires < Math.floor(this.now() / 1000)) return 'expired';
    return 'ok';
  }
}
