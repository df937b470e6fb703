/**
 * Credits: what is available and what is reserved by trainings in progress (charged only when
 * they succeed). The admin acting for a user can grant credits here too.
 */
import { Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useMe } from '../api/queries';
import { useSession } from '../api/session';
import { QueryState } from '../components/query-state';
import { GrantCreditsForm } from './admin.screen';
import { num } from '../lib/format';

function Stat({ label, value, hint, testId }: { label: string; value: number; hint: string; testId: string }) {
  return (
    <Card withBorder padding="lg">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl" data-testid={testId}>
        {num(value)}
      </Text>
      <Text size="xs" c="dimmed">
        {hint}
      </Text>
    </Card>
  );
}

export function CreditsScreen() {
  const me = useMe();
  const session = useSession();
  return (
    <Stack data-testid="credits-screen">
      <Title order={2}>Credits</Title>
      <QueryState query={me} loading="Loading your balance…">
        {(d) => (
          <Stack>
            <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
              <Stat label="Available" value={d.credits.available} hint="What new trainings can use." testId="credits-available" />
              <Stat label="Reserved" value={d.credits.reserved} hint="Held by trainings in progress; released if they fail." testId="credits-reserved" />
              <Stat label="Granted" value={d.credits.granted} hint="Everything added to your account." testId="credits-granted" />
              <Stat label="Spent" value={d.credits.spent} hint="Charged for successful trainings." testId="credits-spent" />
            </SimpleGrid>
            {session?.kind === 'admin' ? (
              <Card withBorder padding="lg" maw={520}>
                <Title order={4} mb="sm">
                  Grant credits to this user
                </Title>
                <GrantCreditsForm userId={d.id} />
              </Card>
            ) : (
              <Group>
                <Text size="sm" c="dimmed">
                  Credits are added by the platform. 1 credit is about $0.001; a LoRA training costs a base price plus a price per image.
                </Text>
              </Group>
            )}
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
