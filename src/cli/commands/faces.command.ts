/**
 * `likeness faces ...`: the identity engine from the command line. One engine (worker pool) per
 * command; everything it needs comes from flags, nothing from the environment.
 *   faces compare A B [--json]          similarity and match of the two images' main faces
 *   faces pairs LIST.csv --dir DIR      one JSON line per CSV row (columns file_x, file_y)
 *   faces check DIR                     dataset verdicts for the images in DIR
 *   faces calibrate DIR                 FAR/FRR/TAR and tau on labelled photos + augmentations
 *   faces models                        recognisers this build can run, with licence notes
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import {
  AUGMENTATIONS,
  calibrationReport,
  checkDataset,
  collectPhotos,
  cosineSimilarity,
  createIdentityEngine,
  embedCalibrationSet,
  listRecognizers,
  operatingPoint,
  scorePairs,
  tauFor,
} from '../../identity/index.js';
import type { FaceAnalysis, IdentityEngine, OnnxRecognizerConfig, RecognizerConfig } from '../../identity/index.js';

interface EngineFlags {
  recognizer?: string;
  workers?: string;
  tau?: string;
}

const IMAGE_EXT = /\.(png|jpe?g|webp|avif|tiff?)$/i;

/** Reads an ONNX recogniser config (JSON); a relative modelPath is taken from the JSON's folder. */
async function loadRecognizer(file: string | undefined): Promise<RecognizerConfig | undefined> {
  if (!file) return undefined;
  const config = JSON.parse(await readFile(file, 'utf8')) as OnnxRecognizerConfig;
  if (config.kind !== 'onnx') throw new Error(`${file}: "kind" must be "onnx"`);
  return { ...config, modelPath: path.resolve(path.dirname(file), config.modelPath) };
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

async function withEngine<T>(flags: EngineFlags, fn: (engine: IdentityEngine, tau: number) => Promise<T>): Promise<T> {
  const recognizer = await loadRecognizer(flags.recognizer);
  const workers = positiveInt(flags.workers, '--workers');
  const engine = await createIdentityEngine({ ...(recognizer ? { recognizer } : {}), ...(workers ? { workers } : {}) });
  try {
    const tau = flags.tau !== undefined ? Number(flags.tau) : tauFor(engine.recognizerId);
    if (!Number.isFinite(tau)) throw new Error('--tau must be a number');
    return await fn(engine, tau);
  } finally {
    await engine.close();
  }
}

function mainFaceSimilarity(a: FaceAnalysis, b: FaceAnalysis): number | { error: string } {
  const fa = a.faces[0];
  const fb = b.faces[0];
  if (!fa || !fb) return { error: `no face found in ${!fa ? 'the first' : 'the second'} image` };
  return cosineSimilarity(fa.embedding, fb.embedding);
}

/** Minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

async function comparePairs(engine: IdentityEngine, tau: number, listFile: string, dir: string, write: (line: string) => void): Promise<void> {
  const [header, ...rows] = parseCsv(await readFile(listFile, 'utf8'));
  const ix = header?.indexOf('file_x') ?? -1;
  const iy = header?.indexOf('file_y') ?? -1;
  if (ix < 0 || iy < 0) throw new Error(`${listFile}: the header must name the columns file_x and file_y`);
  const analyses = new Map<string, Promise<FaceAnalysis>>();
  const analysisOf = (file: string) => {
    let p = analyses.get(file);
    if (!p) {
      p = readFile(path.resolve(dir, file)).then((bytes) => engine.analyze(bytes));
      p.catch(() => undefined); // reported when its pair is printed
      analyses.set(file, p);
    }
    return p;
  };
  // Keep the pool busy a window ahead of what is printed, so output streams in input order.
  const WINDOW = 16 * engine.workers;
  const pending = rows.map((r) => ({ x: r[ix] ?? '', y: r[iy] ?? '' }));
  const started: Promise<string>[] = [];
  const start = (i: number) => {
    const { x, y } = pending[i]!;
    started[i] = Promise.all([analysisOf(x), analysisOf(y)]).then(
      ([a, b]) => {
        const s = mainFaceSimilarity(a, b);
        return JSON.stringify(typeof s === 'number' ? { file_x: x, file_y: y, similarity: round(s), match: s >= tau } : { file_x: x, file_y: y, error: s.error });
      },
      (err: unknown) => JSON.stringify({ file_x: x, file_y: y, error: (err as Error).message }),
    );
  };
  for (let i = 0; i < Math.min(WINDOW, pending.length); i++) start(i);
  for (let i = 0; i < pending.length; i++) {
    if (i + WINDOW < pending.length) start(i + WINDOW);
    write(await started[i]!);
    if (i % WINDOW === WINDOW - 1) trimCache(analyses, pending, i);
  }
}

/** Drops analyses no later pair needs, so a long list does not keep every embedding. */
function trimCache(cache: Map<string, Promise<FaceAnalysis>>, pairs: { x: string; y: string }[], printed: number): void {
  const needed = new Set(pairs.slice(printed + 1).flatMap((p) => [p.x, p.y]));
  for (const key of cache.keys()) if (!needed.has(key)) cache.delete(key);
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

async function imagesIn(dir: string): Promise<{ id: string; bytes: Uint8Array }[]> {
  const names = (await readdir(dir)).filter((n) => IMAGE_EXT.test(n)).sort();
  return Promise.all(names.map(async (id) => ({ id, bytes: await readFile(path.join(dir, id)) })));
}

export function registerFacesCommands(program: Command): void {
  const faces = program.command('faces').description('face detection, identity scores and dataset checks');
  const engineOptions = (c: Command) =>
    c
      .option('--recognizer <file>', 'ONNX recogniser config (JSON); default: the shipped recogniser')
      .option('--workers <n>', 'worker threads (default: cores, at most 4)')
      .option('--tau <number>', "same-person threshold (default: the recogniser's calibrated tau)");

  engineOptions(faces.command('compare <a> <b>').description('similarity of the main faces of two images'))
    .option('--json', 'print JSON')
    .action(async (a: string, b: string, flags: EngineFlags & { json?: boolean }) => {
      await withEngine(flags, async (engine, tau) => {
        const [x, y] = await Promise.all([readFile(a).then((d) => engine.analyze(d)), readFile(b).then((d) => engine.analyze(d))]);
        const s = mainFaceSimilarity(x, y);
        const base = { file_a: a, file_b: b, faces_a: x.faces.length, faces_b: y.faces.length, tau, recognizer: engine.recognizerId };
        if (typeof s !== 'number') {
          console.log(flags.json ? JSON.stringify({ ...base, error: s.error }) : `error: ${s.error}`);
          process.exitCode = 2;
          return;
        }
        const match = s >= tau;
        console.log(
          flags.json
            ? JSON.stringify({ ...base, similarity: round(s), match })
            : `similarity ${s.toFixed(4)}  ${match ? 'MATCH' : 'no match'}  (tau ${tau}, ${engine.recognizerId})`,
        );
      });
    });

  engineOptions(faces.command('pairs <list>').description('score the pairs of a CSV (columns file_x, file_y); one JSON line each'))
    .requiredOption('--dir <dir>', 'folder the CSV paths are relative to')
    .action(async (list: string, flags: EngineFlags & { dir: string }) => {
      await withEngine(flags, (engine, tau) => comparePairs(engine, tau, list, flags.dir, (line) => process.stdout.write(line + '\n')));
    });

  engineOptions(faces.command('check <dir>').description("dataset verdicts for a folder's images, as training would get them"))
    .option('--min-side <px>', 'minimum shorter side', '512')
    .option('--json', 'print one JSON line per image')
    .action(async (dir: string, flags: EngineFlags & { minSide: string; json?: boolean }) => {
      await withEngine(flags, async (engine, tau) => {
        const minSide = positiveInt(flags.minSide, '--min-side') ?? 512;
        const verdicts = await checkDataset(engine, await imagesIn(dir), { minSide, tau });
        for (const v of verdicts) {
          if (flags.json) {
            const { embedding: _embedding, ...printable } = v;
            console.log(JSON.stringify(printable));
          } else {
            const why = v.reasons.map((r) => `${r.code}: ${r.message}`).join('; ');
            console.log(`${v.accepted ? 'ACCEPT' : 'REJECT'}  ${v.id}${why ? '  ' + why : ''}`);
          }
        }
        if (!flags.json) console.log(`${verdicts.filter((v) => v.accepted).length}/${verdicts.length} accepted`);
      });
    });

  engineOptions(faces.command('calibrate <dir>').description('calibrate tau on labelled photos (a folder per person) plus augmentations'))
    .option('--far <rate>', 'target false-accept rate for tau', '0.01')
    .option('--augment <names>', `comma-separated augmentations or "none" (default: all: ${Object.keys(AUGMENTATIONS).join(',')})`)
    .option('--json', 'print the full report (with the ROC) as JSON')
    .action(async (dir: string, flags: EngineFlags & { far: string; augment?: string; json?: boolean }) => {
      const augmentations =
        flags.augment === undefined ? Object.keys(AUGMENTATIONS) : flags.augment === 'none' ? ['original'] : flags.augment.split(',');
      const { tau: _ignored, ...engineFlags } = flags;
      await withEngine({ ...engineFlags, tau: '0' }, async (engine) => {
        const photos = await collectPhotos(dir);
        const samples = await embedCalibrationSet(engine, photos, augmentations, (done, total) => {
          if (!flags.json && (done % 50 === 0 || done === total)) process.stderr.write(`\rembedded ${done}/${total}`);
        });
        if (!flags.json) process.stderr.write('\n');
        const pairs = scorePairs(samples);
        const report = calibrationReport(engine.recognizerId, pairs, { total: samples.length, noFace: samples.filter((s) => !s.embedding).length }, Number(flags.far));
        let shipped: number | null = null;
        try {
          shipped = tauFor(engine.recognizerId);
        } catch {
          shipped = null;
        }
        const atShipped = shipped === null ? null : operatingPoint(pairs, shipped);
        if (flags.json) {
          console.log(JSON.stringify({ ...report, photos: photos.length, people: new Set(photos.map((p) => p.person)).size, augmentations, atShippedTau: atShipped }, null, 2));
          return;
        }
        const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
        console.log(`recogniser      ${report.recognizerId}`);
        console.log(`photos          ${photos.length} (${new Set(photos.map((p) => p.person)).size} people) x ${augmentations.length} variants = ${report.images.total} images, ${report.images.noFace} without a face`);
        console.log(`pairs           ${report.pairs.same} same-person, ${report.pairs.different} different-person, ${report.pairs.missingFace} with a missing face`);
        console.log(`tau @ FAR ${pct(Number(flags.far))}   ${report.chosen.tau.toFixed(4)}  FAR ${pct(report.chosen.far)}  FRR ${pct(report.chosen.frr)}  accuracy ${pct(report.chosen.accuracy)}`);
        console.log(`TAR @ FAR 1%    ${pct(report.tarAtFar1.tar)} (tau ${report.tarAtFar1.tau.toFixed(4)})`);
        console.log(`TAR @ FAR 0.1%  ${pct(report.tarAtFar01.tar)} (tau ${report.tarAtFar01.tau.toFixed(4)})`);
        console.log(`EER             ${pct((report.eer.far + report.eer.frr) / 2)} at tau ${report.eer.tau.toFixed(4)}`);
        if (atShipped) console.log(`shipped tau     ${shipped}  FAR ${pct(atShipped.far)}  FRR ${pct(atShipped.frr)}  accuracy ${pct(atShipped.accuracy)}`);
      });
    });

  faces
    .command('models')
    .description('recognisers this build can run, with licence notes')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) => {
      const list = listRecognizers();
      if (flags.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      for (const r of list) {
        console.log(`${r.id}${r.shipped ? '  (shipped default)' : ''}`);
        console.log(`  embedding: ${r.embedding}\n  input:     ${r.input}\n  tau:       ${r.tau ?? 'calibrate first'}\n  licence:   ${r.licence}\n`);
      }
    });
}
