/**
 * The notifications bell: unread count, the list, each entry opening its screen. Live over
 * server-sent events (EventSource cannot send headers, so the stream takes ?access_token=); a new
 * notification also refreshes the character it is about, so the settings screen moves at once.
 *
 * The admin acting for a user cannot open the stream (it would need x-likeness-user, which
 * EventSource cannot send), nor can anyone whose stream failed: they poll instead.
 */
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ActionIcon, Badge, Button, Divider, Group, Indicator, Popover, ScrollArea, Stack, Text, Tooltip, UnstyledButton } from '@mantine/core';
import { notifications as toasts } from '@mantine/notifications';
import { IconBell } from '@tabler/icons-react';
import { api } from '../api/client';
import { invalidateCharacter, keys, useNotifications } from '../api/queries';
import { useSession } from '../api/session';
import type { AppNotification } from '../api/types';
import { relativeTime } from '../lib/format';
import { ErrorState, LoadingState } from './query-state';

const POLL_MS = 10_000;

/** The screen a notification opens: its link when the UI has that screen, else the character's settings. */
export function screenFor(n: Pick<AppNotification, 'link' | 'data'>): string {
  const characterId = typeof n.data?.characterId === 'string' ? n.data.characterId : null;
  if (n.link && /^\/characters\/[^/]+\/lora$/.test(n.link)) return n.link;
  if (n.link && /^\/studio(?:\?characterId=[\w-]+)?$/.test(n.link)) return n.link;
  if (characterId) return `/characters/${characterId}/lora`;
  return '/characters';
}

type StreamState = 'connecting' | 'live' | 'polling';

function useNotificationStream(): StreamState {
  const session = useSession();
  const qc = useQueryClient();
  const [state, setState] = useState<StreamState>('connecting');
  const token = session?.kind === 'user' ? session.token : null;

  useEffect(() => {
    if (!token) {
      setState('polling');
      return;
    }
    setState('connecting');
    const es = new EventSource(`/v1/notifications/stream?access_token=${encodeURIComponent(token)}`);
    es.addEventListener('ready', () => {
      setState('live');
      // Whatever arrived while the stream was down.
      void qc.invalidateQueries({ queryKey: keys.notifications });
    });
    es.addEventListener('notification', (e) => {
      const n = JSON.parse((e as MessageEvent<string>).data) as AppNotification;
      void qc.invalidateQueries({ queryKey: keys.notifications });
      const characterId = typeof n.data?.characterId === 'string' ? n.data.characterId : null;
      if (characterId) void invalidateCharacter(qc, characterId);
      else void qc.invalidateQueries({ queryKey: keys.me });
      toasts.show({ title: n.title, message: n.body, autoClose: 6000 });
    });
    es.onerror = () => {
      // EventSource retries by itself after a dropped connection; a refused one (bad token) is
      // CLOSED for good, and the bell falls back to polling.
      setState(es.readyState === EventSource.CLOSED ? 'polling' : 'connecting');
    };
    return () => es.close();
  }, [token, qc]);
  return state;
}

export function NotificationsBell() {
  const stream = useNotificationStream();
  const list = useNotifications(true, stream === 'live' ? false : POLL_MS);
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [open, setOpen] = useState(false);

  const markRead = useMutation({
    mutationFn: (ids: string[]) => Promise.all(ids.map((id) => api('post /v1/notifications/{id}/read', { params: { id } }))),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.notifications }),
  });

  const unread = list.data?.unread ?? 0;
  const openOne = (n: AppNotification) => {
    if (!n.read) markRead.mutate([n.id]);
    setOpen(false);
    navigate(screenFor(n));
  };

  return (
    <Popover opened={open} onChange={setOpen} width={380} position="bottom-end" shadow="md">
      <Popover.Target>
        <Tooltip label={stream === 'live' ? 'Notifications (live)' : 'Notifications'} disabled={open}>
          <Indicator label={unread} size={18} disabled={unread === 0} color="red" offset={4} data-testid="bell-count" data-count={unread}>
            <ActionIcon variant="subtle" size="lg" aria-label="Notifications" onClick={() => setOpen((o) => !o)} data-testid="bell" data-stream={stream}>
              <IconBell />
            </ActionIcon>
          </Indicator>
        </Tooltip>
      </Popover.Target>
      <Popover.Dropdown p={0} data-testid="notifications-list">
        <Group justify="space-between" p="sm">
          <Text fw={600}>Notifications</Text>
          {unread > 0 && (
            <Button
              size="compact-xs"
              variant="subtle"
              onClick={() => markRead.mutate((list.data?.items ?? []).filter((n) => !n.read).map((n) => n.id))}
              loading={markRead.isPending}
            >
              Mark all read
            </Button>
          )}
        </Group>
        <Divider />
        <ScrollArea.Autosize mah={420}>
          {list.isPending ? (
            <LoadingState />
          ) : list.isError ? (
            <ErrorState error={list.error} onRetry={() => void list.refetch()} />
          ) : list.data.items.length === 0 ? (
            <Text c="dimmed" size="sm" p="md" ta="center">
              No notifications yet. You will hear here when a training starts, finishes or fails.
            </Text>
          ) : (
            <Stack gap={0}>
              {list.data.items.map((n) => (
                <UnstyledButton key={n.id} onClick={() => openOne(n)} p="sm" style={{ borderBottom: '1px solid var(--mantine-color-gray-2)' }} data-testid="notification">
                  <Group justify="space-between" wrap="nowrap" align="flex-start">
                    <Text fw={n.read ? 400 : 700} size="sm">
                      {n.title}
                    </Text>
                    <Group gap={6} wrap="nowrap">
                      {!n.read && <Badge size="xs" color="red" variant="filled" circle> </Badge>}
                      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {relativeTime(n.createdAt)}
                      </Text>
                    </Group>
                  </Group>
                  <Text size="xs" c="dimmed" mt={2}>
                    {n.body}
                  </Text>
                </UnstyledButton>
              ))}
            </Stack>
          )}
        </ScrollArea.Autosize>
      </Popover.Dropdown>
    </Popover>
  );
}
