/**
 * The character creation wizard: name and base model, the character sheet upload (each image's
 * check verdict shown), and the LoRA training toggle. Finishing saves the toggle (autoTrain) and
 * then completes the character sheet, which starts the training when the toggle is on.
 *
 * The character is created when the first step is confirmed (uploads need its id), so a wizard
 * left half-way resumes at /characters/ID/setup, linked from the characters list.
 */
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Alert, Anchor, Button, Card, FileInput, Group, Select, SimpleGrid, Stack, Stepper, Switch, Text, TextInput, Title } from '@mantine/core';
import { notifications as toasts } from '@mantine/notifications';
import { IconAlertTriangle, IconCoins, IconSparkles, IconUpload } from '@tabler/icons-react';
import { api } from '../api/client';
import { useUploadImages } from '../api/mutations';
import { invalidateCharacter, keys, useCharacter, useImages, useMe, useQuote } from '../api/queries';
import type { BaseModel, CharacterDetail, SheetCompleteResult } from '../api/types';
import { ImageCard } from '../components/image-card';
import { ErrorState, LoadingState } from '../components/query-state';
import { PriceBreakdown } from '../components/price-breakdown';
import { checkStatus } from '../status';
import { BASE_MODELS, BASE_MODEL_LABELS, credits } from '../lib/format';

const ACCEPT = 'image/png,image/jpeg,image/webp';

export function WizardScreen() {
  const { id } = useParams();
  if (!id) return <WizardFrame step={0} />;
  return <ResumeWizard id={id} />;
}

function ResumeWizard({ id }: { id: string }) {
  const character = useCharacter(id);
  if (character.isPending) return <LoadingState label="Loading the character…" />;
  if (character.isError) return <ErrorState error={character.error} onRetry={() => void character.refetch()} />;
  if (character.data.sheetCompletedAt)
    return (
      <Alert title="This character is set up" color="green">
        Its character sheet is complete.{' '}
        <Anchor component={Link} to={`/characters/${id}/lora`}>
          Open its LoRA settings
        </Anchor>
        .
      </Alert>
    );
  return <WizardFrame step={1} character={character.data} />;
}

function WizardFrame({ step: initialStep, character }: { step: number; character?: CharacterDetail }) {
  const [step, setStep] = useState(initialStep);
  useEffect(() => setStep(initialStep), [initialStep]);
  return (
    <Stack data-testid="wizard">
      <Title order={2}>{character ? `Set up ${character.name}` : 'New character'}</Title>
      <Stepper active={step} onStepClick={(s) => s < step && character && s > 0 && setStep(s)} allowNextStepsSelect={false}>
        <Stepper.Step label="Character" description="Name and base model">
          <DetailsStep onDone={() => setStep(1)} />
        </Stepper.Step>
        <Stepper.Step label="Character sheet" description="Upload images">
          {character && <UploadStep character={character} onNext={() => setStep(2)} />}
        </Stepper.Step>
        <Stepper.Step label="LoRA training" description="Consistent faces">
          {character && <TrainingStep character={character} onBack={() => setStep(1)} />}
        </Stepper.Step>
      </Stepper>
    </Stack>
  );
}

function DetailsStep({ onDone }: { onDone: () => void }) {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [baseModel, setBaseModel] = useState<BaseModel>('zimage-turbo');
  const create = useMutation({
    mutationFn: () => api('post /v1/characters', { body: { name: name.trim(), baseModel } }),
    onSuccess: async (c) => {
      await qc.invalidateQueries({ queryKey: keys.characters });
      navigate(`/characters/${c.id}/setup`, { replace: true });
      onDone();
    },
  });
  return (
    <Card withBorder maw={520} mt="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <TextInput label="Name" placeholder="Amy" value={name} onChange={(e) => setName(e.currentTarget.value)} required maxLength={100} name="name" data-autofocus />
          <Select
            label="Base model"
            description="The image model this character's LoRA is trained for."
            data={BASE_MODELS.map((m) => ({ value: m, label: BASE_MODEL_LABELS[m] }))}
            value={baseModel}
            onChange={(v) => v && setBaseModel(v as BaseModel)}
            allowDeselect={false}
            name="baseModel"
          />
          {create.isError && <ErrorState error={create.error} title="The character was not created" />}
          <Group justify="flex-end">
            <Button type="submit" loading={create.isPending} disabled={!name.trim()}>
              Next
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function UploadStep({ character, onNext }: { character: CharacterDetail; onNext: () => void }) {
  const images = useImages(character.id);
  const quote = useQuote(character.id, null);
  const upload = useUploadImages(character.id);
  const items = images.data?.items ?? [];
  const accepted = items.filter((i) => checkStatus(i.check.status).usable).length;
  const min = quote.data?.minImages ?? 5;
  return (
    <Stack mt="md">
      <Text c="dimmed" size="sm">
        Upload the character sheet: clear photos of {character.name}'s face, one face per image. Each image is checked; rejected ones are kept so you can see why,
        and are never trained on.
      </Text>
      <FileInput
        multiple
        accept={ACCEPT}
        label="Character sheet images"
        placeholder="Choose images (PNG, JPEG or WebP)"
        leftSection={<IconUpload size={16} />}
        value={[]}
        onChange={(files) => files.length && upload.mutate(files)}
        disabled={upload.isPending}
        maw={520}
        data-testid="upload"
      />
      {upload.isPending && <LoadingState label="Uploading and checking…" />}
      {upload.isError && <ErrorState error={upload.error} title="The upload was refused" />}
      {images.isPending ? (
        <LoadingState label="Loading images…" />
      ) : images.isError ? (
        <ErrorState error={images.error} onRetry={() => void images.refetch()} />
      ) : items.length === 0 ? (
        <Text c="dimmed" size="sm" data-testid="empty-state">
          No images yet.
        </Text>
      ) : (
        <SimpleGrid cols={{ base: 2, sm: 3, md: 5 }}>
          {items.map((img) => (
            <ImageCard key={img.id} image={img} />
          ))}
        </SimpleGrid>
      )}
      <Group justify="space-between">
        <Text size="sm" c={accepted >= min ? 'green' : 'orange'} data-testid="accepted-count">
          {accepted} of {items.length} images accepted · training needs at least {min}
        </Text>
        <Button onClick={onNext} disabled={items.length === 0 || upload.isPending}>
          Next
        </Button>
      </Group>
    </Stack>
  );
}

function TrainingStep({ character, onBack }: { character: CharacterDetail; onBack: () => void }) {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const quote = useQuote(character.id, null);
  const me = useMe();
  const [wanted, setWanted] = useState(character.autoTrain);

  const finish = useMutation({
    mutationFn: async (train: boolean): Promise<SheetCompleteResult> => {
      // The toggle is saved first: completing the sheet reads it to decide whether to train.
      await api('patch /v1/characters/{id}', { params: { id: character.id }, body: { autoTrain: train } });
      return api('post /v1/characters/{id}/character-sheet/complete', { params: { id: character.id } });
    },
    onSuccess: async (res) => {
      await invalidateCharacter(qc, character.id);
      // A started training announces itself (the "LoRA Training Started" notification); only a
      // training that did not start needs saying here.
      if (!res.training.started && res.training.reason !== 'auto_train_off') toasts.show({ color: 'orange', title: 'Training did not start', message: notStartedReason(res.training.reason) });
      navigate(`/characters/${character.id}/lora`);
    },
  });

  if (quote.isPending || me.isPending) return <LoadingState label="Working out the price…" />;
  if (quote.isError) return <ErrorState error={quote.error} onRetry={() => void quote.refetch()} />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;

  const q = quote.data;
  const enoughImages = q.usableImages >= q.minImages;
  const enoughCredits = me.data.credits.available >= q.charge;
  const canTrain = enoughImages && enoughCredits;
  const on = wanted && canTrain;

  return (
    <Stack mt="md" maw={640}>
      <Card withBorder padding="lg" data-testid="training-toggle-card">
        <Stack>
          <Switch
            size="lg"
            checked={on}
            disabled={!canTrain}
            onChange={(e) => setWanted(e.currentTarget.checked)}
            label={<Text fw={600}>Train a LoRA for {character.name}</Text>}
            description="Recommended"
            data-testid="training-toggle"
          />
          <Group gap="xs" align="flex-start" wrap="nowrap">
            <IconSparkles size={18} color="var(--mantine-color-violet-6)" style={{ flexShrink: 0, marginTop: 2 }} />
            <Text size="sm">
              A LoRA learns {character.name}'s face from these images, so every generated image looks like {character.name}: well over 95% face consistency,
              where face swap alone reaches about 80%. It is used automatically in every generation once it is ready.
            </Text>
          </Group>
          <PriceBreakdown quote={q} />
          <Text size="sm" c="dimmed">
            Your balance: {credits(me.data.credits.available)}. Credits are reserved when training starts and only charged if it succeeds.
          </Text>
          {!enoughImages && (
            <Alert color="orange" icon={<IconAlertTriangle />} data-testid="not-enough-images">
              Training needs at least {q.minImages} accepted images; this character has {q.usableImages}.{' '}
              <Anchor component="button" onClick={onBack}>
                Upload more
              </Anchor>
            </Alert>
          )}
          {enoughImages && !enoughCredits && (
            <Alert color="orange" icon={<IconCoins />} data-testid="not-enough-credits">
              Training costs {credits(q.charge)} and you have {credits(me.data.credits.available)}.{' '}
              <Anchor component={Link} to="/credits">
                Get more credits
              </Anchor>
            </Alert>
          )}
        </Stack>
      </Card>
      {finish.isError && <ErrorState error={finish.error} title="The character sheet was not completed" />}
      <Group justify="space-between">
        <Button variant="default" onClick={onBack}>
          Back
        </Button>
        <Button onClick={() => finish.mutate(on)} loading={finish.isPending} data-testid="finish">
          {on ? `Finish and train (${credits(q.charge)})` : 'Finish without training'}
        </Button>
      </Group>
    </Stack>
  );
}

function notStartedReason(reason: string): string {
  switch (reason) {
    case 'not_enough_images':
      return 'Not enough accepted images. Upload more and start the training from the LoRA settings.';
    case 'insufficient_credits':
      return 'Not enough credits. Add credits and start the training from the LoRA settings.';
    case 'run_already_active':
      return 'A training is already running for this character.';
    default:
      return reason;
  }
}
