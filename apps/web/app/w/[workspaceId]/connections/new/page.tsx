'use client';

import { ConnectionNewPage } from '../../../../../src/components/connections';

export default function Page() {
  return <ConnectionNewPage />;
}
