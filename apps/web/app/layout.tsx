import type { ReactNode } from 'react';
import { Providers } from '../src/client/providers';
import './globals.css';

export const metadata = {
  title: { default: 'Sluice', template: '%s · Sluice' },
  description: 'Open-source ELT platform speaking the Airbyte Protocol',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
