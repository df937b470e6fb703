/**
 * A character's trained LoRAs: which one is active, switch, download, delete. Downloads go
 * through the API's redirect to a signed URL (see resolveSignedUrl).
 */
import { Badge, Button, Group, Table, Text } from '@mantine/core';
import { notifications as toasts } from '@mantine/notifications';
import { IconDownload, IconTrash } from '@tabler/icons-react';
import { resolveSignedUrl } from '../api/client';
import { useDeleteLora, usePatchLora } from '../api/mutations';
import { useVersions } from '../api/queries';
import type { LoraVersion } from '../api/types';
import { baseModelLabel, bytes, dateTime } from '../lib/format';
import { ConfirmButton } from './confirm-button';
import { EmptyState, QueryState, errorMessage } from './query-state';

async function download(v: LoraVersion, part: LoraVersion['files'][number]) {
  try {
    const url = await resolveSignedUrl(`/v1/lora-models/${v.id}/download?part=${part.part}`);
    const a = document.createElement('a');
    a.href = url;
    a.download = part.fileName;
    a.click();
  } catch (err) {
    toasts.show({ color: 'red', title: 'Download failed', message: errorMessage(err) });
  }
}

export function VersionsTable({ characterId }: { characterId: string }) {
  const versions = useVersions(characterId);
  const patch = usePatchLora(characterId);
  const del = useDeleteLora(characterId);
  return (
    <QueryState
      query={versions}
      loading="Loading versions…"
      isEmpty={(d) => d.items.length === 0}
      empty={<EmptyState title="No LoRA yet">A version appears here when a training finishes.</EmptyState>}
    >
      {(d) => (
        <Table.ScrollContainer minWidth={640}>
          <Table verticalSpacing="xs" data-testid="versions">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Version</Table.Th>
                <Table.Th>Base model</Table.Th>
                <Table.Th>Trained</Table.Th>
                <Table.Th>Rank · step</Table.Th>
                <Table.Th>Size</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.items.map((v) => (
                <Table.Tr key={v.id} data-testid="version-row" data-active={v.active}>
                  <Table.Td>
                    <Group gap={6}>
                      <Text fw={600}>v{v.version}</Text>
                      {v.active && (
                        <Badge color="green" size="sm">
                          active
                        </Badge>
                      )}
                      {v.emulated && (
                        <Badge color="orange" size="xs" variant="outline">
                          emulated
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>{baseModelLabel(v.baseModel)}</Table.Td>
                  <Table.Td>{dateTime(v.createdAt)}</Table.Td>
                  <Table.Td>
                    {v.rank} · {v.checkpointStep ?? '—'}
                  </Table.Td>
                  <Table.Td>{bytes(v.sizeBytes)}</Table.Td>
                  <Table.Td>
                    <Group gap={6} justify="flex-end" wrap="nowrap">
                      {!v.active && (
                        <Button size="compact-xs" variant="light" onClick={() => patch.mutate({ activeVersionId: v.id })} loading={patch.isPending} data-testid="make-active">
                          Make active
                        </Button>
                      )}
                      {v.files.map((f) => (
                        <Button
                          key={f.part}
                          size="compact-xs"
                          variant="default"
                          leftSection={<IconDownload size={12} />}
                          onClick={() => void download(v, f)}
                          title={f.fileName}
                          data-testid="download"
                        >
                          {v.files.length > 1 ? f.part.replace('_', ' ') : 'Download'}
                        </Button>
                      ))}
                      <ConfirmButton
                        size="compact-xs"
                        variant="subtle"
                        color="red"
                        leftSection={<IconTrash size={12} />}
                        title={`Delete LoRA v${v.version}?`}
                        message={
                          v.active
                            ? 'This is the active LoRA. Its file is deleted; the newest remaining version becomes active, or generations fall back to face swap.'
                            : 'Its file and record are deleted. This cannot be undone.'
                        }
                        confirmLabel="Delete"
                        onConfirm={() => del.mutate(v.id)}
                        loading={del.isPending && del.variables === v.id}
                        data-testid="delete-version"
                      >
                        Delete
                      </ConfirmButton>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </QueryState>
  );
}
