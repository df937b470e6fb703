/** The user's characters, each with its LoRA status; the way into the wizard and the settings. */
import { Link } from 'react-router-dom';
import { Badge, Button, Card, Group, SimpleGrid, Skeleton, Stack, Text, Title } from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useCharacters, useLora } from '../api/queries';
import type { Character } from '../api/types';
import { EmptyState, QueryState } from '../components/query-state';
import { RunStatusBadge } from '../components/status-badge';
import { baseModelLabel, dateTime } from '../lib/format';

export function CharactersScreen() {
  const characters = useCharacters();
  return (
    <Stack data-testid="characters-screen">
      <Group justify="space-between">
        <Title order={2}>Characters</Title>
        <Button component={Link} to="/characters/new" leftSection={<IconPlus size={16} />}>
          New character
        </Button>
      </Group>
      <QueryState
        query={characters}
        loading="Loading your characters…"
        isEmpty={(d) => d.items.length === 0}
        empty={
          <EmptyState title="No characters yet">
            Create one: give it a name, upload its character sheet, and Likeness trains a LoRA that keeps its face consistent.
          </EmptyState>
        }
      >
        {(d) => (
          <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }}>
            {d.items.map((c) => (
              <CharacterCard key={c.id} character={c} />
            ))}
          </SimpleGrid>
        )}
      </QueryState>
    </Stack>
  );
}

function CharacterCard({ character: c }: { character: Character }) {
  const lora = useLora(c.id);
  const setupDone = c.sheetCompletedAt !== null;
  const run = lora.data?.currentRun ?? lora.data?.lastRun ?? null;
  return (
    <Card withBorder shadow="xs" padding="lg" data-testid="character-card">
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap">
          <Text fw={700} size="lg" truncate>
            {c.name}
          </Text>
          <Badge variant="outline">{baseModelLabel(c.baseModel)}</Badge>
        </Group>
        <Text size="xs" c="dimmed">
          Trigger word <code>{c.triggerWord}</code> · created {dateTime(c.createdAt)}
        </Text>
        <Group gap="xs" mih={26}>
          {lora.isPending ? (
            <Skeleton h={20} w={90} />
          ) : lora.isError ? (
            <Text size="xs" c="red">
              LoRA status unavailable
            </Text>
          ) : run ? (
            <RunStatusBadge status={run.status} size="sm" />
          ) : (
            <Badge color="gray" variant="light" size="sm">
              No LoRA yet
            </Badge>
          )}
          {lora.data?.activeVersion && (
            <Badge color={c.lora.enabled ? 'green' : 'gray'} size="sm" variant="dot">
              LoRA {c.lora.enabled ? 'on' : 'off'} · v{lora.data.activeVersion.version}
            </Badge>
          )}
        </Group>
        <Group mt="xs">
          {setupDone ? (
            <>
              <Button component={Link} to={`/characters/${c.id}/lora`} variant="light" size="xs">
                LoRA settings
              </Button>
              <Button component={Link} to={`/studio?characterId=${c.id}`} variant="light" color="grape" size="xs">
                Studio
              </Button>
            </>
          ) : (
            <Button component={Link} to={`/characters/${c.id}/setup`} variant="light" color="orange" size="xs">
              Finish setup
            </Button>
          )}
        </Group>
      </Stack>
    </Card>
  );
}
