/** A training's price: base + images x per-image = total, and "free" for a retry after a failure. */
import { Badge, Group, Stack, Text } from '@mantine/core';
import type { Quote } from '../api/types';
import { credits, minutes, num } from '../lib/format';

export function PriceBreakdown({ quote, showTime = true }: { quote: Quote; showTime?: boolean }) {
  return (
    <Stack gap={4} data-testid="price-breakdown">
      <Group gap="xs">
        <Text fw={700} size="lg" td={quote.free ? 'line-through' : undefined} c={quote.free ? 'dimmed' : undefined} data-testid="price-total">
          {credits(quote.total)}
        </Text>
        {quote.free && (
          <Badge color="green" data-testid="price-free">
            Free — retry after a failed training
          </Badge>
        )}
      </Group>
      <Text size="sm" c="dimmed" data-testid="price-formula">
        {num(quote.base)} base + {quote.imageCount} images × {num(quote.perImage)} = {num(quote.total)}
      </Text>
      {showTime && (
        <Text size="sm" c="dimmed">
          Estimated training time: {minutes(quote.estimatedMinutes)}
        </Text>
      )}
    </Stack>
  );
}
