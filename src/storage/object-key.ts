/**
 * Object keys are built by the product, never from user-supplied file names: `a/b/c.ext` with
 * each segment from a safe alphabet. Anything else is refused before it reaches a file system.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeKey(key: string): boolean {
  const parts = key.split('/');
  return parts.length > 0 && parts.length <= 8 && parts.every((p) => SEGMENT.test(p) && p !== '..' && !p.includes('..'));
}

export function assertSafeKey(key: string): void {
  if (!isSafeKey(key)) throw new Error(`unsafe object key: ${JSON.stringify(key)}`);
}
