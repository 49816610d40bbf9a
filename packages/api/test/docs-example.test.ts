import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ApiHarness, startApiHarness } from '../src/testing/harness';
import { setUpPipeline } from './example/client-example';
import { createWorkspaceWithUsers, seedFixtureDefinitions } from './helpers';

const here = dirname(fileURLToPath(import.meta.url));
const docPath = join(here, '..', '..', '..', 'docs', 'api.md');
const examplePath = join(here, 'example', 'client-example.ts');

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('docs/api.md client example', () => {
  it('is the code of test/example/client-example.ts, word for word', () => {
    const doc = readFileSync(docPath, 'utf8');
    const block = /<!-- example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- example:end -->/.exec(doc)?.[1];
    expect(block, 'docs/api.md has no example block').toBeDefined();
    expect(block!.trim()).toBe(readFileSync(examplePath, 'utf8').trim());
  });

  it('runs against a real API: creates, validates and lists', async () => {
    await seedFixtureDefinitions(h.db);
    const { editor } = await createWorkspaceWithUsers(h.db, 'Docs');
    const logged: unknown[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args) => {
      logged.push(args.length === 1 ? args[0] : args);
    });
    try {
      const result = await setUpPipeline({
        url: h.server.url,
        token: editor.token,
        sourceConnector: 'source-fixture',
        destinationConnector: 'destination-fixture',
      });
      expect(result.connection).toMatchObject({
        schedule: { type: 'cron', expression: '0 0 */6 * * ?', timeZone: 'Europe/Paris' },
        namespaceFormat: '$' + '{SOURCE_NAMESPACE}_raw',
      });
      expect(result.jobs.items).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    expect(logged[0]).toBe('config.port');
    expect(logged[1]).toBe('**********');
    expect(logged[2]).toEqual(['users', 'events', 'orders']);
  });
});
