/**
 * `likeness train` and `likeness status`: API clients that show a run's progress with a progress
 * bar (step / total, ETA) until it ends.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';

type Env = Record<string, string | undefined>;

interface RunStatus {
  id: string;
  status: string;
  progress: { step: number; totalSteps: number; etaSeconds: number | null; message: string | null };
  error: { code: string | null; message: string | null } | null;
  credits: { price: number; charged: number; refunded: number; reserved: number; free: boolean };
  loraModelId: string | null;
}

const TERMINAL = new Set(['ready', 'failed', 'cancelled']);

export interface ClientOptions {
  url: string;
  token?: string;
  user?: string;
}

export async function call<T>(o: ClientOptions, method: string, path: string, body?: unknown): Promise<T> {
  if (!o.token) throw new Error('Give a token with --token or LIKENESS_TOKEN (a user token, or the admin token with --user).');
  const res = await fetch(`${o.url.replace(/\/+$/, '')}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${o.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(o.user ? { 'x-likeness-user': o.user } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(json.error ? `${json.error.message} (${json.error.code}, HTTP ${res.status})` : `HTTP ${res.status}`);
  return json as T;
}

export function formatEta(seconds: number | null): string {
  if (seconds === null) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
}

async function watch(o: ClientOptions, runId: string, intervalMs: number): Promise<RunStatus> {
  // A terminal gets a live bar; a pipe or a log file gets one line per change.
  const interactive = process.stdout.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { format: ' {status} |{bar}| step {value}/{total} | ETA {eta_text} | {message}', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let last = '';
  for (;;) {
    const run = await call<RunStatus>(o, 'GET', `/v1/training-runs/${runId}`);
    const payload = { status: run.status.padEnd(10), eta_text: formatEta(run.progress.etaSeconds), message: run.progress.message ?? '' };
    const total = Math.max(1, run.progress.totalSteps);
    if (interactive && !started) {
      bar.start(total, run.progress.step, payload);
      started = true;
    } else if (interactive) {
      bar.setTotal(total);
      bar.update(run.progress.step, payload);
    } else {
      const line = `${run.status} step ${run.progress.step}/${run.progress.totalSteps} ETA ${formatEta(run.progress.etaSeconds)}${run.progress.message ? ` (${run.progress.message})` : ''}`;
      if (line !== last) console.log(line);
      last = line;
    }
    if (TERMINAL.has(run.status)) {
      if (started) bar.stop();
      return run;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function report(run: RunStatus): number {
  if (run.status === 'ready') {
    console.log(`Ready: LoRA ${run.loraModelId}; ${run.credits.charged} credits charged${run.credits.free ? ' (free retry)' : ''}.`);
    return 0;
  }
  console.log(`${run.status}: ${run.error?.message ?? ''} ${run.credits.refunded ? `(${run.credits.refunded} credits released)` : ''}`.trim());
  return 1;
}

export function clientOptions(cmd: Command, env: Env): ClientOptions {
  const o = cmd.optsWithGlobals() as { url?: string; token?: string; user?: string };
  return { url: o.url ?? env.LIKENESS_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`, token: o.token ?? env.LIKENESS_TOKEN, user: o.user };
}

export function registerTrainingCommands(program: Command, env: Env): void {
  const withClient = (c: Command) =>
    c
      .option('--url <url>', 'Likeness API base URL (default $LIKENESS_URL or http://127.0.0.1:8080)')
      .option('--token <token>', 'bearer token (default $LIKENESS_TOKEN)')
      .option('--user <id>', 'act for this user (with the admin token)');

  withClient(program.command('train <characterId>'))
    .description('start a LoRA training for a character and follow it to the end')
    .option('--base-model <model>', 'zimage-turbo | flux-dev | wan21 | wan22 | qwen-image')
    .option('--no-watch', 'return once the run is queued')
    .option('--interval <ms>', 'status poll interval', '1000')
    .action(async (characterId: string, _o, cmd: Command) => {
      const o = clientOptions(cmd, env);
      const opts = cmd.opts() as { baseModel?: string; watch: boolean; interval: string };
      const run = await call<RunStatus>(o, 'POST', `/v1/characters/${characterId}/lora/train`, opts.baseModel ? { baseModel: opts.baseModel } : {});
      console.log(`Training run ${run.id} queued (${run.credits.price} credits reserved${run.credits.free ? ', free retry' : ''}).`);
      if (!opts.watch) return;
      process.exitCode = report(await watch(o, run.id, Number(opts.interval)));
    });

  withClient(program.command('status <runId>'))
    .description("show a training run's status; --watch follows it with a progress bar")
    .option('--watch', 'follow until the run ends')
    .option('--json', 'print the API response as JSON')
    .option('--interval <ms>', 'status poll interval', '1000')
    .action(async (runId: string, _o, cmd: Command) => {
      const o = clientOptions(cmd, env);
      const opts = cmd.opts() as { watch?: boolean; json?: boolean; interval: string };
      if (opts.watch) {
        process.exitCode = report(await watch(o, runId, Number(opts.interval)));
        return;
      }
      const run = await call<RunStatus>(o, 'GET', `/v1/training-runs/${runId}`);
      if (opts.json) {
        console.log(JSON.stringify(run, null, 2));
        return;
      }
      console.log(`${run.id}: ${run.status}, step ${run.progress.step}/${run.progress.totalSteps}, ETA ${formatEta(run.progress.etaSeconds)}${run.progress.message ? `, ${run.progress.message}` : ''}`);
      if (run.error) console.log(`error: ${run.error.message}`);
    });
}
