/** Every training of a character: status, when, how long, how many images, credits charged or refunded. */
import { Badge, Table, Text, Tooltip } from '@mantine/core';
import { useRuns } from '../api/queries';
import { credits, dateTime, duration } from '../lib/format';
import { EmptyState, QueryState } from './query-state';
import { RunStatusBadge } from './status-badge';

export function TrainingHistory({ characterId }: { characterId: string }) {
  const runs = useRuns(characterId);
  return (
    <QueryState query={runs} loading="Loading the training history…" isEmpty={(d) => d.items.length === 0} empty={<EmptyState title="No trainings yet" />}>
      {(d) => (
        <Table.ScrollContainer minWidth={640}>
          <Table striped verticalSpacing="xs" data-testid="training-history">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Status</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Duration</Table.Th>
                <Table.Th>Images</Table.Th>
                <Table.Th>Charged</Table.Th>
                <Table.Th>Refunded</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.items.map((r) => (
                <Table.Tr key={r.id} data-testid="history-row" data-status={r.status}>
                  <Table.Td>
                    <Tooltip label={r.error?.message ?? ''} disabled={!r.error?.message} multiline w={300}>
                      <span>
                        <RunStatusBadge status={r.status} size="sm" />
                      </span>
                    </Tooltip>
                    {r.emulated && (
                      <Badge size="xs" color="orange" variant="outline" ml={6}>
                        emulated
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{dateTime(r.createdAt)}</Text>
                  </Table.Td>
                  <Table.Td>{duration(r.durationSeconds)}</Table.Td>
                  <Table.Td>{r.imageIds.length}</Table.Td>
                  <Table.Td>
                    {r.credits.free ? (
                      <Badge size="sm" color="green" variant="light">
                        free retry
                      </Badge>
                    ) : r.credits.charged ? (
                      credits(r.credits.charged)
                    ) : r.credits.reserved ? (
                      <Text size="sm" c="dimmed">
                        {credits(r.credits.reserved)} reserved
                      </Text>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td>{r.credits.refunded ? credits(r.credits.refunded) : '—'}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </QueryState>
  );
}
