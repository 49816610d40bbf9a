'use client';

import { useQuery } from '@tanstack/react-query';
import { useParams } from 'next/navigation';
import { api } from './api';

const LAST_WORKSPACE = 'sluice.lastWorkspace';

export function useMe() {
  return useQuery({ queryKey: ['auth.me'], queryFn: () => api.auth.me.query(), staleTime: 60_000 });
}

export function useWorkspaces() {
  return useQuery({
    queryKey: ['workspace.list'],
    queryFn: () => api.workspace.list.query(),
    staleTime: 60_000,
  });
}

/** The workspace in the URL (`/w/<id>/…`). */
export function useWorkspaceId(): string {
  const params = useParams<{ workspaceId: string }>();
  return params.workspaceId;
}

/** The caller's role in the current workspace; readers see the pages without edit buttons. */
export function useRole(): {
  role: string | null;
  canEdit: boolean;
  isAdmin: boolean;
  instanceAdmin: boolean;
} {
  const workspaceId = useWorkspaceId();
  const workspaces = useWorkspaces();
  const me = useMe();
  const ws = workspaces.data?.find((w) => w.id === workspaceId);
  const role = ws?.role ?? null;
  const instanceAdmin = Boolean(me.data?.user.isInstanceAdmin);
  return {
    role,
    canEdit: instanceAdmin || role === 'editor' || role === 'admin',
    isAdmin: instanceAdmin || role === 'admin',
    instanceAdmin,
  };
}

export function rememberWorkspace(id: string): void {
  try {
    localStorage.setItem(LAST_WORKSPACE, id);
  } catch {
    // storage disabled: the first workspace is used instead
  }
}

export function lastWorkspace(): string | null {
  try {
    return localStorage.getItem(LAST_WORKSPACE);
  } catch {
    return null;
  }
}
