/**
 * The app: providers (Mantine, TanStack Query, router), the shell (header with navigation,
 * credits, the notifications bell) and the routes. Paths match the links the API puts in
 * notifications (/characters/ID/lora), and the server answers any of them with index.html.
 */
import { useEffect, type ReactNode } from 'react';
import { BrowserRouter, Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Alert, Anchor, AppShell, Badge, Button, Container, Group, MantineProvider, Title, createTheme } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { IconCoins, IconCpu, IconLogout, IconUserShield } from '@tabler/icons-react';
import { ApiError, setUnauthorizedHandler } from './api/client';
import { useHealth, useMe } from './api/queries';
import { actsForUser, signOut, useSession } from './api/session';
import { NotificationsBell } from './components/notifications-bell';
import { num } from './lib/format';
import { SignInScreen } from './screens/sign-in.screen';
import { CharactersScreen } from './screens/characters.screen';
import { WizardScreen } from './screens/wizard.screen';
import { LoraSettingsScreen } from './screens/lora-settings.screen';
import { CreditsScreen } from './screens/credits.screen';
import { AdminScreen } from './screens/admin.screen';
import { MetricsScreen } from './screens/metrics.screen';
import { StudioScreen } from './screens/studio.screen';
import { EmptyState } from './components/query-state';

const theme = createTheme({ primaryColor: 'violet', defaultRadius: 'md' });

const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (err) => {
      if (err instanceof ApiError && err.status === 401) signOut();
    },
  }),
  defaultOptions: {
    queries: {
      // A 4xx will not fix itself by asking again.
      retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
      staleTime: 5_000,
    },
  },
});
setUnauthorizedHandler(signOut);

export function App() {
  return (
    <MantineProvider theme={theme}>
      {/* Bottom: toasts must not cover the header's bell and balance. */}
      <Notifications position="bottom-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <AppRoutes />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}

function AppRoutes() {
  const session = useSession();
  const location = useLocation();
  // Signing out (or a revoked token) leaves nothing cached for the next person at this browser.
  useEffect(() => {
    if (!session) queryClient.clear();
  }, [session]);

  if (!session) {
    return (
      <Routes>
        <Route path="/sign-in" element={<SignInScreen />} />
        <Route path="*" element={<Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />} />
      </Routes>
    );
  }
  const user = actsForUser(session);
  return (
    <Shell>
      <Routes>
        <Route path="/" element={<Navigate to={user ? '/characters' : '/admin'} replace />} />
        <Route path="/sign-in" element={<Navigate to="/" replace />} />
        <Route path="/admin" element={<AdminScreen />} />
        <Route path="/admin/metrics" element={<MetricsScreen />} />
        <Route path="/studio" element={<NeedsUser>{<StudioScreen />}</NeedsUser>} />
        <Route path="/characters" element={<NeedsUser>{<CharactersScreen />}</NeedsUser>} />
        <Route path="/characters/new" element={<NeedsUser>{<WizardScreen />}</NeedsUser>} />
        <Route path="/characters/:id/setup" element={<NeedsUser>{<WizardScreen />}</NeedsUser>} />
        <Route path="/characters/:id/lora" element={<NeedsUser>{<LoraSettingsScreen />}</NeedsUser>} />
        <Route path="/characters/:id" element={<NeedsUser>{<LoraSettingsScreen />}</NeedsUser>} />
        <Route path="/credits" element={<NeedsUser>{<CreditsScreen />}</NeedsUser>} />
        <Route
          path="*"
          element={
            <EmptyState title="No such page">
              <Anchor component={Link} to="/">
                Back to the start
              </Anchor>
            </EmptyState>
          }
        />
      </Routes>
    </Shell>
  );
}

/** User screens need a user: the admin picks one to act for first. */
function NeedsUser({ children }: { children: ReactNode }) {
  const session = useSession();
  if (actsForUser(session)) return <>{children}</>;
  return (
    <Alert color="yellow" title="Choose a user" icon={<IconUserShield />}>
      You are signed in with the admin token. Pick a user to act for on the{' '}
      <Anchor component={Link} to="/admin">
        admin screen
      </Anchor>
      .
    </Alert>
  );
}

function Shell({ children }: { children: ReactNode }) {
  const session = useSession();
  const user = actsForUser(session);
  const me = useMe(user);
  const health = useHealth();
  return (
    <AppShell header={{ height: 60 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="lg">
            <Anchor component={Link} to="/" underline="never" c="inherit">
              <Title order={3}>Likeness</Title>
            </Anchor>
            {user && (
              <Anchor component={NavLink} to="/characters" c="dark">
                Characters
              </Anchor>
            )}
            {user && (
              <Anchor component={NavLink} to="/studio" c="dark">
                Studio
              </Anchor>
            )}
            {user && (
              <Anchor component={NavLink} to="/credits" c="dark">
                Credits
              </Anchor>
            )}
            {session?.kind === 'admin' && (
              <Anchor component={NavLink} to="/admin" end c="dark">
                Admin
              </Anchor>
            )}
            {session?.kind === 'admin' && (
              <Anchor component={NavLink} to="/admin/metrics" c="dark">
                Metrics
              </Anchor>
            )}
          </Group>
          <Group gap="sm">
            {health.data?.emulated && (
              <Badge color="orange" variant="light" leftSection={<IconCpu size={12} />} title="No GPU provider is configured: trainings run on the GPU emulator.">
                Emulated training
              </Badge>
            )}
            {session?.kind === 'admin' && (
              <Badge color="grape" variant="light" leftSection={<IconUserShield size={12} />}>
                {session.actAs ? `Admin as ${session.actAs.slice(0, 8)}…` : 'Admin'}
              </Badge>
            )}
            {user && me.data && (
              <Button component={Link} to="/credits" variant="light" size="xs" leftSection={<IconCoins size={14} />} data-testid="header-credits">
                {num(me.data.credits.available)}
              </Button>
            )}
            {user && <NotificationsBell />}
            <Button variant="subtle" size="xs" color="gray" leftSection={<IconLogout size={14} />} onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Main>
        <Container size="lg">{children}</Container>
      </AppShell.Main>
    </AppShell>
  );
}
