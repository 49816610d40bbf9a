'use client';

import { ActorNewPage } from '../../../../../src/components/actors';

export default function Page() {
  return <ActorNewPage kind="source" />;
}
