import Link from 'next/link';

export default function NotFound() {
  return (
    <main id="main" className="login-page">
      <div className="card login-card">
        <h1>Page not found</h1>
        <p>There is no page at this address.</p>
        <Link href="/" className="btn primary">
          Go to the dashboard
        </Link>
      </div>
    </main>
  );
}
