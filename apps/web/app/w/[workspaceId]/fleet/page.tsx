'use client';

import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { api } from '../../../../src/client/api';
import { useRole, useWorkspaceId } from '../../../../src/client/session';
import { ErrorBox, Loading, Notice, PageHeader, StatusBadge, useNow } from '../../../../src/components/ui';
import { ActiveWorkloads, FleetOverview } from '../../../../src/lib/fleet';
import { formatCount, formatDateTime, formatDuration, formatRelative } from '../../../../src/lib/format';

export default function FleetPage() {
  const workspaceId = useWorkspaceId();
  const { instanceAdmin } = useRole();
  const now = useNow(1000);
  const depth = useQuery({
    queryKey: ['workload.admin.queueDepth'],
    queryFn: () => api.workload.admin.queueDepth.query(),
    refetchInterval: 3000,
    enabled: instanceAdmin,
  });
  const fleet = useQuery({
    queryKey: ['workload.admin.fleet'],
    queryFn: async () => FleetOverview.parse(await api.workload.admin.fleet.query()),
    refetchInterval: 3000,
    enabled: instanceAdmin,
  });
  const active = useQuery({
    queryKey: ['workload.admin.listActive'],
    queryFn: async () => ActiveWorkloads.parse(await api.workload.admin.listActive.query({ limit: 200 })),
    refetchInterval: 3000,
    enabled: instanceAdmin,
  });
  const age = (iso: string | null | undefined) => (iso ? formatDuration(now - Date.parse(iso)) : '—');

  if (!instanceAdmin) {
    return (
      <>
        <PageHeader title="Fleet" />
        <ErrorBox error={null} title="Only instance administrators can see the fleet." />
      </>
    );
  }
  return (
    <>
      <PageHeader
        title="Fleet"
        subtitle="Workload queues, the workers and launchers serving them, and what runs now."
      />
      <section className="card" aria-labelledby="queues-title">
        <h2 id="queues-title">Queues by dataplane group</h2>
        {depth.error && <ErrorBox error={depth.error} />}
        {depth.isPending && <Loading />}
        {depth.data && depth.data.length === 0 && <p className="muted">No dataplane group has workloads.</p>}
        {depth.data && depth.data.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Group</th>
                  <th scope="col" className="num">
                    Pending
                  </th>
                  <th scope="col" className="num">
                    Claimed
                  </th>
                  <th scope="col" className="num">
                    Launched
                  </th>
                  <th scope="col" className="num">
                    Running
                  </th>
                  <th scope="col">Oldest pending</th>
                </tr>
              </thead>
              <tbody>
                {depth.data.map((d) => (
                  <tr key={d.dataplaneGroup} data-group={d.dataplaneGroup}>
                    <td>{d.dataplaneGroup}</td>
                    <td className="num">{formatCount(d.pending)}</td>
                    <td className="num">{formatCount(d.claimed)}</td>
                    <td className="num">{formatCount(d.launched)}</td>
                    <td className="num">{formatCount(d.running)}</td>
                    <td>{d.oldestPendingAt ? `${age(d.oldestPendingAt)} waiting` : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="members-title">
        <h2 id="members-title">Workers and launchers</h2>
        {fleet.error && <ErrorBox error={fleet.error} />}
        {fleet.isPending && <Loading />}
        {fleet.data && fleet.data.members.length === 0 && (
          <Notice tone="warn">No worker or launcher has reported in.</Notice>
        )}
        {fleet.data && fleet.data.members.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Id</th>
                  <th scope="col">Group</th>
                  <th scope="col">Runtime</th>
                  <th scope="col" className="num">
                    Running
                  </th>
                  <th scope="col">Up for</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {fleet.data.members.map((m) => (
                  <tr key={`${m.kind}-${m.id}`}>
                    <td>{m.kind}</td>
                    <td className="mono">{m.id}</td>
                    <td>{m.dataplaneGroup ?? '—'}</td>
                    <td>{m.runtime ?? '—'}</td>
                    <td className="num">
                      {m.running}
                      {m.capacity !== null ? ` / ${m.capacity}` : ''}
                    </td>
                    <td>{age(m.startedAt)}</td>
                    <td title={formatDateTime(m.lastSeenAt)}>{formatRelative(m.lastSeenAt, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="workloads-title">
        <h2 id="workloads-title">Running workloads</h2>
        {active.error && <ErrorBox error={active.error} />}
        {active.isPending && <Loading />}
        {active.data && active.data.items.length === 0 && <p className="muted">Nothing is running.</p>}
        {active.data && active.data.items.length > 0 && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Workload</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col">Group</th>
                  <th scope="col">Launcher</th>
                  <th scope="col">Running for</th>
                  <th scope="col">Age</th>
                  <th scope="col">Heartbeat</th>
                </tr>
              </thead>
              <tbody>
                {active.data.items.map((w) => (
                  <tr key={w.id}>
                    <td className="mono">
                      {w.jobId && w.workspaceId ? (
                        <Link href={`/w/${w.workspaceId}/jobs/${w.jobId}`}>{w.id}</Link>
                      ) : (
                        w.id
                      )}
                    </td>
                    <td>{w.type}</td>
                    <td>
                      <StatusBadge status={w.status} />
                    </td>
                    <td>{w.dataplaneGroup}</td>
                    <td className="mono">{w.claimedBy ?? '—'}</td>
                    <td>{w.runningAt ? age(w.runningAt) : '—'}</td>
                    <td>{age(w.createdAt)}</td>
                    <td>{w.lastHeartbeatAt ? formatRelative(w.lastHeartbeatAt, now) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <p className="help">
        Back to <Link href={`/w/${workspaceId}/connections`}>connections</Link>.
      </p>
    </>
  );
}
