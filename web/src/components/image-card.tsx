/**
 * One character image with its dataset check verdict and the reasons (why it was rejected, or what
 * the checker noticed), and optionally a like toggle and a selection box (the retrain picker).
 */
import { ActionIcon, Badge, Card, Checkbox, Group, List, Stack, Text, Tooltip } from '@mantine/core';
import { IconHeart, IconHeartFilled } from '@tabler/icons-react';
import type { CharacterImage } from '../api/types';
import { checkStatus } from '../status';
import { AuthImage } from './auth-image';

export function ImageCard({
  image,
  onToggleLike,
  likePending,
  select,
}: {
  image: CharacterImage;
  onToggleLike?: () => void;
  likePending?: boolean;
  select?: { checked: boolean; disabled: boolean; onChange: (checked: boolean) => void };
}) {
  const check = checkStatus(image.check.status);
  const CheckIcon = check.icon;
  const name = image.originalName ?? image.id.slice(0, 8);
  return (
    <Card withBorder padding="xs" data-testid="image-card" data-check={image.check.status} data-image-id={image.id}>
      <Card.Section>
        <AuthImage path={image.url} alt={name} />
      </Card.Section>
      <Stack gap={4} mt="xs">
        <Group justify="space-between" wrap="nowrap" gap={4}>
          <Badge color={check.color} variant="light" size="sm" leftSection={<CheckIcon size={12} />} data-testid="check-badge">
            {check.label}
          </Badge>
          {onToggleLike && (
            <Tooltip label={image.liked ? 'Liked: preferred for training' : 'Like: prefer it for training'}>
              <ActionIcon variant="subtle" color="pink" onClick={onToggleLike} loading={likePending} aria-label={image.liked ? 'Unlike' : 'Like'} data-testid="like">
                {image.liked ? <IconHeartFilled size={18} /> : <IconHeart size={18} />}
              </ActionIcon>
            </Tooltip>
          )}
        </Group>
        <Text size="xs" c="dimmed" truncate title={name}>
          {name} · {image.width}×{image.height}
        </Text>
        {image.check.reasons.length > 0 && (
          <List size="xs" c={check.usable ? 'dimmed' : 'red'} spacing={2} data-testid="check-reasons">
            {image.check.reasons.map((r) => (
              <List.Item key={r.code}>{r.message}</List.Item>
            ))}
          </List>
        )}
        {select && (
          <Checkbox
            size="xs"
            label="Train on this image"
            checked={select.checked}
            disabled={select.disabled}
            onChange={(e) => select.onChange(e.currentTarget.checked)}
            data-testid="select-image"
          />
        )}
      </Stack>
    </Card>
  );
}
