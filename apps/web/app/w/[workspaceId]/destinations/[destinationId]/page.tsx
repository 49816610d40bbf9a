'use client';

import { ActorDetailPage } from '../../../../../src/components/actors';

export default function Page() {
  return <ActorDetailPage kind="destination" />;
}
