import { describe, expect, it } from 'vitest';
import {
  AIRBYTE_MESSAGE_PAYLOAD_FIELD,
  type AirbyteMessage,
  AirbyteMessageType,
  type AirbyteTraceMessage,
  formatPath,
  formatZodError,
  hasPayload,
  isAnalyticsTrace,
  isCatalog,
  isConnectionStatus,
  isControl,
  isDestinationCatalog,
  isErrorTrace,
  isEstimateTrace,
  isLog,
  isRecord,
  isSpec,
  isState,
  isStreamStatusTrace,
  isTrace,
  isTypedMessage,
  parseAirbyteMessage,
  parseConfiguredAirbyteCatalog,
  stateTypeOf,
} from './index';

const NOW = 1_700_000_000_000;

const examples: Record<AirbyteMessageType, AirbyteMessage> = {
  RECORD: { type: 'RECORD', record: { stream: 'users', data: { id: 1 }, emitted_at: NOW } },
  STATE: { type: 'STATE', state: { type: 'STREAM', stream: { stream_descriptor: { name: 'users' } } } },
  LOG: { type: 'LOG', log: { level: 'INFO', message: 'hello' } },
  SPEC: { type: 'SPEC', spec: { connectionSpecification: {} } },
  CONNECTION_STATUS: { type: 'CONNECTION_STATUS', connectionStatus: { status: 'SUCCEEDED' } },
  CATALOG: { type: 'CATALOG', catalog: { streams: [] } },
  TRACE: { type: 'TRACE', trace: { type: 'ERROR', emitted_at: NOW, error: { message: 'boom' } } },
  CONTROL: {
    type: 'CONTROL',
    control: { type: 'CONNECTOR_CONFIG', emitted_at: NOW, connectorConfig: { config: {} } },
  },
  DESTINATION_CATALOG: { type: 'DESTINATION_CATALOG', destination_catalog: { operations: [] } },
};

const guards = {
  RECORD: isRecord,
  STATE: isState,
  LOG: isLog,
  SPEC: isSpec,
  CONNECTION_STATUS: isConnectionStatus,
  CATALOG: isCatalog,
  TRACE: isTrace,
  CONTROL: isControl,
  DESTINATION_CATALOG: isDestinationCatalog,
} satisfies Record<AirbyteMessageType, (message: AirbyteMessage) => boolean>;

describe('parseAirbyteMessage', () => {
  it('returns the safeParse result, with unknown properties kept at every level', () => {
    const line = JSON.stringify({
      type: 'RECORD',
      record: {
        stream: 'users',
        data: { id: 1 },
        emitted_at: NOW,
        partition_id: 'p-1',
        meta: { changes: [], note: 'x' },
      },
      sluice_extension: { nested: [1, null] },
    });
    const result = parseAirbyteMessage(JSON.parse(line));
    expect(result.success).toBe(true);
    if (!result.success) return;
    expect(result.data.sluice_extension).toEqual({ nested: [1, null] });
    expect(result.data.record?.partition_id).toBe('p-1');
    expect(JSON.parse(JSON.stringify(result.data))).toEqual(JSON.parse(line));
  });

  it('never throws, whatever it is given', () => {
    for (const value of [undefined, null, 0, 'RECORD', [], {}, { type: 'RECORD', record: 'x' }, new Map()]) {
      const result = parseAirbyteMessage(value);
      expect(result.success).toBe(false);
      if (!result.success) expect(formatZodError(result.error, value)).not.toBe('');
    }
  });

  it('drops an own __proto__ key rather than letting it replace the prototype', () => {
    const value = JSON.parse(
      '{"type":"LOG","log":{"level":"INFO","message":"m"},"__proto__":{"polluted":true}}',
    );
    const result = parseAirbyteMessage(value);
    expect(result.success).toBe(true);
    if (!result.success) return;
    expect(Object.getPrototypeOf(result.data)).toBe(Object.prototype);
    expect((result.data as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('parses a configured catalog', () => {
    const stream = { name: 'users', json_schema: {}, supported_sync_modes: ['full_refresh'] };
    const ok = parseConfiguredAirbyteCatalog({
      streams: [{ stream, sync_mode: 'full_refresh', destination_sync_mode: 'overwrite' }],
    });
    expect(ok.success).toBe(true);
    const bad = parseConfiguredAirbyteCatalog({ streams: [{ stream, sync_mode: 'full_refresh' }] });
    expect(bad.success).toBe(false);
    if (!bad.success) {
      expect(formatZodError(bad.error, { streams: [{ stream, sync_mode: 'full_refresh' }] })).toBe(
        'streams[0].destination_sync_mode: missing required value (one of "append", "overwrite", "append_dedup", "update", "soft_delete")',
      );
    }
  });
});

describe('type guards', () => {
  it('narrow each message type to its payload', () => {
    for (const type of AirbyteMessageType.options) {
      const message = examples[type];
      for (const [guardType, guard] of Object.entries(guards)) {
        expect(guard(message), `${guardType} guard on ${type}`).toBe(guardType === type);
      }
      expect(isTypedMessage(message)).toBe(true);
      expect(hasPayload(message, type)).toBe(true);
      expect(message[AIRBYTE_MESSAGE_PAYLOAD_FIELD[type]]).toBeDefined();
    }
  });

  it('reject a message whose type names a payload it does not carry (valid per the protocol)', () => {
    const bare = parseAirbyteMessage({ type: 'RECORD', state: {} });
    expect(bare.success).toBe(true);
    if (!bare.success) return;
    expect(isRecord(bare.data)).toBe(false);
    expect(isState(bare.data)).toBe(false);
    expect(isTypedMessage(bare.data)).toBe(false);
  });

  it('narrow the static type', () => {
    const message: AirbyteMessage = examples.RECORD;
    if (isRecord(message)) {
      const stream: string = message.record.stream;
      expect(stream).toBe('users');
    }
    if (hasPayload(message, 'RECORD')) expect(message.record.emitted_at).toBe(NOW);
  });

  it('distinguish trace kinds', () => {
    const traces: AirbyteTraceMessage[] = [
      { type: 'ERROR', emitted_at: NOW, error: { message: 'x' } },
      { type: 'ESTIMATE', emitted_at: NOW, estimate: { name: 'users', type: 'STREAM' } },
      {
        type: 'STREAM_STATUS',
        emitted_at: NOW,
        stream_status: { stream_descriptor: { name: 'u' }, status: 'COMPLETE' },
      },
      { type: 'ANALYTICS', emitted_at: NOW, analytics: { type: 'event' } },
      { type: 'ERROR', emitted_at: NOW },
    ];
    const kinds = traces.map((trace) =>
      [isErrorTrace, isEstimateTrace, isStreamStatusTrace, isAnalyticsTrace].findIndex((guard) =>
        guard(trace),
      ),
    );
    expect(kinds).toEqual([0, 1, 2, 3, -1]);
  });

  it('read an untyped state as LEGACY', () => {
    expect(stateTypeOf({ data: {} })).toBe('LEGACY');
    expect(stateTypeOf({ type: 'GLOBAL', global: { stream_states: [] } })).toBe('GLOBAL');
  });
});

describe('formatZodError', () => {
  function describeFailure(value: unknown, withInput = true): string {
    const result = parseAirbyteMessage(value);
    if (result.success) throw new Error('expected a failure');
    return withInput ? formatZodError(result.error, value) : formatZodError(result.error);
  }

  it('names the failing path and the expected type', () => {
    const value = { type: 'RECORD', record: { stream: 5, data: {}, emitted_at: NOW } };
    expect(describeFailure(value, false)).toBe('record.stream: expected string');
    expect(describeFailure(value)).toBe('record.stream: expected string, got integer');
  });

  it('tells a missing field from a wrong one, and integers from numbers', () => {
    expect(describeFailure({ type: 'RECORD', record: { stream: 's', data: {} } })).toBe(
      'record.emitted_at: missing required integer',
    );
    expect(describeFailure({ type: 'RECORD', record: { stream: 's', data: [], emitted_at: 1.5 } })).toBe(
      'record.data: expected object, got array; record.emitted_at: expected integer, got number',
    );
    expect(describeFailure({ type: 'RECORD', record: { stream: null, data: {}, emitted_at: 1 } })).toBe(
      'record.stream: expected string, got null',
    );
  });

  it('lists enum values and shows the rejected one, shortened', () => {
    expect(describeFailure({ type: 'LOG', log: { level: 'WARNING', message: 'm' } })).toBe(
      'log.level: expected one of "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", got "WARNING"',
    );
    const long = describeFailure({ type: 'LOG', log: { level: 'x'.repeat(500), message: 'm' } });
    expect(long.length).toBeLessThan(200);
  });

  it('indexes arrays and describes bounds, unions and formats', () => {
    expect(
      describeFailure({
        type: 'CATALOG',
        catalog: { streams: [{ name: 'x', json_schema: {}, supported_sync_modes: [] }] },
      }),
    ).toBe('catalog.streams[0].supported_sync_modes: expected at least 1 item');
    expect(
      describeFailure({
        type: 'SPEC',
        spec: {
          connectionSpecification: {},
          documentationUrl: 'docs/x',
          authSpecification: { oauth2Specification: { rootObject: [true] } },
        },
      }),
    ).toBe(
      'spec.documentationUrl: expected an absolute URI (RFC 3986); spec.authSpecification.oauth2Specification.rootObject[0]: expected string or integer, got boolean',
    );
  });

  it('describes the root and caps the number of issues', () => {
    expect(describeFailure(null)).toBe('(root): expected object, got null');
    const many = { type: 'RECORD', record: { stream: 1, data: 2, emitted_at: 'x', namespace: 4, meta: 5 } };
    expect(describeFailure(many)).toMatch(/; \(\+2 more\)$/);
    const result = parseAirbyteMessage(many);
    if (!result.success)
      expect(formatZodError(result.error, many, { maxIssues: 10 }).split('; ')).toHaveLength(5);
  });

  it('never echoes string values outside enums (records and configs carry secrets)', () => {
    const secret = 'hunter2-super-secret';
    const text = describeFailure({
      type: 'CONTROL',
      control: { type: 'CONNECTOR_CONFIG', emitted_at: NOW, connectorConfig: { config: secret } },
    });
    expect(text).toBe('control.connectorConfig.config: expected object, got string');
    expect(text).not.toContain(secret);
  });

  it('formats paths', () => {
    expect(formatPath([])).toBe('(root)');
    expect(formatPath(['record', 'data', 'first name', 0, 'x'])).toBe('record.data["first name"][0].x');
  });
});
