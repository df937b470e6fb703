/** `likeness start | api | worker | migrate | emulator`: the processes of the product. */
import type { Command } from 'commander';
import { loadConfig, ConfigError } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { startLikeness } from '../../app/likeness.app.js';
import { startEmulator, faultsFromEnv } from '../../emulator/index.js';

type Env = Record<string, string | undefined>;

function config(env: Env) {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

const EMULATOR_BANNER = [
  '',
  '  ************************************************************************',
  '  *  EMULATED GPU: no training provider is configured.                   *',
  '  *  Training runs on the built-in GPU emulator: it speaks RunPod and    *',
  '  *  AI Toolkit, trains nothing, and every run and LoRA it makes is      *',
  '  *  marked emulated. Set RUNPOD_API_KEY or LIKENESS_AITOOLKIT_URL for   *',
  '  *  real training.                                                      *',
  '  ************************************************************************',
  '',
].join('\n');

/** SIGTERM/SIGINT: stop taking work, let in-flight jobs finish, then exit. A second signal forces. */
function onShutdown(close: () => Promise<void>) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting now.`);
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: shutting down gracefully...`);
    close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

async function run(env: Env, roles: { api: boolean; worker: boolean }) {
  const cfg = config(env);
  const app = await startLikeness(cfg, { ...roles, httpLog: env.LIKENESS_HTTP_LOG === 'true' });
  if (app.backend.emulated) console.log(EMULATOR_BANNER);
  console.log(`Training backend: ${app.backend.describe}`);
  console.log(`Generation backend: ${app.ctx.generation?.describe ?? 'none'}${app.ctx.generation?.emulated ? ' (emulated: images are marked and kept out of the consistency metrics)' : ''}`);
  console.log(`Database: ${app.database.kind === 'pglite' ? `embedded PGlite in ${cfg.dataDir}` : 'PostgreSQL'}`);
  if (app.url) console.log(`Likeness API listening on ${app.url} (OpenAPI at ${app.url}/openapi.json)`);
  if (roles.worker) console.log('Worker running.');
  if (app.adminTokenCreated) {
    console.log(`\nGenerated admin token (shown once; stored in ${cfg.dataDir}/secrets/admin-token):\n  ${app.adminToken}\n`);
  } else if (!cfg.adminToken) {
    console.log(`Admin token: in ${cfg.dataDir}/secrets/admin-token`);
  }
  onShutdown(() => app.close());
}

export function registerServerCommands(program: Command, env: Env): void {
  program
    .command('start')
    .description('API, web UI and worker in one process (embedded database unless DATABASE_URL is set)')
    .action(() => run(env, { api: true, worker: true }));
  program
    .command('api')
    .description('the API alone (scale-out: run workers separately against the same DATABASE_URL)')
    .action(() => run(env, { api: true, worker: false }));
  program
    .command('worker')
    .description('a worker alone: runs training steps from the queue')
    .action(() => run(env, { api: false, worker: true }));
  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      const cfg = config(env);
      const db = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, migrate: true });
      await db.close();
      console.log('Migrations applied.');
    });
  program
    .command('emulator')
    .description('run the GPU emulator alone (RunPod REST v2 + AI Toolkit UI protocol)')
    .option('--port <port>', 'port to listen on', '9100')
    .option('--train-seconds <s>', 'how long an emulated training takes', '20')
    .option('--faults <spec>', 'e.g. error=0.1,timeout=0.05,preempt=0.1,trainer_error=0.1')
    .action(async (o: { port: string; trainSeconds: string; faults?: string }) => {
      const cfg = config(env);
      const emu = await startEmulator({
        port: Number(o.port),
        dataDir: `${cfg.dataDir}/emulator`,
        trainSeconds: Number(o.trainSeconds),
        faults: faultsFromEnv(o.faults ?? env.LIKENESS_EMULATOR_FAULTS),
        log: (m) => console.log(m),
      });
      console.log(`GPU emulator on ${emu.url}\n  RunPod API: ${emu.runpodApiUrl}/v2\n  Pod proxy: ${emu.podProxyUrlTemplate}\n  AI Toolkit UI: ${emu.aitkUrl}\n  ComfyUI: ${emu.comfyUrl} (WebSocket ${emu.comfyUrl.replace('http', 'ws')}/ws)\n  RunPod serverless worker-comfyui: ${emu.comfyServerlessUrl}/${emu.comfyEndpointId}`);
      onShutdown(() => emu.close());
    });
}
