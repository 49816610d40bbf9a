'use client';

import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { api } from '../../../../src/client/api';
import { useWorkspaceId } from '../../../../src/client/session';
import { JobHistoryTable, useJobHistory } from '../../../../src/components/jobs';
import { ErrorBox, Loading, PageHeader } from '../../../../src/components/ui';

export default function JobsPage() {
  const workspaceId = useWorkspaceId();
  const history = useJobHistory(workspaceId);
  const connections = useQuery({
    queryKey: ['connection.list', { workspaceId }],
    queryFn: () => api.connection.list.query({ workspaceId }),
  });
  const names = useMemo(
    () => new Map(connections.data?.map((c) => [c.id, c.name]) ?? []),
    [connections.data],
  );
  const jobs = history.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle="Syncs, resets, connection tests and schema discovery in this workspace."
      />
      {history.error && <ErrorBox error={history.error} onRetry={() => void history.refetch()} />}
      {history.isPending && <Loading />}
      {history.data && jobs.length === 0 && <p className="muted">No job has run in this workspace yet.</p>}
      {jobs.length > 0 && (
        <JobHistoryTable jobs={jobs} workspaceId={workspaceId} showConnection connectionNames={names} />
      )}
      {history.hasNextPage && (
        <div className="form-actions">
          <button
            type="button"
            className="btn"
            onClick={() => void history.fetchNextPage()}
            disabled={history.isFetchingNextPage}
          >
            {history.isFetchingNextPage ? 'Loading…' : 'Load older jobs'}
          </button>
        </div>
      )}
    </>
  );
}
