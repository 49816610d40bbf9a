'use client';

import { ConnectionListPage } from '../../../../src/components/connections';

export default function Page() {
  return <ConnectionListPage />;
}
