'use client';

import { ConnectionPage } from '../../../../../src/components/connection-page';

export default function Page() {
  return <ConnectionPage />;
}
