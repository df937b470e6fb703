/**
 * The character's images with their dataset check results (why an image was rejected), likes,
 * and the retrain picker: choose the images, see the price (free after a failed training), start.
 */
import { useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { Alert, Anchor, Button, Group, SimpleGrid, Stack, Text } from '@mantine/core';
import { IconHeart, IconRefresh } from '@tabler/icons-react';
import { useStartTraining, useToggleLike } from '../api/mutations';
import { useImages, useMe, useQuote } from '../api/queries';
import type { CharacterImage, LoraSummary } from '../api/types';
import { checkStatus } from '../status';
import { credits } from '../lib/format';
import { ImageCard } from './image-card';
import { PriceBreakdown } from './price-breakdown';
import { EmptyState, QueryState } from './query-state';

/** crypto.randomUUID exists only in secure contexts; Likeness may be served over plain http on a LAN. */
function randomKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The picker's starting selection: liked images (most recently liked first), then the other
 * accepted images in upload order until the minimum is reached, as the server itself picks when
 * given no list; so the default is always trainable when enough images are usable.
 */
export function defaultSelection(images: CharacterImage[], min: number, max: number): Set<string> {
  const usable = images.filter((i) => checkStatus(i.check.status).usable);
  const liked = usable.filter((i) => i.liked).sort((a, b) => (b.likedAt ?? '').localeCompare(a.likedAt ?? ''));
  const chosen = liked.slice(0, max).map((i) => i.id);
  for (const i of usable) {
    if (chosen.length >= min) break;
    if (!chosen.includes(i.id)) chosen.push(i.id);
  }
  return new Set(chosen);
}

/**
 * Usable images liked since the active LoRA was trained (DESIGN: counted from when they were
 * liked): a reason to retrain. The API does not count them yet, so the screen does.
 */
function newLikedCount(images: CharacterImage[], lora: LoraSummary): number {
  const trainedAt = lora.activeVersion?.createdAt;
  if (!trainedAt) return 0;
  return images.filter((i) => i.liked && i.likedAt && i.likedAt > trainedAt && checkStatus(i.check.status).usable).length;
}

export function DatasetPanel({ characterId, lora }: { characterId: string; lora: LoraSummary }) {
  const images = useImages(characterId);
  return (
    <QueryState
      query={images}
      loading="Loading images…"
      isEmpty={(d) => d.items.length === 0}
      empty={
        <EmptyState title="No images">
          Upload the character sheet in the{' '}
          <Anchor component={Link} to={`/characters/${characterId}/setup`}>
            setup
          </Anchor>
          .
        </EmptyState>
      }
    >
      {(d) => <Picker characterId={characterId} lora={lora} images={d.items} />}
    </QueryState>
  );
}

function Picker({ characterId, lora, images }: { characterId: string; lora: LoraSummary; images: CharacterImage[] }) {
  const baseQuote = useQuote(characterId, null);
  const min = baseQuote.data?.minImages ?? 5;
  const max = baseQuote.data?.maxImages ?? 10;
  const [selected, setSelected] = useState<Set<string> | null>(null);
  // Starts from the default once the limits are known; the user's choice is kept afterwards.
  useEffect(() => {
    if (selected === null && baseQuote.data) setSelected(defaultSelection(images, min, max));
  }, [selected, baseQuote.data, images, min, max]);
  const chosen = useMemo(() => [...(selected ?? [])].filter((id) => images.some((i) => i.id === id && checkStatus(i.check.status).usable)), [selected, images]);
  const quote = useQuote(characterId, chosen.length);
  const me = useMe();
  const like = useToggleLike(characterId);
  const train = useStartTraining(characterId);

  const running = lora.currentRun !== null;
  const countOk = chosen.length >= min && chosen.length <= max;
  const affordable = quote.data && me.data ? me.data.credits.available >= quote.data.charge : false;
  const fresh = newLikedCount(images, lora);
  const usable = images.filter((i) => checkStatus(i.check.status).usable).length;

  const toggle = (id: string, on: boolean) =>
    setSelected((prev) => {
      const next = new Set(prev ?? []);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });

  return (
    <Stack data-testid="dataset">
      {fresh > 0 && (
        <Alert color="pink" icon={<IconHeart />} title="Improve your model" data-testid="retrain-banner">
          You have {fresh} new liked image{fresh === 1 ? '' : 's'}. Retrain your LoRA for better results!
        </Alert>
      )}
      <Group justify="space-between" align="flex-end" data-testid="retrain">
        <Stack gap={4}>
          <Text fw={600}>{lora.activeVersion || lora.lastRun ? 'Retrain' : 'Train'} with the selected images</Text>
          <Text size="sm" c={countOk ? 'dimmed' : 'orange'} data-testid="selected-count">
            {chosen.length} selected · between {min} and {max} · {usable} of {images.length} images usable
          </Text>
          {quote.data && <PriceBreakdown quote={quote.data} />}
        </Stack>
        <Stack gap={4} align="flex-end">
          <Button
            leftSection={<IconRefresh size={16} />}
            disabled={running || !countOk || !affordable}
            loading={train.isPending}
            onClick={() => train.mutate({ imageIds: chosen, idempotencyKey: randomKey() })}
            data-testid="retrain-button"
          >
            {quote.data?.free ? 'Retrain for free' : `Retrain (${credits(quote.data?.charge ?? 0)})`}
          </Button>
          {running && (
            <Text size="xs" c="dimmed">
              A training is running.
            </Text>
          )}
          {!running && quote.data && me.data && !affordable && (
            <Text size="xs" c="orange">
              Not enough credits.{' '}
              <Anchor component={Link} to="/credits" size="xs">
                Get credits
              </Anchor>
            </Text>
          )}
        </Stack>
      </Group>
      <SimpleGrid cols={{ base: 2, sm: 3, md: 5 }}>
        {images.map((img) => {
          const isUsable = checkStatus(img.check.status).usable;
          const isChosen = chosen.includes(img.id);
          return (
            <ImageCard
              key={img.id}
              image={img}
              onToggleLike={() => like.mutate({ imageId: img.id, liked: !img.liked })}
              likePending={like.isPending && like.variables?.imageId === img.id}
              select={isUsable ? { checked: isChosen, disabled: !isChosen && chosen.length >= max, onChange: (on) => toggle(img.id, on) } : undefined}
            />
          );
        })}
      </SimpleGrid>
    </Stack>
  );
}
