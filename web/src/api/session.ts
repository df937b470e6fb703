/**
 * Who the UI is signed in as: a user token, or the admin token optionally acting for a user
 * (sent as x-likeness-user). Kept in localStorage so a reload or a deep link from a notification
 * stays signed in; components subscribe with useSession().
 */
import { useSyncExternalStore } from 'react';

export type Session = { kind: 'user'; token: string } | { kind: 'admin'; token: string; actAs: string | null };

const KEY = 'likeness.session';
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session> & { actAs?: string | null };
    if (typeof s.token !== 'string' || !s.token) return null;
    return s.kind === 'admin' ? { kind: 'admin', token: s.token, actAs: s.actAs || null } : { kind: 'user', token: s.token };
  } catch {
    return null; // unreadable storage: signed out
  }
}

export function getSession(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  current = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  for (const l of listeners) l();
}

export function signOut(): void {
  setSession(null);
}

/** Whether user-scoped screens can work: a user token, or the admin acting for a user. */
export function actsForUser(s: Session | null): boolean {
  return s !== null && (s.kind === 'user' || s.actAs !== null);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // Another tab signing in or out.
  const onStorage = (e: StorageEvent) => {
    if (e.key === KEY) {
      current = read();
      listener();
    }
  };
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

export function useSession(): Session | null {
  return useSyncExternalStore(subscribe, getSession);
}
