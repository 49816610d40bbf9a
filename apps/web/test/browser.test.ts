// The dashboard in a real browser against the running stack (web app, worker, launcher,
// Postgres, Redis): sign in, create a source, a destination and a connection through the UI,
// sync and see the job succeed with the right record count, see a failed job's reason, review
// a schema change, and crawl every page checking that a secret never reaches the browser.
import fs from 'node:fs';
import path from 'node:path';
import type { Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, openBrowser, screenshot, waitForText } from './support/browser';
import { definitionId, registerVaultConnector, type Stack, startStack, waitFor } from './support/stack';

const SECRET_PASSWORD = `vault-pw-${Math.random().toString(36).slice(2)}-x7`;
const SECRET_KEY = `vault-key-${Math.random().toString(36).slice(2)}-q9`;
const RECORDS = 25;

let stack: Stack;
let browser: Browser;
let page: Page;
let ws: string;
const ids: Record<string, string> = {};

const go = (p: string) => page.goto(`${stack.url}${p}`);

beforeAll(async () => {
  stack = await startStack({ name: 'ui' });
  ws = stack.admin.workspaceId;
  ids.vaultDefinition = await registerVaultConnector(stack);
  browser = await openBrowser();
  page = browser.page;
}, 600_000);

afterEach(async (ctx) => {
  // A failing step leaves a picture of the page it failed on.
  if (ctx.task.result?.state === 'fail' && page) {
    await screenshot(page, `failed-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
  }
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('dashboard', () => {
  it('signs in from the keyboard, and says why a sign-in fails', async () => {
    await go('/');
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(stack.admin.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByLabel('Password').press('Enter');
    await waitForText(page, /does not|invalid|incorrect|wrong|not valid|signed out/i);
    await screenshot(page, 'login');

    await page.getByLabel('Email').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(stack.admin.email);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(stack.admin.password);
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/w/${ws}/connections`));
    await waitForText(page, 'No connections yet');
    expect(await page.getByLabel('Workspace').inputValue()).toBe(ws);
  });

  it('creates a source, a destination and a connection, syncs, and shows the job succeed with its record count', async () => {
    // Source: Faker, from its spec-generated form, tested inline.
    await go(`/w/${ws}/sources`);
    await page.getByRole('link', { name: 'New source' }).first().click();
    await page.getByLabel('Search connectors').fill('faker');
    await page.getByRole('button', { name: /Sample Data \(Faker\)/ }).click();
    await page.getByLabel('Source name').fill('Faker UI');
    await page.getByLabel('Count', { exact: true }).fill(String(RECORDS));
    await screenshot(page, 'source-new');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await waitForText(page, 'Connection test passed', 120_000);
    await page.getByRole('button', { name: 'Create source' }).click();
    await page.waitForURL(/\/sources\/[0-9a-f-]{36}$/);
    ids.faker = page.url().split('/').at(-1)!;
    await waitForText(page, 'Sample Data (Faker)');
    await screenshot(page, 'source');

    // Destination: local JSONL files in the stack's temp directory.
    const out = path.join(stack.tmp, 'out');
    await go(`/w/${ws}/destinations/new`);
    await page.getByRole('button', { name: /Local JSONL/ }).click();
    await page.getByLabel('Destination name').fill('Files UI');
    await page.getByLabel('Destination Path').fill(out);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await waitForText(page, 'Connection test passed', 120_000);
    await page.getByRole('button', { name: 'Create destination' }).click();
    await page.waitForURL(/\/destinations\/[0-9a-f-]{36}$/);
    ids.files = page.url().split('/').at(-1)!;
    await screenshot(page, 'destination');

    // Connection: discover, only the users stream, manual schedule.
    await go(`/w/${ws}/connections/new`);
    await page
      .getByLabel('Source', { exact: true })
      .selectOption({ label: 'Faker UI (Sample Data (Faker))' });
    await page.getByLabel('Destination', { exact: true }).selectOption({ label: 'Files UI (Local JSONL)' });
    await page.getByRole('button', { name: 'Discover streams' }).click();
    await waitForText(page, '2. Streams', 120_000);
    await page.getByLabel('Select all streams').uncheck();
    await page.getByLabel('Sync stream users').check();
    expect(await page.getByLabel('Sync mode for users').inputValue()).toBe('full_refresh:overwrite');
    await page.getByLabel('Connection name').fill('Faker to files');
    await page.getByLabel('Schedule').selectOption('cron');
    await page.getByLabel('Time zone').selectOption('Europe/Paris');
    await page.getByLabel('Schedule').selectOption('manual');
    await screenshot(page, 'connection-new');
    await page.getByRole('button', { name: 'Set up connection' }).click();
    await page.waitForURL(/\/connections\/[0-9a-f-]{36}$/);
    ids.connection = page.url().split('/').at(-1)!;

    // Sync now: the running sync shows live progress, then the job succeeds with the right count.
    await page.getByRole('button', { name: 'Sync now' }).click();
    await page.getByTestId('job-progress').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Cancel sync' }).waitFor();
    await screenshot(page, 'connection-running');
    await waitFor(
      'the sync to succeed in the UI',
      async () => (await page.getByTestId('last-sync-records').textContent())?.trim() === String(RECORDS),
      180_000,
      500,
    );
    expect(await page.locator('main .stat').first().textContent()).toContain('Succeeded');
    await screenshot(page, 'connection-status');
    const lines = fs.readFileSync(path.join(out, 'users.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(RECORDS);

    await page.getByRole('tab', { name: 'Job history' }).click();
    const row = page.locator('tr[data-status="succeeded"]').first();
    await row.waitFor();
    expect(await row.getByTestId('job-records').textContent()).toBe(String(RECORDS));
    await screenshot(page, 'connection-jobs');
    await row.getByRole('link', { name: 'sync' }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await waitFor('the log to load', async () =>
      /lines/.test((await page.getByTestId('log-state').textContent()) ?? ''),
    );
    expect(await page.getByTestId('job-total-records').textContent()).toBe(String(RECORDS));
    expect(((await page.getByTestId('attempt-log').textContent()) ?? '').length).toBeGreaterThan(0);
    await screenshot(page, 'job');
  });

  it("shows a failed job's reason", async () => {
    const devNull = await stack.client.destination.create.mutate({
      workspaceId: ws,
      definitionId: await definitionId(stack, 'destination-dev-null'),
      name: 'Failing sink',
      config: { fail_after_records: 3 },
    });
    const conn = await stack.client.connection.create.mutate({
      workspaceId: ws,
      sourceId: ids.faker!,
      destinationId: devNull.id,
      name: 'Faker to failing sink',
      catalog: {
        streams: [{ stream: { name: 'users' }, syncMode: 'full_refresh', destinationSyncMode: 'overwrite' }],
      },
    });
    await go(`/w/${ws}/connections/${conn.id}`);
    await page.getByRole('button', { name: 'Sync now' }).click();
    const alert = page.getByTestId('last-failure');
    await alert.waitFor({ timeout: 180_000 });
    expect(await alert.textContent()).toContain('failing after 3 records');
    await screenshot(page, 'connection-failed');
    await page.getByRole('tab', { name: 'Job history' }).click();
    const failed = page.locator('tr[data-status="failed"]').first();
    await failed.waitFor();
    expect(await failed.locator('.failure-reason').textContent()).toContain('failing after 3 records');
    await failed.getByRole('button', { name: /attempts/ }).click();
    await waitForText(page, 'Attempt');
  });

  it('renders a spec form with groups, oneOf and secrets, and reviews a schema change', async () => {
    await go(`/w/${ws}/sources/new`);
    await page.getByRole('button', { name: /Vault \(test fixture\)/ }).click();
    await page.getByLabel('Source name').fill('Vault');
    // Groups are titled sections; secrets are password inputs; the hidden field is absent.
    await page.getByRole('region', { name: 'Authentication' }).waitFor();
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('type')).toBe('password');
    expect(await page.locator('[name="check_result"]').count()).toBe(0);
    // Saving without the required fields names them.
    await page.getByRole('button', { name: 'Create source' }).click();
    await waitForText(page, /fields? need/);
    await page.getByLabel('Host').fill('vault.internal');
    await page.getByLabel('Password', { exact: true }).fill(SECRET_PASSWORD);
    await page.getByLabel('Authentication method').selectOption({ label: 'API key' });
    expect(await page.getByLabel('API key').getAttribute('type')).toBe('password');
    await page.getByLabel('API key').fill(SECRET_KEY);
    await screenshot(page, 'source-new-spec-form');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await waitForText(page, 'Connection test passed', 120_000);
    await page.getByRole('button', { name: 'Create source' }).click();
    await page.waitForURL(/\/sources\/[0-9a-f-]{36}$/);
    ids.vault = page.url().split('/').at(-1)!;
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('**********');

    const sink = await stack.client.destination.create.mutate({
      workspaceId: ws,
      definitionId: await definitionId(stack, 'destination-dev-null'),
      name: 'Quiet sink',
      config: {},
    });
    await stack.client.source.discover.mutate({ sourceId: ids.vault });
    const conn = await stack.client.connection.create.mutate({
      workspaceId: ws,
      sourceId: ids.vault,
      destinationId: sink.id,
      name: 'Vault to sink',
    });
    ids.vaultConnection = conn.id;
    // The source's schema grows a field; the connection page shows it for review.
    const source = await stack.client.source.get.query({ sourceId: ids.vault });
    await stack.client.source.update.mutate({
      sourceId: ids.vault,
      config: { ...source.config, schema_version: 2 },
    });
    await go(`/w/${ws}/connections/${conn.id}?tab=schema`);
    await page.getByRole('button', { name: 'Refresh source schema' }).click();
    const review = page.getByTestId('schema-change');
    await review.waitFor({ timeout: 120_000 });
    expect(await review.textContent()).toContain('email');
    await screenshot(page, 'connection-schema-change');
    await review.getByRole('button', { name: 'Apply changes' }).click();
    await review.waitFor({ state: 'detached' });
    const after = await stack.client.connection.schemaChange.query({ connectionId: conn.id });
    expect(after.schemaChange).toBeNull();
  });

  it('shows the fleet, settings and every list page; API errors in words', async () => {
    await go(`/w/${ws}/fleet`);
    await waitForText(page, 'Queues by dataplane group');
    // Queue depths (workload.admin.queueDepth), the workers and launchers that report in
    // (workload.admin.fleet: the stack runs one of each) and what runs (workload.admin.listActive).
    await waitForText(page, /No dataplane group has workloads|Oldest pending/);
    const members = page.locator('section[aria-labelledby="members-title"] tbody tr');
    await members
      .filter({ hasText: /^launcher/ })
      .first()
      .waitFor();
    await members
      .filter({ hasText: /^worker/ })
      .first()
      .waitFor();
    await waitForText(page, /Nothing is running|Heartbeat/);
    await screenshot(page, 'fleet');
    await go(`/w/${ws}/settings`);
    await page.getByLabel('Token name').fill('ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    expect(await page.getByTestId('new-token').textContent()).toMatch(/^sluice_pat_/);
    await screenshot(page, 'settings');
    for (const [route, name, text] of [
      ['connections', 'connections', 'Faker to files'],
      ['sources', 'sources', 'Faker UI'],
      ['destinations', 'destinations', 'Files UI'],
      ['jobs', 'jobs', 'check'],
    ] as const) {
      await go(`/w/${ws}/${route}`);
      await waitForText(page, text);
      await screenshot(page, name);
    }
    // The workspace switcher moves to another workspace's pages.
    const other = await stack.client.workspace.create.mutate({ name: 'Analytics' });
    await go(`/w/${ws}/connections`);
    await page.getByLabel('Workspace').selectOption({ label: 'Analytics' });
    await page.waitForURL(new RegExp(`/w/${other.id}/connections`));
    await waitForText(page, 'No connections yet');
    await page.getByLabel('Workspace').selectOption({ label: 'Default' });
    await page.waitForURL(new RegExp(`/w/${ws}/connections`));
    await waitForText(page, 'Faker to files');
    await go(`/w/${ws}/connections/00000000-0000-4000-8000-000000000000`);
    await waitForText(page, 'This item does not exist, or it is not in this workspace.');
    await go('/w/00000000-0000-4000-8000-000000000000/connections');
    await waitForText(page, /not a member/);
    expect(browser.pageErrors).toEqual([]);
  });

  it('never sends a secret to the browser, on any page', async () => {
    const jobs = await stack.client.job.list.query({ workspaceId: ws, limit: 100 });
    const routes = [
      '/login',
      `/w/${ws}/connections`,
      `/w/${ws}/connections/new?sourceId=${ids.vault}`,
      ...['status', 'jobs', 'schema', 'settings'].map(
        (t) => `/w/${ws}/connections/${ids.vaultConnection}?tab=${t}`,
      ),
      ...['status', 'jobs', 'schema', 'settings'].map(
        (t) => `/w/${ws}/connections/${ids.connection}?tab=${t}`,
      ),
      `/w/${ws}/sources`,
      `/w/${ws}/sources/new`,
      `/w/${ws}/sources/${ids.vault}`,
      `/w/${ws}/sources/${ids.faker}`,
      `/w/${ws}/destinations`,
      `/w/${ws}/destinations/${ids.files}`,
      `/w/${ws}/jobs`,
      ...jobs.items.map((j) => `/w/${ws}/jobs/${j.id}`),
      `/w/${ws}/settings`,
      `/w/${ws}/fleet`,
    ];
    const needles = [SECRET_PASSWORD, SECRET_KEY].flatMap((s) => [
      s,
      Buffer.from(s).toString('base64'),
      Buffer.from(s).toString('base64url'),
      encodeURIComponent(s),
    ]);
    const leaks: string[] = [];
    const bodies: Promise<void>[] = [];
    let responses = 0;
    const onResponse = (res: Response) => {
      bodies.push(
        res
          .body()
          .then((buf) => {
            responses++;
            const text = buf.toString('utf8');
            for (const n of needles) if (text.includes(n)) leaks.push(`${res.url()} contains a secret`);
          })
          .catch(() => {
            // redirects and aborted requests have no body
          }),
      );
    };
    page.on('response', onResponse);
    try {
      for (const route of routes) {
        await go(route);
        await page.waitForLoadState('networkidle');
        if (route.includes('/sources/') && !route.endsWith('/new')) {
          await page.getByRole('tab', { name: 'Schema' }).click();
          await page.waitForLoadState('networkidle');
        }
        const html = await page.content();
        for (const n of needles) if (html.includes(n)) leaks.push(`${route}: the page shows a secret`);
      }
      await Promise.all(bodies);
    } finally {
      page.off('response', onResponse);
    }
    expect(responses).toBeGreaterThan(routes.length * 2);
    expect(leaks).toEqual([]);
    // The vault connector prints its password in a log line during check and discover: no
    // log of this workspace's jobs carries it (scrubbed or, today, not kept by the workload path).
    for (const j of jobs.items.filter((x) => x.attempts.length > 0)) {
      const log = await stack.client.job.attemptLog.query({ jobId: j.id, limit: 1000 });
      const text = log.chunks.map((c) => c.text).join('');
      for (const n of needles) expect(text, `log of ${j.type} job ${j.id}`).not.toContain(n);
    }
  });
});
