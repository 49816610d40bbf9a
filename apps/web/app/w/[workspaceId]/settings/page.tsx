'use client';

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { api } from '../../../../src/client/api';
import { useRole, useWorkspaceId, useWorkspaces } from '../../../../src/client/session';
import { ErrorBox, Loading, Notice, PageHeader, StatusBadge } from '../../../../src/components/ui';
import { formatDateTime, formatRelative } from '../../../../src/lib/format';

function TokensCard({ workspaceId }: { workspaceId: string }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [scoped, setScoped] = useState(true);
  const [days, setDays] = useState('');
  const [origin, setOrigin] = useState('http://localhost:3000');
  useEffect(() => setOrigin(window.location.origin), []);
  const tokens = useQuery({
    queryKey: ['workspace.tokens.list'],
    queryFn: () => api.workspace.tokens.list.query({}),
  });
  const create = useMutation({
    mutationFn: () =>
      api.workspace.tokens.create.mutate({
        name: name.trim(),
        ...(scoped ? { workspaceId } : {}),
        ...(days ? { expiresInDays: Number(days) } : {}),
      }),
    onSuccess: async () => {
      setName('');
      await qc.invalidateQueries({ queryKey: ['workspace.tokens.list'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (tokenId: string) => api.workspace.tokens.revoke.mutate({ tokenId }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['workspace.tokens.list'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <p className="help">
        For the <code>sluice</code> command line and scripts:{' '}
        <code>sluice login --url {origin} --token &lt;token&gt;</code>. A token acts with your roles; limit it
        to this workspace for automation.
      </p>
      <form className="inline" onSubmit={submit} style={{ margin: '12px 0' }}>
        <div className="field">
          <label htmlFor="token-name">Token name</label>
          <input
            id="token-name"
            type="text"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="token-days">Expires after (days)</label>
          <input
            id="token-days"
            type="number"
            min={1}
            max={3650}
            value={days}
            onChange={(e) => setDays(e.target.value)}
            placeholder="never"
          />
        </div>
        <div className="field checkbox">
          <input
            id="token-scoped"
            type="checkbox"
            checked={scoped}
            onChange={(e) => setScoped(e.target.checked)}
          />
          <label htmlFor="token-scoped">Only this workspace</label>
        </div>
        <button type="submit" className="btn primary" disabled={create.isPending || !name.trim()}>
          Create token
        </button>
      </form>
      {create.error && <ErrorBox error={create.error} title="The token was not created." />}
      {create.data && (
        <div className="alert alert-ok" role="status">
          <strong>Copy this token now: it is shown only once.</strong>
          <output className="token-box" data-testid="new-token">
            {create.data.token}
          </output>
          <button
            type="button"
            className="btn small"
            onClick={() => void navigator.clipboard?.writeText(create.data.token)}
          >
            Copy
          </button>
        </div>
      )}
      {tokens.error && <ErrorBox error={tokens.error} />}
      {tokens.isPending && <Loading />}
      {tokens.data && tokens.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Token</th>
                <th scope="col">Scope</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td className="mono">{t.prefix}…</td>
                  <td>
                    {t.workspaceId
                      ? t.workspaceId === workspaceId
                        ? 'This workspace'
                        : 'Another workspace'
                      : 'All my workspaces'}
                  </td>
                  <td>{formatRelative(t.lastUsedAt)}</td>
                  <td>{t.expiresAt ? formatDateTime(t.expiresAt) : 'Never'}</td>
                  <td>
                    {t.revokedAt ? (
                      <StatusBadge status="cancelled" label="Revoked" />
                    ) : (
                      <button type="button" className="btn small danger" onClick={() => revoke.mutate(t.id)}>
                        Revoke {t.name}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function MembersCard({ workspaceId, isAdmin }: { workspaceId: string; isAdmin: boolean }) {
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'admin' | 'editor' | 'reader'>('editor');
  const members = useQuery({
    queryKey: ['workspace.members.list', { workspaceId }],
    queryFn: () => api.workspace.members.list.query({ workspaceId }),
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ['workspace.members.list', { workspaceId }] });
  const add = useMutation({
    mutationFn: () => api.workspace.members.add.mutate({ workspaceId, email: email.trim(), role }),
    onSuccess: async () => {
      setEmail('');
      await refresh();
    },
  });
  const update = useMutation({
    mutationFn: (v: { userId: string; role: 'admin' | 'editor' | 'reader' }) =>
      api.workspace.members.updateRole.mutate({ workspaceId, ...v }),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) => api.workspace.members.remove.mutate({ workspaceId, userId }),
    onSuccess: refresh,
  });
  const error = add.error ?? update.error ?? remove.error;
  return (
    <section className="card" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {isAdmin && (
        <form
          className="inline"
          style={{ marginBottom: 12 }}
          onSubmit={(e) => {
            e.preventDefault();
            if (email.trim()) add.mutate();
          }}
        >
          <div className="field">
            <label htmlFor="member-email">Email of an existing user</label>
            <input
              id="member-email"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              required
            />
          </div>
          <div className="field">
            <label htmlFor="member-role">Role</label>
            <select id="member-role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
              <option value="reader">Reader</option>
              <option value="editor">Editor</option>
              <option value="admin">Admin</option>
            </select>
          </div>
          <button type="submit" className="btn primary" disabled={add.isPending}>
            Add member
          </button>
        </form>
      )}
      {error && <ErrorBox error={error} />}
      {members.error && <ErrorBox error={members.error} />}
      {members.isPending && <Loading />}
      {members.data && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Added</th>
                {isAdmin && (
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.userId}>
                  <td>
                    {m.email} {m.name && <span className="muted">({m.name})</span>}
                  </td>
                  <td>
                    {isAdmin ? (
                      <select
                        aria-label={`Role of ${m.email}`}
                        value={m.role}
                        onChange={(e) =>
                          update.mutate({ userId: m.userId, role: e.target.value as typeof role })
                        }
                      >
                        <option value="reader">Reader</option>
                        <option value="editor">Editor</option>
                        <option value="admin">Admin</option>
                      </select>
                    ) : (
                      m.role
                    )}
                  </td>
                  <td>{formatRelative(m.addedAt)}</td>
                  {isAdmin && (
                    <td>
                      <button
                        type="button"
                        className="btn small danger"
                        onClick={() => remove.mutate(m.userId)}
                      >
                        Remove {m.email}
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function PasswordCard() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const change = useMutation({
    mutationFn: () => api.auth.changePassword.mutate({ currentPassword: current, newPassword: next }),
    onSuccess: () => {
      setCurrent('');
      setNext('');
    },
  });
  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Your password</h2>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate();
        }}
      >
        <div className="field">
          <label htmlFor="current-password">Current password</label>
          <input
            id="current-password"
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
            required
          />
        </div>
        <div className="field">
          <label htmlFor="new-password">New password</label>
          <input
            id="new-password"
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(e) => setNext(e.target.value)}
            required
          />
        </div>
        <button type="submit" className="btn" disabled={change.isPending}>
          Change password
        </button>
      </form>
      {change.error && <ErrorBox error={change.error} title="The password was not changed." />}
      {change.isSuccess && <Notice tone="ok">Password changed. Your other sessions were signed out.</Notice>}
    </section>
  );
}

export default function SettingsPage() {
  const workspaceId = useWorkspaceId();
  const workspaces = useWorkspaces();
  const { isAdmin } = useRole();
  const ws = workspaces.data?.find((w) => w.id === workspaceId);
  return (
    <>
      <PageHeader
        title="Settings"
        subtitle={ws ? `${ws.name} · slug ${ws.slug} · dataplane group ${ws.dataplaneGroup}` : undefined}
      />
      <TokensCard workspaceId={workspaceId} />
      <MembersCard workspaceId={workspaceId} isAdmin={isAdmin} />
      <PasswordCard />
    </>
  );
}
