'use client';

import { useQuery } from '@tanstack/react-query';
import { useParams } from 'next/navigation';
import { api } from '../../../../../src/client/api';
import { useWorkspaceId } from '../../../../../src/client/session';
import { JobDetail, useJob } from '../../../../../src/components/jobs';
import { PageHeader } from '../../../../../src/components/ui';

export default function JobPage() {
  const workspaceId = useWorkspaceId();
  const { jobId } = useParams<{ jobId: string }>();
  const job = useJob(jobId);
  const connectionId = job.data?.connectionId ?? null;
  const connection = useQuery({
    queryKey: ['connection.get', { connectionId }],
    queryFn: () => api.connection.get.query({ connectionId: connectionId! }),
    enabled: Boolean(connectionId),
    retry: false,
  });
  const crumbs = [
    { href: `/w/${workspaceId}/jobs`, label: 'Jobs' },
    ...(connection.data
      ? [
          {
            href: `/w/${workspaceId}/connections/${connection.data.id}?tab=jobs`,
            label: connection.data.name,
          },
        ]
      : []),
  ];
  return (
    <>
      <PageHeader
        title={job.data ? `${job.data.type[0]!.toUpperCase()}${job.data.type.slice(1)} job` : 'Job'}
        subtitle={<span className="mono">{jobId}</span>}
        crumbs={crumbs}
      />
      <JobDetail jobId={jobId} workspaceId={workspaceId} />
    </>
  );
}
