/**
 * Sign-in: a user token (what the platform's backend got from POST /v1/users), or the admin
 * token, optionally acting for a user. The token is checked against the API before it is kept.
 */
import { useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { Alert, Button, Card, Center, PasswordInput, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { IconKey, IconUserShield } from '@tabler/icons-react';
import { authHeaders } from '../api/client';
import { setSession, type Session } from '../api/session';

/** What GET /v1/me says about a token: 200 a user (or admin acting), 400 the admin alone, 401 neither. */
async function probe(session: Session): Promise<number> {
  const res = await fetch('/v1/me', { headers: authHeaders(session) });
  return res.status;
}

export function SignInScreen() {
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  const [tab, setTab] = useState<string | null>('user');
  const [token, setToken] = useState('');
  const [adminToken, setAdminToken] = useState('');
  const [actAs, setActAs] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const finish = (s: Session) => {
    setSession(s);
    navigate(from && from !== '/sign-in' ? from : '/', { replace: true });
  };

  const signInUser = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s: Session = { kind: 'user', token: token.trim() };
      const status = await probe(s);
      if (status === 200) finish(s);
      else if (status === 400) setError('That is the admin token: use the Admin tab.');
      else setError('This token is not valid.');
    } catch {
      setError('The server cannot be reached.');
    } finally {
      setBusy(false);
    }
  };

  const signInAdmin = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const bare: Session = { kind: 'admin', token: adminToken.trim(), actAs: null };
      const status = await probe(bare);
      if (status === 200) return setError('That is a user token: use the User tab.');
      if (status !== 400) return setError('This admin token is not valid.');
      const user = actAs.trim();
      if (!user) return finish(bare);
      const asUser: Session = { ...bare, actAs: user };
      const s2 = await probe(asUser);
      if (s2 === 200) finish(asUser);
      else setError(s2 === 404 ? 'No user has that id.' : 'That is not a user id.');
    } catch {
      setError('The server cannot be reached.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" bg="gray.0">
      <Card shadow="sm" padding="xl" w={440} withBorder data-testid="sign-in">
        <Stack gap="md">
          <div>
            <Title order={2}>Likeness</Title>
            <Text c="dimmed" size="sm">
              Character LoRAs: trained, stored and applied for you.
            </Text>
          </div>
          <Tabs value={tab} onChange={(t) => { setTab(t); setError(null); }}>
            <Tabs.List grow>
              <Tabs.Tab value="user" leftSection={<IconKey size={14} />}>
                User
              </Tabs.Tab>
              <Tabs.Tab value="admin" leftSection={<IconUserShield size={14} />}>
                Admin
              </Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="user" pt="md">
              <form onSubmit={signInUser}>
                <Stack>
                  <PasswordInput label="Your token" description="The platform gives each user a token." value={token} onChange={(e) => setToken(e.currentTarget.value)} required name="token" />
                  <Button type="submit" loading={busy} disabled={!token.trim()}>
                    Sign in
                  </Button>
                </Stack>
              </form>
            </Tabs.Panel>
            <Tabs.Panel value="admin" pt="md">
              <form onSubmit={signInAdmin}>
                <Stack>
                  <PasswordInput label="Admin token" description="Printed by `likeness start`, kept in data/secrets/admin-token." value={adminToken} onChange={(e) => setAdminToken(e.currentTarget.value)} required name="admin-token" />
                  <TextInput label="Act as user (optional)" description="A user id: see and change that user's characters." value={actAs} onChange={(e) => setActAs(e.currentTarget.value)} name="act-as" />
                  <Button type="submit" loading={busy} disabled={!adminToken.trim()}>
                    Sign in as admin
                  </Button>
                </Stack>
              </form>
            </Tabs.Panel>
          </Tabs>
          {error && (
            <Alert color="red" data-testid="sign-in-error">
              {error}
            </Alert>
          )}
        </Stack>
      </Card>
    </Center>
  );
}
