/**
 * Provider webhooks: RunPod serverless POSTs a job's final status here (contracts §2.3).
 *
 *   POST /v1/provider-webhooks/runpod/:runId?method=POST&expires=<unix s>&sig=<HMAC>
 *
 * RunPod documents no signature header, so the URL carries the proof: the backend puts a URL
 * signed by UrlSigner (HMAC-SHA256 over method, `provider-webhooks/runpod/<runId>` and the expiry,
 * the secret of the signed storage URLs) into each /run. Nobody without the secret can make one
 * for another run or extend one; past `expires` it is refused (the replay window).
 *
 * The body is never trusted for state: a valid call only wakes the run (its scheduled poll is made
 * due now, or a poll is enqueued), and the poll step asks the provider itself. A duplicated, late
 * or forged-but-signed body therefore changes nothing a poll would not; a lost one only delays the
 * run until its next scheduled poll. Bad or expired signature: 401, unknown run: 404, and nothing
 * changes either way.
 */
import type { FastifyPluginAsync } from 'fastify';
import { getRun } from '../../db/training-runs.repo.js';
import { AppError } from '../../domain/errors.js';
import { continueRun } from '../../jobs/step-context.js';
import { TRAINING_STEP } from '../../jobs/queues.js';
import type { UrlSigner } from '../../storage/url-signer.js';
import type { RouteDeps } from '../server.js';

const RUN_ID = /^[A-Za-z0-9-]{1,64}$/;
const keyOf = (runId: string) => `provider-webhooks/runpod/${runId}`;

/** Path and query of a run's signed webhook URL (append to the public base URL). */
export function signedRunpodWebhookPath(signer: UrlSigner, runId: string, validForSeconds: number): string {
  return `/v1/provider-webhooks/runpod/${encodeURIComponent(runId)}?${signer.sign('POST', keyOf(runId), validForSeconds)}`;
}

export const providerWebhooksRoutes: FastifyPluginAsync<RouteDeps & { signer: UrlSigner }> = async (app, { ctx, signer }) => {
  app.post<{ Params: { runId: string }; Querystring: Record<string, string> }>(
    '/v1/provider-webhooks/runpod/:runId',
    // The body (status plus the echoed input) is read and ignored; RunPod's /run inputs reach 10 MB.
    { config: { auth: 'public' }, bodyLimit: 12 * 1024 * 1024, schema: { hide: true } },
    async (req, reply) => {
      const { runId } = req.params;
      const verdict = RUN_ID.test(runId) ? signer.verify('POST', keyOf(runId), req.query) : 'invalid';
      if (verdict === 'expired') throw new AppError('unauthorized', 'This webhook URL has expired.');
      if (verdict !== 'ok') throw new AppError('unauthorized', 'The webhook signature is not valid for this run.');
      const run = await getRun(ctx.db, runId);
      if (!run) throw new AppError('not_found', 'No such training run.');
      // Only a run with the provider has a poll to bring forward; in any other state (already
      // finalizing, ready, failed, or a webhook of an earlier attempt) there is nothing to wake.
      const woke = run.status === 'training';
      if (woke && (await ctx.queue.hurry(TRAINING_STEP, run.id)) === 0) await continueRun(ctx, run.id, 'training');
      return reply.status(200).send({ ok: true, woke });
    },
  );
};
