/** A pass-through stream that counts bytes and hashes them (sha256) as they go to a store. */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export function hashingMeter(): { stream: Transform; result(): { size: number; sha256: string } } {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { stream, result: () => ({ size, sha256: hash.digest('hex') }) };
}
