'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { type ReactNode, Suspense, useEffect } from 'react';
import { api } from '../client/api';
import { rememberWorkspace, useMe, useWorkspaceId, useWorkspaces } from '../client/session';
import { ErrorBox, Loading } from './ui';

const NAV = [
  { href: 'connections', label: 'Connections' },
  { href: 'sources', label: 'Sources' },
  { href: 'destinations', label: 'Destinations' },
  { href: 'jobs', label: 'Jobs' },
  { href: 'settings', label: 'Settings' },
];

/** Sidebar (workspace switcher, navigation, account) around every signed-in page. */
export function AppShell({ children }: { children: ReactNode }) {
  const workspaceId = useWorkspaceId();
  const me = useMe();
  const workspaces = useWorkspaces();
  const pathname = usePathname();
  const router = useRouter();
  const qc = useQueryClient();
  const logout = useMutation({
    mutationFn: () => api.auth.logout.mutate(),
    onSuccess: () => {
      qc.clear();
      router.replace('/login');
    },
  });

  useEffect(() => {
    if (workspaces.data?.some((w) => w.id === workspaceId)) rememberWorkspace(workspaceId);
  }, [workspaces.data, workspaceId]);

  if (me.isPending || workspaces.isPending) {
    return (
      <main id="main" className="main">
        <Loading />
      </main>
    );
  }
  if (me.error || workspaces.error) {
    return (
      <main id="main" className="main">
        <ErrorBox error={me.error ?? workspaces.error} onRetry={() => void me.refetch()} />
      </main>
    );
  }
  const current = workspaces.data.find((w) => w.id === workspaceId);
  const base = `/w/${workspaceId}`;
  const nav = me.data.user.isInstanceAdmin ? [...NAV, { href: 'fleet', label: 'Fleet' }] : NAV;

  return (
    <div className="shell">
      <aside className="sidebar" aria-label="Sidebar">
        <div className="sidebar-inner">
          <Link href={`${base}/connections`} className="brand">
            <span className="brand-mark" aria-hidden="true" />
            Sluice
          </Link>
          <div>
            <label htmlFor="workspace-switcher">Workspace</label>
            <select
              id="workspace-switcher"
              value={workspaceId}
              onChange={(e) => router.push(`/w/${e.target.value}/connections`)}
            >
              {!current && <option value={workspaceId}>Unknown workspace</option>}
              {workspaces.data.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          </div>
          <nav className="nav" aria-label="Main">
            {nav.map((item) => {
              const href = `${base}/${item.href}`;
              const active = pathname === href || pathname.startsWith(`${href}/`);
              return (
                <Link key={item.href} href={href} aria-current={active ? 'page' : undefined}>
                  {item.label}
                </Link>
              );
            })}
          </nav>
          <div className="sidebar-footer">
            <span title={me.data.user.email}>{me.data.user.email}</span>
            {current && <span className="muted">Role: {current.role}</span>}
            <button
              type="button"
              className="btn small"
              onClick={() => logout.mutate()}
              disabled={logout.isPending}
            >
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main id="main" className="main">
        {!current ? (
          <ErrorBox
            error={null}
            title="This workspace does not exist, or you are not a member of it. Pick one in the sidebar."
          />
        ) : (
          <Suspense fallback={<Loading />}>{children}</Suspense>
        )}
      </main>
    </div>
  );
}
