/**
 * `likeness metrics`: the platform's six success metrics as a table (GET /v1/metrics/summary),
 * with their targets, sample sizes and 95% intervals. `likeness retention [--dry-run]`: storage
 * retention through the API (an embedded database is held by the running server, so the CLI
 * never opens it). Both need the admin token: --token, $LIKENESS_ADMIN_TOKEN, $LIKENESS_TOKEN, or
 * the token `likeness start` kept in the data dir.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { formatMetricValue, formatTarget, type Metric } from '../../domain/success-metrics.js';
import type { SuccessMetricsSummary } from '../../services/success-metrics.service.js';
import { call } from './training.command.js';

type Env = Record<string, string | undefined>;

function adminToken(explicit: string | undefined, env: Env): string | undefined {
  if (explicit) return explicit;
  if (env.LIKENESS_ADMIN_TOKEN) return env.LIKENESS_ADMIN_TOKEN;
  if (env.LIKENESS_TOKEN) return env.LIKENESS_TOKEN;
  try {
    return readFileSync(path.join(env.LIKENESS_DATA_DIR ?? './data', 'secrets', 'admin-token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The table `likeness metrics` prints: one row per metric; "—" and n = 0 when there is no data. */
export function formatMetricsTable(summary: SuccessMetricsSummary): string {
  const rows = summary.metrics.map((m: Metric) => [
    m.label,
    formatMetricValue(m),
    formatTarget(m),
    String(m.n),
    m.interval ? `${pct(m.interval.low)}–${pct(m.interval.high)}` : '',
    m.meetsTarget === null ? 'no data' : m.meetsTarget ? 'yes' : 'NO',
  ]);
  const header = ['metric', 'value', 'target', 'n', '95% interval', 'meets target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const t = summary.trainingTime;
  if (t.n > 0) out.push('', `training time: p50 ${formatMetricValue({ unit: 'seconds', value: t.p50 })}, p95 ${formatMetricValue({ unit: 'seconds', value: t.p95 })} (n = ${t.n})`);
  const s = summary.satisfaction;
  const byMethod = Object.entries(s.byMethod)
    .map(([method, r]) => `${method} ${r.value === null ? '—' : pct(r.value)} (n = ${r.n})`)
    .join(', ');
  out.push(`satisfaction by method: ${byMethod}`);
  const a = s.scoreAgreement;
  out.push(
    `identity score vs answers: ROC AUC ${a.rocAuc === null ? '—' : a.rocAuc.toFixed(3)} (n = ${a.n}); yes-rate above tau ${a.yesRateAboveTau.value === null ? '—' : pct(a.yesRateAboveTau.value)} (n = ${a.yesRateAboveTau.n}), below ${a.yesRateBelowTau.value === null ? '—' : pct(a.yesRateBelowTau.value)} (n = ${a.yesRateBelowTau.n})`,
  );
  out.push(`window: ${summary.window.from ?? 'beginning'} to ${summary.window.to ?? 'now'}; emulated runs, generations and images are excluded.`);
  return out.join('\n');
}

export function registerMetricsCommands(program: Command, env: Env): void {
  program
    .command('metrics')
    .description("the platform's success metrics (adoption, completion, training time, face consistency, satisfaction, generation success)")
    .option('--url <url>', 'Likeness API base URL (default $LIKENESS_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'the admin token (default $LIKENESS_ADMIN_TOKEN, $LIKENESS_TOKEN or the data dir)')
    .option('--from <iso>', 'window start (ISO 8601, inclusive)')
    .option('--to <iso>', 'window end (ISO 8601, exclusive)')
    .option('--json', 'print the API response as JSON')
    .action(async (o: { url?: string; token?: string; from?: string; to?: string; json?: boolean }) => {
      const url = o.url ?? env.LIKENESS_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`;
      const qs = new URLSearchParams();
      if (o.from) qs.set('from', o.from);
      if (o.to) qs.set('to', o.to);
      const summary = await call<SuccessMetricsSummary>({ url, token: adminToken(o.token, env) }, 'GET', `/v1/metrics/summary${qs.size ? `?${qs}` : ''}`);
      console.log(o.json ? JSON.stringify(summary, null, 2) : formatMetricsTable(summary));
    });
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** The retention report: each LoRA version and dataset that goes (or would go), and the bytes. */
export function formatRetention(plan: { loras: { id: string; characterId: string; baseModel: string; version: number; bytes: number }[]; datasets: { runId: string; finishedAt: string; files: string[]; bytes: number }[]; totalBytes: number; settings: { loraVersions: number; datasetDays: number } }, dryRun: boolean): string {
  const out = [`Keeping the last ${plan.settings.loraVersions} LoRA versions per character and base model (never the active one) and datasets for ${plan.settings.datasetDays} days.`];
  for (const l of plan.loras) out.push(`LoRA ${l.id} (character ${l.characterId}, ${l.baseModel} v${l.version}): ${l.bytes} bytes`);
  for (const d of plan.datasets) out.push(`dataset of run ${d.runId} (finished ${d.finishedAt}, ${d.files.length} files): ${d.bytes} bytes`);
  out.push(`${dryRun ? 'Would remove' : 'Removed'} ${plan.loras.length} LoRA version(s) and ${plan.datasets.length} dataset(s): ${plan.totalBytes} bytes (${mb(plan.totalBytes)}).`);
  return out.join('\n');
}

export function registerRetentionCommand(program: Command, env: Env): void {
  program
    .command('retention')
    .description('remove old LoRA versions and training datasets now; --dry-run lists what would go and how many bytes')
    .option('--url <url>', 'Likeness API base URL (default $LIKENESS_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'the admin token (default $LIKENESS_ADMIN_TOKEN, $LIKENESS_TOKEN or the data dir)')
    .option('--dry-run', 'list only; change nothing')
    .option('--json', 'print the API response as JSON')
    .action(async (o: { url?: string; token?: string; dryRun?: boolean; json?: boolean }) => {
      const url = o.url ?? env.LIKENESS_URL ?? `http://127.0.0.1:${env.PORT ?? 8080}`;
      const plan = await call<Parameters<typeof formatRetention>[0]>({ url, token: adminToken(o.token, env) }, o.dryRun ? 'GET' : 'POST', '/v1/admin/retention');
      console.log(o.json ? JSON.stringify(plan, null, 2) : formatRetention(plan, o.dryRun === true));
    });
}
