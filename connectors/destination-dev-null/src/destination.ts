import { ConnectorError, defineDestination } from '@sluice/protocol';

export interface DevNullConfig {
  /** Emit a LOG line every N records (0: never). */
  log_every_records: number;
  /** Fail with a TRACE ERROR after this many records (0: never), to test platform retries. */
  fail_after_records: number;
}

export const spec = {
  documentationUrl: 'https://docs.airbyte.com/integrations/destinations/dev-null',
  supported_destination_sync_modes: ['append', 'overwrite', 'append_dedup', 'update', 'soft_delete'],
  connectionSpecification: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'Dev Null Destination Spec',
    type: 'object',
    additionalProperties: true,
    properties: {
      log_every_records: {
        title: 'Log every N records',
        description: 'Emit a LOG message every N records (0 never logs).',
        type: 'integer',
        minimum: 0,
        default: 0,
      },
      fail_after_records: {
        title: 'Fail after N records',
        description: 'Fail the sync after this many records (0 never fails). For testing retries.',
        type: 'integer',
        minimum: 0,
        default: 0,
      },
    },
  },
} as const;

/**
 * Counts records and acknowledges every state once the records before it are counted.
 * The SDK has already parsed each line, checked its envelope and its stream.
 */
export const destination = defineDestination<DevNullConfig>({
  spec: spec as never,
  parseConfig: (raw) => raw as unknown as DevNullConfig,
  check: () => ({ status: 'SUCCEEDED' }),
  async write({ config, input, ack, logger }) {
    const logEvery = config.log_every_records;
    const failAfter = config.fail_after_records;
    let records = 0;
    for await (const batch of input) {
      for (const m of batch.messages) {
        if (m.type === 'RECORD') {
          records++;
          if (logEvery > 0 && records % logEvery === 0) logger.info(`${records} records`);
          if (failAfter > 0 && records >= failAfter) {
            throw new ConnectorError(`failing after ${records} records, as configured (fail_after_records)`);
          }
        } else if (m.type === 'STATE') ack(m);
      }
    }
  },
});
