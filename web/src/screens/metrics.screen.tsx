/**
 * Admin metrics: the platform's success metrics against their targets (GET /v1/metrics/summary:
 * adoption, training completion, training time p50/p95, face consistency, satisfaction, generation
 * success with a LoRA), and identity consistency (the face-match rate) per method (LoRA, face swap,
 * plain) and per base model (GET /v1/metrics/consistency). The API leaves emulated output out, so on the
 * GPU emulator every chart says "no data yet (n = 0)" and how much it left out: an empty sample is
 * never drawn as 0 %.
 */
import { Alert, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { BarChart } from '@mantine/charts';
import { IconChartBarOff } from '@tabler/icons-react';
import { useConsistencyMetrics, useSuccessMetrics } from '../api/queries';
import { useSession } from '../api/session';
import type { BaseModel, ConsistencyReport, ConsistencySummary, SuccessMetric, SuccessMetricsSummary } from '../api/types';
import { QueryState } from '../components/query-state';
import { BASE_MODELS, baseModelLabel, duration, num } from '../lib/format';
import { GENERATION_METHODS, generationMethod } from '../status';

function pct(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(1)} %`;
}

function interval(s: ConsistencySummary): string {
  return s.matchRateInterval ? `${pct(s.matchRateInterval.low)} – ${pct(s.matchRateInterval.high)}` : '—';
}

/** Sums LoRA versions of one base model into one sample (counts add; the interval is not recomputed). */
function loraByBaseModel(report: ConsistencyReport): Record<BaseModel, { n: number; matched: number }> {
  const out = Object.fromEntries(BASE_MODELS.map((m) => [m, { n: 0, matched: 0 }])) as Record<BaseModel, { n: number; matched: number }>;
  for (const v of report.byLoraVersion) {
    const acc = out[v.baseModel];
    if (acc) {
      acc.n += v.n;
      acc.matched += v.matched;
    }
  }
  return out;
}

function NoData({ n = 0, excluded }: { n?: number; excluded: number }) {
  return (
    <Stack align="center" gap={4} py="xl" data-testid="no-data">
      <IconChartBarOff size={28} color="var(--mantine-color-gray-5)" />
      <Text fw={600}>No data yet (n = {n})</Text>
      <Text size="xs" c="dimmed" ta="center" maw={360}>
        {excluded > 0
          ? `${num(excluded)} emulated attempt${excluded === 1 ? ' was' : 's were'} left out: the GPU emulator's images say nothing about a real model.`
          : 'No scored generation from a real GPU backend yet.'}
      </Text>
    </Stack>
  );
}

function Stat({ label, summary, testId }: { label: string; summary: ConsistencySummary; testId: string }) {
  return (
    <Card withBorder padding="md" data-testid={testId} data-n={summary.n}>
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {summary.n === 0 ? 'no data yet' : pct(summary.matchRate)}
      </Text>
      <Text size="xs" c="dimmed">
        n = {num(summary.n)}
        {summary.n > 0 && ` · 95 % CI ${interval(summary)}`}
      </Text>
    </Card>
  );
}

function metricValue(m: Pick<SuccessMetric, 'unit' | 'value'>): string {
  if (m.value === null) return 'no data yet';
  return m.unit === 'ratio' ? pct(m.value) : duration(m.value);
}

function metricTarget(m: SuccessMetric): string {
  const op = m.target.direction === 'above' ? '>' : '<';
  return `${op} ${m.unit === 'ratio' ? `${Math.round(m.target.value * 100)} %` : duration(m.target.value)}`;
}

function MetricCard({ metric: m }: { metric: SuccessMetric }) {
  const verdict = m.meetsTarget === null ? { label: 'No data yet', color: 'gray' } : m.meetsTarget ? { label: 'Meets target', color: 'green' } : { label: 'Below target', color: 'red' };
  return (
    <Card withBorder padding="md" data-testid={`metric-${m.key}`} data-n={m.n}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Text size="sm" c="dimmed">
          {m.label}
        </Text>
        <Badge size="xs" variant="light" color={verdict.color} style={{ flexShrink: 0 }}>
          {verdict.label}
        </Badge>
      </Group>
      <Text fw={700} size="xl">
        {metricValue(m)}
      </Text>
      <Text size="xs" c="dimmed">
        target {metricTarget(m)} · n = {num(m.n)}
        {m.interval && ` · 95 % CI ${pct(m.interval.low)} – ${pct(m.interval.high)}`}
      </Text>
    </Card>
  );
}

function SuccessCharts({ summary }: { summary: SuccessMetricsSummary }) {
  const rates = summary.metrics.filter((m) => m.unit === 'ratio');
  const rateRows = rates.filter((m) => m.value !== null).map((m) => ({ metric: m.label, Value: m.value! * 100, Target: m.target.value * 100 }));
  const time = summary.trainingTime;
  const target = summary.metrics.find((m) => m.key === 'trainingTime')?.target.value ?? null;
  const timeRows =
    time.n > 0
      ? [
          { percentile: 'p50', Minutes: (time.p50 ?? 0) / 60 },
          { percentile: 'p95', Minutes: (time.p95 ?? 0) / 60 },
        ]
      : [];
  const satisfactionRows = GENERATION_METHODS.flatMap((m) => {
    const r = summary.satisfaction.byMethod[m];
    return r && r.value !== null ? [{ method: generationMethod(m).label, 'Looks like the character': r.value * 100, n: r.n }] : [];
  });
  const percent = (v: number) => `${v.toFixed(1)} %`;
  const none = (
    <Stack align="center" gap={4} py="xl" data-testid="no-data">
      <IconChartBarOff size={28} color="var(--mantine-color-gray-5)" />
      <Text fw={600}>No data yet (n = 0)</Text>
      <Text size="xs" c="dimmed" ta="center" maw={360}>
        Emulated trainings, generations and images are left out.
      </Text>
    </Stack>
  );
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }}>
        {summary.metrics.map((m) => (
          <MetricCard key={m.key} metric={m} />
        ))}
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder padding="lg" data-testid="chart-rates">
          <Title order={5}>Rates against their targets</Title>
          <Text size="xs" c="dimmed" mb="sm">
            Only rates with data are drawn.
          </Text>
          {rateRows.length === 0 ? (
            none
          ) : (
            <BarChart
              h={240}
              data={rateRows}
              dataKey="metric"
              series={[
                { name: 'Value', color: 'violet.6' },
                { name: 'Target', color: 'gray.4' },
              ]}
              valueFormatter={percent}
              yAxisProps={{ domain: [0, 100] }}
              xAxisProps={{ tick: { fontSize: 10 } }}
            />
          )}
        </Card>
        <Card withBorder padding="lg" data-testid="chart-training-time">
          <Title order={5}>Training time, sheet to ready</Title>
          <Text size="xs" c="dimmed" mb="sm">
            Minutes; first ready run per character{target !== null && `, target p95 < ${duration(target)}`}.
          </Text>
          {timeRows.length === 0 ? (
            none
          ) : (
            <BarChart
              h={240}
              data={timeRows}
              dataKey="percentile"
              series={[{ name: 'Minutes', color: 'indigo.6' }]}
              valueFormatter={(v) => `${v.toFixed(1)} min`}
              referenceLines={target !== null ? [{ y: target / 60, label: 'target', color: 'red.6' }] : []}
              withBarValueLabel
            />
          )}
        </Card>
        <Card withBorder padding="lg" data-testid="chart-satisfaction">
          <Title order={5}>Satisfaction per method</Title>
          <Text size="xs" c="dimmed" mb="sm">
            Share of answered images users say look like the character.
          </Text>
          {satisfactionRows.length === 0 ? (
            none
          ) : (
            <BarChart
              h={240}
              data={satisfactionRows}
              dataKey="method"
              series={[{ name: 'Looks like the character', color: 'grape.6' }]}
              valueFormatter={percent}
              yAxisProps={{ domain: [0, 100] }}
              withBarValueLabel
            />
          )}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}

function ConsistencyCharts({ report }: { report: ConsistencyReport }) {
  const excluded = report.excluded.emulated;
  const methods = GENERATION_METHODS.map((m) => ({ method: m, s: report.byMethod[m] })).filter((r) => r.s !== undefined);
  const methodRows = methods.filter((r) => r.s.n > 0).map((r) => ({ method: generationMethod(r.method).label, 'Match rate': (r.s.matchRate ?? 0) * 100, n: r.s.n }));
  const lora = loraByBaseModel(report);
  const baseRows = BASE_MODELS.filter((m) => (report.byBaseModel[m]?.n ?? 0) > 0 || lora[m].n > 0).map((m) => ({
    model: baseModelLabel(m),
    LoRA: lora[m].n > 0 ? (lora[m].matched / lora[m].n) * 100 : null,
    'All methods': report.byBaseModel[m] && report.byBaseModel[m].n > 0 ? (report.byBaseModel[m].matchRate ?? 0) * 100 : null,
  }));
  const percent = (v: number) => `${v.toFixed(1)} %`;

  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Stat label="Face match, every scored attempt" summary={report.overall} testId="stat-overall" />
        <Stat label="Face match, LoRA attempts" summary={report.byMethod.lora} testId="stat-lora" />
        <Stat label="Face match, delivered images" summary={report.delivered} testId="stat-delivered" />
      </SimpleGrid>
      <Group gap="xs">
        <Badge variant="light" color="orange" data-testid="excluded-emulated">
          {num(excluded)} emulated attempt{excluded === 1 ? '' : 's'} excluded
        </Badge>
        {report.excluded.otherRecognizer > 0 && (
          <Badge variant="light" color="gray">
            {num(report.excluded.otherRecognizer)} scored by another recogniser excluded
          </Badge>
        )}
        <Text size="xs" c="dimmed">
          Recogniser {report.recognizerId ?? '—'}
          {report.tau !== null && ` · match threshold τ = ${report.tau.toFixed(3)}`}
        </Text>
      </Group>

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder padding="lg" data-testid="chart-by-method">
          <Title order={5}>Match rate: LoRA vs face swap vs plain</Title>
          <Text size="xs" c="dimmed" mb="sm">
            Every scored attempt, failures of a method counted against it.
          </Text>
          {methodRows.length === 0 ? (
            <NoData excluded={excluded} />
          ) : (
            <BarChart h={240} data={methodRows} dataKey="method" series={[{ name: 'Match rate', color: 'violet.6' }]} valueFormatter={percent} yAxisProps={{ domain: [0, 100] }} withBarValueLabel />
          )}
        </Card>
        <Card withBorder padding="lg" data-testid="chart-by-base-model">
          <Title order={5}>Match rate per base model</Title>
          <Text size="xs" c="dimmed" mb="sm">
            LoRA attempts (summed over LoRA versions) beside all methods of that base model.
          </Text>
          {baseRows.length === 0 ? (
            <NoData excluded={excluded} />
          ) : (
            <BarChart
              h={240}
              data={baseRows}
              dataKey="model"
              series={[
                { name: 'LoRA', color: 'violet.6' },
                { name: 'All methods', color: 'gray.5' },
              ]}
              valueFormatter={percent}
              yAxisProps={{ domain: [0, 100] }}
              withLegend
            />
          )}
        </Card>
      </SimpleGrid>

      <Card withBorder padding="lg">
        <Title order={5} mb="sm">
          The numbers
        </Title>
        <Table striped data-testid="consistency-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Sample</Table.Th>
              <Table.Th>n</Table.Th>
              <Table.Th>Matched</Table.Th>
              <Table.Th>Match rate</Table.Th>
              <Table.Th>95 % CI</Table.Th>
              <Table.Th>Mean similarity</Table.Th>
              <Table.Th>No face</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {[
              ...methods.map((r) => ({ key: `m-${r.method}`, label: `Method: ${generationMethod(r.method).label}`, s: r.s })),
              ...BASE_MODELS.flatMap((m) => (report.byBaseModel[m] ? [{ key: `b-${m}`, label: `Base model: ${baseModelLabel(m)}`, s: report.byBaseModel[m] }] : [])),
              ...report.byLoraVersion.map((v) => ({ key: `l-${v.loraModelId}`, label: `LoRA v${v.version ?? '?'} (${baseModelLabel(v.baseModel)})`, s: v as ConsistencySummary })),
            ].map((r) => (
              <Table.Tr key={r.key}>
                <Table.Td>{r.label}</Table.Td>
                <Table.Td>{num(r.s.n)}</Table.Td>
                <Table.Td>{num(r.s.matched)}</Table.Td>
                <Table.Td>{r.s.n === 0 ? 'no data yet' : pct(r.s.matchRate)}</Table.Td>
                <Table.Td>{interval(r.s)}</Table.Td>
                <Table.Td>{r.s.meanSimilarity === null ? '—' : r.s.meanSimilarity.toFixed(3)}</Table.Td>
                <Table.Td>{pct(r.s.noFaceRate)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}

export function MetricsScreen() {
  const session = useSession();
  const consistency = useConsistencyMetrics(session?.kind === 'admin');
  const summary = useSuccessMetrics(session?.kind === 'admin');
  if (session?.kind !== 'admin')
    return (
      <Alert color="yellow" title="Admin only">
        Sign in with the admin token to see the platform's metrics.
      </Alert>
    );
  return (
    <Stack data-testid="metrics-screen">
      <Title order={2}>Metrics</Title>
      <Text size="sm" c="dimmed">
        All characters, all time. Trainings, generations and images of the GPU emulator are excluded by the API.
      </Text>
      <Title order={3}>Success metrics</Title>
      <QueryState query={summary} loading="Loading the success metrics…">
        {(d) => <SuccessCharts summary={d} />}
      </QueryState>
      <Title order={3}>Identity consistency</Title>
      <QueryState query={consistency} loading="Loading the consistency report…">
        {(report) => <ConsistencyCharts report={report} />}
      </QueryState>
    </Stack>
  );
}
