#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createLogger } from '@sluice/shared';
import { runBootloader } from './bootloader';

const USAGE = `Usage: sluice-bootloader [--connectors-root DIR] [--skip-seed]

Validates the environment (DATABASE_URL, SLUICE_SECRET_KEY), creates the database if it is
missing, applies pending migrations and seeds the built-in connector definitions.`;

const log = createLogger('bootloader');

async function main(): Promise<number> {
  let values: { 'connectors-root'?: string; 'skip-seed'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        'connectors-root': { type: 'string' },
        'skip-seed': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    // Connectors whose spec failed are logged by the bootloader but do not stop the start.
    await runBootloader({
      connectorsRoot: values['connectors-root'],
      seedConnectors: !values['skip-seed'],
      logger: log,
    });
    return 0;
  } catch (err) {
    const e = err as Error;
    log.fatal({ error: e.name }, e.message);
    return 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  },
);
