/**
 * The admin view (admin token): create users, grant credits, and act as a user to see their
 * screens (the API's x-likeness-user header). The API has no user listing, so a user is named by
 * id. Platform metrics need API routes that do not exist yet.
 */
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Card, Code, CopyButton, Group, NumberInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications as toasts } from '@mantine/notifications';
import { api, authHeaders } from '../api/client';
import { getSession, setSession, useSession } from '../api/session';
import { ErrorState } from '../components/query-state';
import { num } from '../lib/format';

export function GrantCreditsForm({ userId: fixedUser }: { userId?: string }) {
  const qc = useQueryClient();
  const [userId, setUserId] = useState(fixedUser ?? '');
  const [amount, setAmount] = useState<number | string>(100_000);
  const [reason, setReason] = useState('top-up');
  const grant = useMutation({
    mutationFn: () => api('post /v1/users/{id}/credits', { params: { id: (fixedUser ?? userId).trim() }, body: { amount: Number(amount), reason } }),
    onSuccess: (r) => {
      toasts.show({ color: 'green', title: 'Credits granted', message: `Available now: ${num(r.credits.available)}` });
      void qc.invalidateQueries({ queryKey: ['me'] });
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        grant.mutate();
      }}
    >
      <Stack>
        {!fixedUser && <TextInput label="User id" value={userId} onChange={(e) => setUserId(e.currentTarget.value)} required name="grant-user" />}
        <Group grow>
          <NumberInput label="Credits" value={amount} onChange={setAmount} min={1} step={1000} thousandSeparator="," required name="grant-amount" />
          <TextInput label="Reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} required name="grant-reason" />
        </Group>
        {grant.isError && <ErrorState error={grant.error} title="No credits were granted" />}
        <Group justify="flex-end">
          <Button type="submit" loading={grant.isPending} disabled={!Number(amount) || !reason.trim() || !(fixedUser ?? userId).trim()}>
            Grant credits
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

function actAs(userId: string | null) {
  const s = getSession();
  if (s?.kind === 'admin') setSession({ ...s, actAs: userId });
}

export function AdminScreen() {
  const session = useSession();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [userId, setUserId] = useState('');
  const [name, setName] = useState('');

  const choose = useMutation({
    mutationFn: async (id: string) => {
      const s = getSession();
      if (s?.kind !== 'admin') throw new Error('Sign in with the admin token first.');
      const res = await fetch('/v1/me', { headers: authHeaders({ ...s, actAs: id }) });
      if (res.status === 404) throw new Error('No user has that id.');
      if (!res.ok) throw new Error('That is not a user id.');
      return id;
    },
    onSuccess: (id) => {
      qc.clear();
      actAs(id);
      navigate('/characters');
    },
  });
  const create = useMutation({ mutationFn: () => api('post /v1/users', { body: name.trim() ? { name: name.trim() } : {} }) });

  if (session?.kind !== 'admin')
    return (
      <Alert color="yellow" title="Admin only">
        Sign in with the admin token to see this screen.
      </Alert>
    );

  return (
    <Stack data-testid="admin-screen">
      <Title order={2}>Admin</Title>
      <Card withBorder padding="lg">
        <Title order={4} mb="sm">
          Act as a user
        </Title>
        {session.actAs ? (
          <Group>
            <Text size="sm">
              Acting as <Code>{session.actAs}</Code>
            </Text>
            <Button
              size="xs"
              variant="default"
              onClick={() => {
                qc.clear();
                actAs(null);
              }}
            >
              Stop acting
            </Button>
          </Group>
        ) : (
          <Text size="sm" c="dimmed" mb="sm">
            The characters, credits and notifications screens show the user you act for.
          </Text>
        )}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            choose.mutate(userId.trim());
          }}
        >
          <Group align="flex-end" mt="sm">
            <TextInput label="User id" value={userId} onChange={(e) => setUserId(e.currentTarget.value)} w={380} name="act-as-user" />
            <Button type="submit" loading={choose.isPending} disabled={!userId.trim()}>
              Act as this user
            </Button>
          </Group>
          {choose.isError && (
            <Text c="red" size="sm" mt="xs">
              {choose.error.message}
            </Text>
          )}
        </form>
      </Card>

      <Card withBorder padding="lg">
        <Title order={4} mb="sm">
          Create a user
        </Title>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Group align="flex-end">
            <TextInput label="Name (optional)" value={name} onChange={(e) => setName(e.currentTarget.value)} name="new-user-name" />
            <Button type="submit" loading={create.isPending}>
              Create user
            </Button>
          </Group>
        </form>
        {create.isError && <ErrorState error={create.error} title="No user was created" />}
        {create.data && (
          <Alert color="green" mt="md" title="User created" data-testid="created-user">
            <Stack gap={4}>
              <Text size="sm">
                Id: <Code>{create.data.id}</Code>
              </Text>
              <Group gap="xs">
                <Text size="sm">
                  Token (shown once): <Code>{create.data.token}</Code>
                </Text>
                <CopyButton value={create.data.token}>
                  {({ copied, copy }) => (
                    <Button size="compact-xs" variant="light" onClick={copy}>
                      {copied ? 'Copied' : 'Copy'}
                    </Button>
                  )}
                </CopyButton>
              </Group>
              <Group mt="xs">
                <Button size="xs" onClick={() => choose.mutate(create.data.id)}>
                  Act as this user
                </Button>
              </Group>
            </Stack>
          </Alert>
        )}
      </Card>

      <Card withBorder padding="lg">
        <Title order={4} mb="sm">
          Grant credits
        </Title>
        <GrantCreditsForm userId={session.actAs ?? undefined} />
      </Card>
    </Stack>
  );
}
