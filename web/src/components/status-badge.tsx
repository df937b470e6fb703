/** A run's status as a badge, from the one status map. */
import { Badge } from '@mantine/core';
import { runStatus } from '../status';

export function RunStatusBadge({ status, size = 'md' }: { status: string; size?: 'sm' | 'md' | 'lg' }) {
  const info = runStatus(status);
  const Icon = info.icon;
  return (
    <Badge color={info.color} size={size} variant="light" leftSection={<Icon size={12} />} data-testid="run-status" data-status={status}>
      {info.label}
    </Badge>
  );
}
