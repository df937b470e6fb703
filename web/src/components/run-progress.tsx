/**
 * A training run in progress: status, step / total, ETA, the trainer's message and its latest
 * sample images; cancel. Polls the run while it is active (see useRun).
 */
import { Alert, Group, Image, Progress, SimpleGrid, Stack, Text } from '@mantine/core';
import { IconBan } from '@tabler/icons-react';
import { useCancelRun } from '../api/mutations';
import { useRun } from '../api/queries';
import type { Run } from '../api/types';
import { isRunActive, runStatus } from '../status';
import { duration } from '../lib/format';
import { ConfirmButton } from './confirm-button';
import { RunStatusBadge } from './status-badge';

export function RunProgress({ run: summaryRun }: { run: Run }) {
  const detail = useRun(summaryRun.id);
  // The detail is fresher when it has loaded; the summary's copy shows at once.
  const run = detail.data ?? summaryRun;
  const info = runStatus(run.status);
  const cancel = useCancelRun(run.characterId);
  const { step, totalSteps, etaSeconds, message, loss } = run.progress;
  const pct = totalSteps > 0 ? Math.min(100, (step / totalSteps) * 100) : 0;
  const active = isRunActive(run.status);
  const samples = detail.data?.samples ?? [];

  return (
    <Stack gap="sm" data-testid="run-progress" data-status={run.status}>
      <Group justify="space-between">
        <Group gap="sm">
          <RunStatusBadge status={run.status} size="lg" />
          <Text size="sm" c="dimmed">
            {info.hint}
          </Text>
        </Group>
        {active && (
          <ConfirmButton
            variant="light"
            color="red"
            size="xs"
            leftSection={<IconBan size={14} />}
            title="Cancel this training?"
            message="The training stops and its reserved credits are released. Nothing is charged."
            confirmLabel="Cancel training"
            onConfirm={() => cancel.mutate(run.id)}
            loading={cancel.isPending || run.cancelRequested}
            data-testid="cancel-run"
          >
            {run.cancelRequested ? 'Cancelling…' : 'Cancel training'}
          </ConfirmButton>
        )}
      </Group>
      <Progress value={pct} size="lg" animated={active} striped={active} color={info.color} aria-label="Training progress" />
      <Group gap="lg">
        <Text size="sm" data-testid="run-steps">
          Step {step} / {totalSteps || '?'}
        </Text>
        {active && (
          <Text size="sm" c="dimmed" data-testid="run-eta">
            {etaSeconds !== null ? `About ${duration(etaSeconds)} left` : 'Estimating time left…'}
          </Text>
        )}
        {loss !== null && (
          <Text size="sm" c="dimmed">
            loss {loss.toFixed(4)}
          </Text>
        )}
        {run.attempt > 1 && (
          <Text size="sm" c="dimmed">
            attempt {run.attempt}
          </Text>
        )}
      </Group>
      {message && (
        <Text size="sm" ff="monospace" c="dimmed" data-testid="run-message">
          {message}
        </Text>
      )}
      {run.error?.message && (
        <Alert color={active ? 'yellow' : 'red'} title={active ? 'A problem, being retried' : 'Why it stopped'}>
          {run.error.message}
        </Alert>
      )}
      {samples.length > 0 && (
        <Stack gap={4}>
          <Text size="sm" fw={600}>
            Latest samples
          </Text>
          <SimpleGrid cols={{ base: 2, sm: 4 }} data-testid="run-samples">
            {samples.slice(-4).map((url) => (
              <Image key={url} src={url} alt="Training sample" radius="sm" h={140} fit="cover" />
            ))}
          </SimpleGrid>
        </Stack>
      )}
    </Stack>
  );
}
