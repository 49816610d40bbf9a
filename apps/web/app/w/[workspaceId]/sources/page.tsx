'use client';

import { ActorListPage } from '../../../../src/components/actors';

export default function Page() {
  return <ActorListPage kind="source" />;
}
