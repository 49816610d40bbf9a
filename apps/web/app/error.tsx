'use client';

import { ErrorBox } from '../src/components/ui';

/** Anything a page throws while rendering ends here, in words, never as a blank page. */
export default function RouteError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <main id="main" className="main">
      <h1>This page failed to load</h1>
      <ErrorBox error={error} onRetry={reset} />
    </main>
  );
}
