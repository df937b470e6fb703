/**
 * A character's LoRA settings: the current training with live progress (or how the last one
 * ended), the on/off switch and strength, versions, training history, and the dataset with the
 * retrain picker. Notifications link here (/characters/ID/lora).
 */
import { useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router-dom';
import { Alert, Anchor, Badge, Card, Group, Slider, Stack, Switch, Text, Title } from '@mantine/core';
import { useDebouncedCallback } from '@mantine/hooks';
import { IconArrowLeft } from '@tabler/icons-react';
import { usePatchLora } from '../api/mutations';
import { keys, useCharacter, useLora } from '../api/queries';
import type { CharacterDetail, LoraSummary } from '../api/types';
import { DatasetPanel } from '../components/dataset-panel';
import { ErrorState, LoadingState } from '../components/query-state';
import { RunProgress } from '../components/run-progress';
import { TrainingHistory } from '../components/training-history';
import { VersionsTable } from '../components/versions-table';
import { runStatus } from '../status';
import { baseModelLabel, dateTime, duration } from '../lib/format';

export function LoraSettingsScreen() {
  const { id } = useParams();
  const character = useCharacter(id!);
  const lora = useLora(id!);
  if (character.isPending || lora.isPending) return <LoadingState label="Loading the LoRA settings…" />;
  if (character.isError) return <ErrorState error={character.error} onRetry={() => void character.refetch()} />;
  if (lora.isError) return <ErrorState error={lora.error} onRetry={() => void lora.refetch()} />;
  return <Settings character={character.data} lora={lora.data} />;
}

function Section({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <Card withBorder padding="lg" data-testid={testId}>
      <Title order={4} mb="sm">
        {title}
      </Title>
      {children}
    </Card>
  );
}

function Settings({ character: c, lora }: { character: CharacterDetail; lora: LoraSummary }) {
  useRefreshOnRunChange(c.id, lora);
  return (
    <Stack data-testid="lora-settings">
      <Anchor component={Link} to="/characters" size="sm">
        <Group gap={4}>
          <IconArrowLeft size={14} /> Characters
        </Group>
      </Anchor>
      <Group justify="space-between" align="flex-end">
        <div>
          <Title order={2}>{c.name}</Title>
          <Text c="dimmed" size="sm">
            {baseModelLabel(c.baseModel)} · trigger word <code>{lora.triggerWord}</code> · {c.images.accepted} of {c.images.total} images accepted, {c.images.liked} liked
          </Text>
        </div>
        {!c.sheetCompletedAt && (
          <Anchor component={Link} to={`/characters/${c.id}/setup`}>
            Finish setup
          </Anchor>
        )}
      </Group>

      <Section title="Training" testId="status-card">
        <TrainingStatus lora={lora} />
      </Section>

      <Section title="LoRA" testId="lora-controls">
        <LoraControls characterId={c.id} lora={lora} />
      </Section>

      <Section title="Versions">
        <VersionsTable characterId={c.id} />
      </Section>

      <Section title="Training history">
        <TrainingHistory characterId={c.id} />
      </Section>

      <Section title="Dataset">
        <DatasetPanel characterId={c.id} lora={lora} />
      </Section>
    </Stack>
  );
}

/**
 * The summary is polled while a run is active; the history, versions and balance are not. When the
 * run moves on (a new state, a new run, finished), refresh them too, so the table rows and the
 * new version appear without waiting for a notification.
 */
function useRefreshOnRunChange(characterId: string, lora: LoraSummary) {
  const qc = useQueryClient();
  const run = lora.currentRun ?? lora.lastRun;
  const fingerprint = run ? `${run.id}:${run.status}` : '';
  const seen = useRef(fingerprint);
  useEffect(() => {
    if (seen.current === fingerprint) return;
    seen.current = fingerprint;
    void qc.invalidateQueries({ queryKey: keys.runs(characterId) });
    void qc.invalidateQueries({ queryKey: keys.versions(characterId) });
    void qc.invalidateQueries({ queryKey: keys.me });
  }, [qc, characterId, fingerprint]);
}

function TrainingStatus({ lora }: { lora: LoraSummary }) {
  // The current run when there is one, else how the last one ended (with its samples).
  const run = lora.currentRun ?? lora.lastRun;
  if (!run)
    return (
      <Text c="dimmed" data-testid="no-training">
        No training yet. Choose the images below and start one.
      </Text>
    );
  const failed = runStatus(run.status).outcome === 'failed';
  return (
    <Stack gap="xs">
      <RunProgress run={run} />
      {!lora.currentRun && (
        <Text size="xs" c="dimmed">
          Finished {dateTime(run.finishedAt)} after {duration(run.durationSeconds)}.
        </Text>
      )}
      {failed && run.error?.fault !== 'user' && (
        <Alert color="green" variant="light" data-testid="free-retry">
          This failure was not your fault: the next training of this model is free. Retry below.
        </Alert>
      )}
    </Stack>
  );
}

function LoraControls({ characterId, lora }: { characterId: string; lora: LoraSummary }) {
  const patch = usePatchLora(characterId);
  // The slider moves locally while dragged and saves on release; a saved value from the server
  // replaces it afterwards.
  const [strength, setStrength] = useState(lora.strength);
  useEffect(() => setStrength(lora.strength), [lora.strength]);
  // Each arrow key press ends a change: save only the last of a quick series, so saves cannot
  // land out of order.
  const saveStrength = useDebouncedCallback((s: number) => patch.mutate({ strength: s }), 400);
  const v = lora.activeVersion;
  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start">
        <Switch
          size="md"
          checked={lora.enabled}
          onChange={(e) => patch.mutate({ enabled: e.currentTarget.checked })}
          disabled={patch.isPending}
          label="Use the LoRA in generations"
          description={lora.enabled ? 'Every generation of this character uses its active LoRA.' : 'Generations fall back to face swap.'}
          data-testid="lora-enabled"
        />
        {v ? (
          <Badge color="green" variant="light" size="lg" data-testid="active-version">
            Active: v{v.version} · {baseModelLabel(v.baseModel)}
          </Badge>
        ) : (
          <Badge color="gray" variant="light" size="lg" data-testid="active-version">
            No active LoRA
          </Badge>
        )}
      </Group>
      <div>
        <Group justify="space-between">
          <Text size="sm" fw={500}>
            Strength
          </Text>
          <Text size="sm" c="dimmed" data-testid="strength-value">
            {strength.toFixed(2)}
          </Text>
        </Group>
        <Slider
          min={0}
          max={2}
          step={0.05}
          value={strength}
          onChange={setStrength}
          onChangeEnd={saveStrength}
          marks={[
            { value: 0, label: '0' },
            { value: 1, label: '1' },
            { value: 2, label: '2' },
          ]}
          label={(s) => s.toFixed(2)}
          disabled={!lora.enabled}
          mb="xl"
          thumbLabel="LoRA strength"
          data-testid="strength"
        />
        <Text size="xs" c="dimmed">
          How strongly the LoRA shapes the face: 1 is as trained; lower blends in more of the base model.
        </Text>
      </div>
    </Stack>
  );
}
