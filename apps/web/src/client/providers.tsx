'use client';

import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { usePathname, useRouter } from 'next/navigation';
import { type ReactNode, useRef, useState } from 'react';
import { errorCode } from './errors';

/**
 * One QueryClient per browser tab. A query or mutation answered UNAUTHORIZED (the session
 * ended) sends the user to the login page, back here afterwards.
 */
export function Providers({ children }: { children: ReactNode }) {
  const router = useRouter();
  const pathname = usePathname();
  const where = useRef(pathname);
  where.current = pathname;
  const [client] = useState(() => {
    const onError = (err: unknown) => {
      if (errorCode(err) === 'UNAUTHORIZED' && !where.current.startsWith('/login')) {
        router.replace(`/login?next=${encodeURIComponent(where.current)}`);
      }
    };
    return new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: {
        queries: {
          staleTime: 5_000,
          refetchOnWindowFocus: false,
          // Client errors (not found, forbidden, bad input) do not get better by retrying.
          retry: (count, err) => {
            const code = errorCode(err);
            if (code && code !== 'INTERNAL_SERVER_ERROR' && code !== 'TIMEOUT') return false;
            return count < 2;
          },
        },
      },
    });
  });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
