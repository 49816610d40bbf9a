'use client';

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { type FormEvent, useState } from 'react';
import { api } from '../../src/client/api';
import { ErrorBox } from '../../src/components/ui';

function LoginForm() {
  const router = useRouter();
  const qc = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const login = useMutation({
    mutationFn: () => api.auth.login.mutate({ email, password }),
    onSuccess: async () => {
      qc.clear();
      // Read at submit time (not with useSearchParams) so the form is in the prerendered HTML.
      const next = new URLSearchParams(window.location.search).get('next');
      // Only paths on this site: an absolute URL here would be an open redirect.
      router.replace(next?.startsWith('/') && !next.startsWith('//') ? next : '/');
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate();
  };
  return (
    <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        Sluice
      </div>
      <h1 id="login-title" style={{ marginBottom: 16 }}>
        Sign in
      </h1>
      {login.error ? <ErrorBox error={login.error} title="Sign-in failed." /> : null}
      <div className="field">
        <label htmlFor="email">Email</label>
        <input
          id="email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </div>
      <button type="submit" className="btn primary" disabled={login.isPending}>
        {login.isPending ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="help" style={{ marginTop: 14 }}>
        Accounts are created by an instance administrator (<code>npm run create-admin -w @sluice/api</code>{' '}
        makes the first one).
      </p>
    </form>
  );
}

export default function LoginPage() {
  return (
    <main id="main" className="login-page">
      <LoginForm />
    </main>
  );
}
