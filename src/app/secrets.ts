/**
 * Secrets the product needs on first start without asking: the URL-signing secret and, when
 * LIKENESS_ADMIN_TOKEN (or LIKENESS_WEBHOOK_SECRET with webhooks on) is unset, an admin token (a
 * webhook signing secret). Each is generated once, kept in the data dir
 * (mode 600) and reused, so signed URLs and the platform's token survive restarts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function persistedSecret(dataDir: string, name: string, make: () => string): Promise<{ value: string; created: boolean }> {
  const file = path.join(dataDir, 'secrets', name);
  try {
    const value = (await readFile(file, 'utf8')).trim();
    if (value) return { value, created: false };
  } catch {
    // first start
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = make();
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const stored = (await readFile(file, 'utf8')).trim();
  return { value: stored, created: stored === value };
}

export const randomSecret = (prefix = '') => `${prefix}${randomBytes(32).toString('base64url')}`;

/** A signing secret in the Standard Webhooks form the platform's verifier expects: whsec_ + base64 of 32 bytes. */
export const randomWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
