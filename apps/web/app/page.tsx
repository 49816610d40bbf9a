'use client';

import { useRouter } from 'next/navigation';
import { useEffect } from 'react';
import { lastWorkspace, useWorkspaces } from '../src/client/session';
import { Empty, ErrorBox, Loading } from '../src/components/ui';

/** Sends a signed-in user to their last workspace (or the first one), others to the login page. */
export default function Home() {
  const router = useRouter();
  const workspaces = useWorkspaces();
  useEffect(() => {
    if (!workspaces.data) return;
    const last = lastWorkspace();
    const target = workspaces.data.find((w) => w.id === last) ?? workspaces.data[0];
    if (target) router.replace(`/w/${target.id}/connections`);
  }, [workspaces.data, router]);
  return (
    <main id="main" className="main" style={{ margin: '0 auto' }}>
      <h1 className="sr-only">Sluice</h1>
      {workspaces.error ? (
        <ErrorBox error={workspaces.error} />
      ) : workspaces.data && workspaces.data.length === 0 ? (
        <Empty title="You are not in any workspace yet">
          <p>Ask a workspace administrator to add you, or an instance administrator to create one.</p>
        </Empty>
      ) : (
        <Loading label="Opening your workspace…" />
      )}
      <noscript>
        Sluice’s dashboard needs JavaScript. The API is served at <code>/api/trpc</code> (see docs/api.md).
      </noscript>
    </main>
  );
}
