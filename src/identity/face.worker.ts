/**
 * Body of a face worker thread: loads face-api (wasm backend, one core) and the configured
 * recogniser once, then analyses one image per message. Inference never runs on the caller's
 * event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadFaceApi } from './faceapi-runtime.js';
import { createEmbedder } from './face-embedder.js';
import { createPipeline } from './face-pipeline.js';
import type { FaceWorkerInit, FaceWorkerReply, FaceWorkerRequest } from './face-worker.protocol.js';

const port = parentPort;
if (!port) throw new Error('face.worker must run in a worker thread');
const init = workerData as FaceWorkerInit;

try {
  const faceapi = await loadFaceApi();
  const embed = await createEmbedder(init.recognizer, faceapi);
  const pipeline = createPipeline(faceapi, init.recognizer, embed, init.pipeline);
  port.on('message', async (req: FaceWorkerRequest) => {
    let reply: FaceWorkerReply;
    try {
      reply = { id: req.id, ok: true, analysis: await pipeline.analyze(req.bytes) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ ready: false, error: err instanceof Error ? err.message : String(err) });
}
