'use client';

/** Last resort when the root layout itself fails: plain HTML, no stylesheet needed. */
export default function GlobalError({
  error,
  reset,
}: {
  error: Error & { digest?: string };
  reset: () => void;
}) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', padding: 32 }}>
        <h1>Sluice could not load this page</h1>
        <p role="alert">{error.message || 'An unexpected error occurred.'}</p>
        <button type="button" onClick={reset}>
          Try again
        </button>
      </body>
    </html>
  );
}
