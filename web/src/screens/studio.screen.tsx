/**
 * The studio: generate images of a character (prompt, base model, count, optional seed). Before
 * generating it shows the plan the API would pick now (LoRA, face swap or plain, and why); after,
 * it follows the generation to its end and shows each image with its identity score, a match badge
 * and a like button.
 *
 * State lives in the URL (?characterId=…&generation=…): the "LoRA Training Complete" notification
 * opens /studio?characterId=…, and a reload keeps the generation on screen.
 */
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { Alert, Anchor, Badge, Button, Card, Group, Image, List, Loader, NumberInput, Select, SimpleGrid, Stack, Text, Textarea, Title, Tooltip, ActionIcon } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconAlertTriangle, IconHeart, IconHeartFilled, IconThumbDown, IconThumbDownFilled, IconThumbUp, IconThumbUpFilled, IconWand } from '@tabler/icons-react';
import { useCreateGeneration, useGeneratedFeedback } from '../api/mutations';
import { useCharacters, useGeneration, usePlan } from '../api/queries';
import type { BaseModel, Character, GeneratedImage, Generation, GenerationPlan } from '../api/types';
import { EmptyState, ErrorState, LoadingState, QueryState } from '../components/query-state';
import { BASE_MODELS, baseModelLabel, duration } from '../lib/format';
import { generationMethod, generationStatus, identityVerdict } from '../status';

/** The API's limit (src/api/routes/generations.routes.ts). */
const MAX_COUNT = 8;

export function StudioScreen() {
  const characters = useCharacters();
  const [params, setParams] = useSearchParams();
  const characterId = params.get('characterId');
  const generationId = params.get('generation');

  return (
    <Stack data-testid="studio-screen">
      <Title order={2}>Studio</Title>
      <QueryState
        query={characters}
        loading="Loading your characters…"
        isEmpty={(d) => d.items.length === 0}
        empty={
          <EmptyState title="No characters yet">
            <Anchor component={Link} to="/characters/new">
              Create a character
            </Anchor>{' '}
            first: the studio generates images of it.
          </EmptyState>
        }
      >
        {(d) => {
          const selected = characterId ? (d.items.find((c) => c.id === characterId) ?? null) : null;
          return (
            <Stack>
              <Select
                label="Character"
                placeholder="Pick a character"
                data={d.items.map((c) => ({ value: c.id, label: c.name }))}
                value={selected?.id ?? null}
                onChange={(id) => setParams(id ? { characterId: id } : {})}
                allowDeselect={false}
                maw={360}
                data-testid="studio-character"
              />
              {characterId && !selected ? (
                <Alert color="red" icon={<IconAlertTriangle />} title="Character not found" data-testid="error-state">
                  No character of yours has the id {characterId}. Pick one above.
                </Alert>
              ) : selected ? (
                // Keyed: another character starts from its own base model and an empty form.
                <StudioForm
                  key={selected.id}
                  character={selected}
                  onGenerated={(id) => setParams({ characterId: selected.id, generation: id })}
                />
              ) : (
                <EmptyState title="Pick a character">The studio shows how its images will be made before you generate them.</EmptyState>
              )}
              {selected && generationId && <GenerationResult id={generationId} characterId={selected.id} />}
            </Stack>
          );
        }}
      </QueryState>
    </Stack>
  );
}

function StudioForm({ character, onGenerated }: { character: Character; onGenerated: (id: string) => void }) {
  const [prompt, setPrompt] = useState('');
  const [baseModel, setBaseModel] = useState<BaseModel>(character.baseModel);
  const [count, setCount] = useState<number | string>(1);
  const [seed, setSeed] = useState<number | string>('');
  const [debouncedPrompt] = useDebouncedValue(prompt.trim(), 400);
  const plan = usePlan(character.id, baseModel, debouncedPrompt);
  const create = useCreateGeneration();

  const countOk = Number.isInteger(Number(count)) && Number(count) >= 1 && Number(count) <= MAX_COUNT;
  const submit = () =>
    create.mutate(
      {
        characterId: character.id,
        prompt: prompt.trim(),
        baseModel,
        count: Number(count),
        ...(seed !== '' ? { seed: Number(seed) } : {}),
        idempotencyKey: crypto.randomUUID(),
      },
      { onSuccess: (g) => onGenerated(g.id) },
    );

  return (
    <Card withBorder padding="lg">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <Stack>
          <Textarea
            label="Prompt"
            description={`The trigger word "${character.triggerWord}" is added for you when the LoRA is used.`}
            placeholder="portrait in a sunlit café, 35 mm, shallow depth of field"
            value={prompt}
            onChange={(e) => setPrompt(e.currentTarget.value)}
            autosize
            minRows={2}
            maxLength={4000}
            name="prompt"
            required
          />
          <Group grow align="flex-start">
            <Select
              label="Base model"
              data={BASE_MODELS.map((m) => ({ value: m, label: baseModelLabel(m) }))}
              value={baseModel}
              onChange={(m) => m && setBaseModel(m as BaseModel)}
              allowDeselect={false}
              name="base-model"
            />
            <NumberInput label="Images" value={count} onChange={setCount} min={1} max={MAX_COUNT} clampBehavior="strict" allowDecimal={false} name="count" />
            <NumberInput label="Seed (optional)" placeholder="random" value={seed} onChange={setSeed} min={0} allowDecimal={false} allowNegative={false} name="seed" />
          </Group>
          <PlanPreview query={plan} hasPrompt={debouncedPrompt.length > 0} />
          {create.isError && <ErrorState error={create.error} title="Nothing was generated" />}
          <Group justify="flex-end">
            <Button type="submit" leftSection={<IconWand size={16} />} loading={create.isPending} disabled={!prompt.trim() || !countOk} data-testid="generate">
              Generate
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function MethodBadge({ method, testId }: { method: string; testId?: string }) {
  const info = generationMethod(method);
  const Icon = info.icon;
  return (
    <Tooltip label={info.hint} disabled={!info.hint}>
      <Badge color={info.color} variant="light" leftSection={<Icon size={12} />} data-testid={testId} data-method={method}>
        {info.label}
      </Badge>
    </Tooltip>
  );
}

function PlanDetails({ plan }: { plan: GenerationPlan }) {
  return (
    <Stack gap={4}>
      <Text size="sm" data-testid="plan-reason">
        {plan.reason}
      </Text>
      {plan.fallback && (
        <Text size="xs" c="dimmed">
          If the LoRA cannot be loaded: {generationMethod(plan.fallback.method).label.toLowerCase()}. {plan.fallback.reason}
        </Text>
      )}
    </Stack>
  );
}

function PlanPreview({ query, hasPrompt }: { query: ReturnType<typeof usePlan>; hasPrompt: boolean }) {
  return (
    <Card bg="gray.0" padding="sm" data-testid="plan-preview">
      <Group gap="xs" mb={4}>
        <Text fw={600} size="sm">
          How the images will be made
        </Text>
        {query.isFetching && <Loader size="xs" />}
        {hasPrompt && query.data && <MethodBadge method={query.data.method} testId="plan-method" />}
      </Group>
      {!hasPrompt ? (
        <Text size="sm" c="dimmed">
          Write a prompt to see the plan: LoRA, face swap or plain, and why.
        </Text>
      ) : query.isError ? (
        <ErrorState error={query.error} title="The plan is unavailable" onRetry={() => void query.refetch()} />
      ) : query.data ? (
        <PlanDetails plan={query.data.plan} />
      ) : (
        <LoadingState label="Planning…" />
      )}
    </Card>
  );
}

function GenerationResult({ id, characterId }: { id: string; characterId: string }) {
  const generation = useGeneration(id);
  return (
    <QueryState query={generation} loading="Loading the generation…">
      {(g) => (g.characterId === characterId ? <GenerationCard generation={g} /> : <EmptyState title="This generation is of another character" />)}
    </QueryState>
  );
}

function GenerationCard({ generation: g }: { generation: Generation }) {
  const status = generationStatus(g.status);
  const StatusIcon = status.icon;
  const feedback = useGeneratedFeedback(g.id, g.characterId);
  const elapsed = g.startedAt ? ((g.finishedAt ? new Date(g.finishedAt).getTime() : Date.now()) - new Date(g.startedAt).getTime()) / 1000 : null;

  return (
    <Card withBorder padding="lg" data-testid="generation" data-status={g.status} data-method={g.method}>
      <Stack>
        <Group justify="space-between">
          <Group gap="xs">
            <Badge color={status.color} variant="light" leftSection={<StatusIcon size={12} />} data-testid="generation-status" data-status={g.status}>
              {status.label}
            </Badge>
            <MethodBadge method={g.method} testId="generation-method" />
            <Badge variant="outline">{baseModelLabel(g.baseModel)}</Badge>
            {g.emulated && (
              <Badge color="orange" variant="light" title="Made by the GPU emulator: left out of the platform's metrics.">
                Emulated
              </Badge>
            )}
          </Group>
          <Text size="xs" c="dimmed">
            {g.images.length} of {g.count} image{g.count === 1 ? '' : 's'} · {g.attempts} attempt{g.attempts === 1 ? '' : 's'} · seed {g.seed}
            {elapsed !== null && ` · ${duration(elapsed)}`}
          </Text>
        </Group>
        <PlanDetails plan={{ ...g.plan, reason: g.planReason }} />
        {g.fallbacks.length > 0 && (
          <Alert color="yellow" title="Method changed while generating" data-testid="fallbacks">
            <List size="sm">
              {g.fallbacks.map((f, i) => (
                <List.Item key={i}>
                  Image {f.slot + 1}: {generationMethod(f.from).label} → {generationMethod(f.to).label}. {f.reason}
                </List.Item>
              ))}
            </List>
          </Alert>
        )}
        {g.error && (
          <Alert color="red" icon={<IconAlertTriangle />} title="The generation failed" data-testid="generation-error">
            {g.error.message ?? g.error.code}
          </Alert>
        )}
        {status.active && (
          <Group gap="sm" data-testid="generation-progress">
            <Loader size="sm" />
            <Text size="sm" c="dimmed">
              {status.label}: every image is checked against the character's face before it is delivered.
            </Text>
          </Group>
        )}
        {g.images.length > 0 ? (
          <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
            {g.images.map((img) => (
              <GeneratedImageCard
                key={img.id}
                image={img}
                planned={g.method}
                pending={feedback.isPending && feedback.variables.imageId === img.id ? (feedback.variables.liked !== undefined ? 'like' : 'answer') : null}
                onToggleLike={() => feedback.mutate({ imageId: img.id, liked: !img.liked })}
                onAnswer={(yes) => feedback.mutate({ imageId: img.id, looksLikeCharacter: img.looksLikeCharacter === yes ? null : yes })}
              />
            ))}
          </SimpleGrid>
        ) : (
          !status.active && <EmptyState title="No images were delivered">{g.error ? 'See the error above.' : null}</EmptyState>
        )}
      </Stack>
    </Card>
  );
}

function GeneratedImageCard({
  image,
  planned,
  pending,
  onToggleLike,
  onAnswer,
}: {
  image: GeneratedImage;
  planned: string;
  pending: 'like' | 'answer' | null;
  onToggleLike: () => void;
  onAnswer: (yes: boolean) => void;
}) {
  const verdict = identityVerdict(image.identity);
  const VerdictIcon = verdict.icon;
  const similarity = image.identity.similarity;
  return (
    <Card withBorder padding="xs" data-testid="generated-image" data-image-id={image.id} data-verdict={verdict.verdict}>
      <Card.Section>
        <Image src={image.url} alt={`Image ${image.slot + 1}`} h={200} fit="cover" fallbackSrc="data:image/gif;base64,R0lGODlhAQABAAAAACw=" />
      </Card.Section>
      <Stack gap={4} mt="xs">
        <Group justify="space-between" wrap="nowrap" gap={4}>
          <Badge color={verdict.color} variant="light" size="sm" leftSection={<VerdictIcon size={12} />} data-testid="match-badge" data-verdict={verdict.verdict}>
            {verdict.label}
          </Badge>
          <Tooltip label={image.liked ? 'Liked: used for the next training' : 'Like: use it for the next training'}>
            <ActionIcon variant="subtle" color="pink" onClick={onToggleLike} loading={pending === 'like'} aria-label={image.liked ? 'Unlike' : 'Like'} data-testid="like-generated" data-liked={image.liked}>
              {image.liked ? <IconHeartFilled size={18} /> : <IconHeart size={18} />}
            </ActionIcon>
          </Tooltip>
        </Group>
        <Text size="sm" data-testid="identity-score">
          Identity score {similarity === null ? '—' : similarity.toFixed(2)}
        </Text>
        <Group gap={4}>
          {image.method && image.method !== planned && <MethodBadge method={image.method} />}
          {image.identity.flagged && (
            <Badge color="yellow" variant="light" size="xs" title="No attempt reached the identity threshold: the best one was delivered.">
              Best effort
            </Badge>
          )}
          {image.identity.copyPaste && (
            <Badge color="red" variant="light" size="xs" title="Too close to a character-sheet image: likely a copy.">
              Copy of a reference
            </Badge>
          )}
        </Group>
        <Group gap={4} wrap="nowrap" data-testid="looks-like" data-answer={String(image.looksLikeCharacter)}>
          <Text size="xs" c="dimmed">
            Looks like the character?
          </Text>
          <ActionIcon size="sm" variant="subtle" color="green" onClick={() => onAnswer(true)} disabled={pending === 'answer'} aria-label="Looks like the character" data-testid="looks-like-yes">
            {image.looksLikeCharacter === true ? <IconThumbUpFilled size={16} /> : <IconThumbUp size={16} />}
          </ActionIcon>
          <ActionIcon size="sm" variant="subtle" color="red" onClick={() => onAnswer(false)} disabled={pending === 'answer'} aria-label="Does not look like the character" data-testid="looks-like-no">
            {image.looksLikeCharacter === false ? <IconThumbDownFilled size={16} /> : <IconThumbDown size={16} />}
          </ActionIcon>
        </Group>
        <Text size="xs" c="dimmed">
          {image.attempts} attempt{image.attempts === 1 ? '' : 's'}
          {image.seed !== null && ` · seed ${image.seed}`}
          {image.identity.faceCount !== null && image.identity.faceCount !== 1 && ` · ${image.identity.faceCount} faces`}
        </Text>
      </Stack>
    </Card>
  );
}
