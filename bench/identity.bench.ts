/**
 * Identity engine throughput on this machine: faces per second for detect + align + embed (all
 * workers busy), with and without the mirror-averaged embedding, and dataset checks per second on
 * 1024 px images; plus the CPU time per image of a single worker, which (unlike the rates) does not
 * depend on what else the machine is running. Uses ../shared/data/faces-bbt; returns no rows (and
 * says why) without it.
 * Rows are {name, value, unit}, printed by `npm run bench`; runnable alone:
 *   npx tsx bench/identity.bench.ts
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { checkDataset, createIdentityEngine } from '../src/identity/index.js';
import type { IdentityEngine } from '../src/identity/index.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const FACES = path.resolve(here, '../../shared/data/faces-bbt');

async function crops(): Promise<Buffer[]> {
  const dir = path.join(FACES, 'identities');
  const files = readdirSync(dir).flatMap((p) => readdirSync(path.join(dir, p)).map((f) => path.join(dir, p, f)));
  return Promise.all(files.map((f) => readFile(f)));
}

/** Analyses every image `rounds` times after one warm-up round; faces found per second. */
async function facesPerSecond(engine: IdentityEngine, images: Buffer[], rounds: number): Promise<number> {
  await Promise.all(images.map((b) => engine.analyze(b)));
  const start = performance.now();
  let faces = 0;
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.all(images.map((b) => engine.analyze(b)));
    faces += results.reduce((n, a) => n + a.faces.length, 0);
  }
  return Math.round((faces / ((performance.now() - start) / 1000)) * 10) / 10;
}

/**
 * Process CPU time per image with one worker, after a warm-up pass. The main thread only queues
 * work, so this is the worker's cost (plus sharp's decode threads): 1000 / value is the faces/s
 * one free core can sustain on these single-face crops.
 */
async function cpuMsPerImage(images: Buffer[], rounds: number): Promise<number> {
  const engine = await createIdentityEngine({ workers: 1 });
  try {
    await Promise.all(images.map((b) => engine.analyze(b)));
    const before = process.cpuUsage();
    for (let r = 0; r < rounds; r++) await Promise.all(images.map((b) => engine.analyze(b)));
    const used = process.cpuUsage(before);
    return Math.round(((used.user + used.system) / 1000 / (images.length * rounds)) * 10) / 10;
  } finally {
    await engine.close();
  }
}

export async function runIdentityBench(opts: { quick?: boolean } = {}): Promise<BenchRow[]> {
  if (!existsSync(FACES)) {
    console.warn(`identity bench skipped: ${FACES} is absent`);
    return [];
  }
  const rows: BenchRow[] = [];
  const images = await crops();
  // Quick mode measures the default configuration only, over one pass.
  for (const flipAverage of opts.quick ? [true] : [true, false]) {
    const engine = await createIdentityEngine({ flipAverage });
    try {
      rows.push({
        name: `faces detect+align+embed, faces-bbt 150 px crops, ${engine.workers} workers${flipAverage ? ' (default: mirror-averaged)' : ', single embedding'}`,
        value: await facesPerSecond(engine, images, opts.quick ? 1 : 2),
        unit: 'faces/s',
        ...(flipAverage ? { target: '>= 30 faces/s on 2 cores' } : {}),
      });
      if (flipAverage) {
        const singles = readdirSync(path.join(FACES, 'single')).map((f) => path.join(FACES, 'single', f));
        const big = await Promise.all(
          singles.map(async (f, i) => ({ id: `${i}`, bytes: await sharp(f).resize(1024, 1024, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer() })),
        );
        await checkDataset(engine, big.slice(0, 2), { minSide: 256 });
        const start = performance.now();
        await checkDataset(engine, big, { minSide: 256 });
        rows.push({
          name: `dataset check, 1024 px photos (decode, faces, sharpness, hash, outliers), ${engine.workers} workers`,
          value: Math.round((big.length / ((performance.now() - start) / 1000)) * 10) / 10,
          unit: 'images/s',
        });
      }
    } finally {
      await engine.close();
    }
  }
  if (!opts.quick) {
    rows.push({
      name: 'CPU per image, 1 worker, detect+align+embed (mirror-averaged), faces-bbt 150 px crops',
      value: await cpuMsPerImage(images, 2),
      unit: 'ms/image',
    });
  }
  return rows;
}

export default runIdentityBench;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const row of await runIdentityBench()) console.log(`${row.name}: ${row.value} ${row.unit}`);
}
