'use client';

import { useMemo } from 'react';

export type Schedule =
  | { type: 'manual' }
  | { type: 'basic'; units: number; timeUnit: 'minutes' | 'hours' | 'days' | 'weeks' | 'months' }
  | { type: 'cron'; expression: string; timeZone: string };

/** The one placeholder of a custom namespace format (a Sluice placeholder, not a JS template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Sluice placeholder, written literally
export const SOURCE_NAMESPACE = '${SOURCE_NAMESPACE}';

export type NamespaceDefinition = 'source' | 'destination' | 'customformat';
export type NonBreakingPreference = 'ignore' | 'disable' | 'propagate_columns' | 'propagate_fully';

export interface ConnectionSettingsValue {
  name: string;
  schedule: Schedule;
  namespaceDefinition: NamespaceDefinition;
  namespaceFormat: string;
  prefix: string;
  nonBreakingChangesPreference: NonBreakingPreference;
}

function timeZones(): string[] {
  try {
    const zones = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.(
      'timeZone',
    );
    if (zones?.length) return zones.includes('UTC') ? zones : ['UTC', ...zones];
  } catch {
    // older engines: a short list below
  }
  return ['UTC', 'Europe/London', 'Europe/Paris', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo'];
}

export function describeSchedule(s: Schedule): string {
  if (s.type === 'manual') return 'Manual';
  if (s.type === 'basic')
    return `Every ${s.units} ${s.units === 1 ? s.timeUnit.replace(/s$/, '') : s.timeUnit}`;
  return `Cron ${s.expression} (${s.timeZone})`;
}

/** Name, schedule (manual, interval, cron with time zone), namespace and prefix, schema-change policy. */
export function ConnectionSettingsFields({
  value,
  onChange,
  disabled,
  errors = {},
}: {
  value: ConnectionSettingsValue;
  onChange(next: ConnectionSettingsValue): void;
  disabled?: boolean;
  errors?: Record<string, string>;
}) {
  const zones = useMemo(timeZones, []);
  const set = (patch: Partial<ConnectionSettingsValue>) => onChange({ ...value, ...patch });
  const s = value.schedule;
  const err = (k: string) =>
    errors[k] ? (
      <p className="field-error" id={`err-${k}`}>
        {errors[k]}
      </p>
    ) : null;
  return (
    <fieldset className="form" disabled={disabled} style={{ border: 'none', padding: 0, margin: 0 }}>
      <div className="field">
        <label htmlFor="connection-name">Connection name</label>
        <input
          id="connection-name"
          type="text"
          value={value.name}
          onChange={(e) => set({ name: e.target.value })}
        />
        {err('name')}
      </div>

      <div className="field">
        <label htmlFor="schedule-type">Schedule</label>
        <select
          id="schedule-type"
          value={s.type}
          onChange={(e) => {
            const type = e.target.value as Schedule['type'];
            set({
              schedule:
                type === 'manual'
                  ? { type }
                  : type === 'basic'
                    ? { type, units: 24, timeUnit: 'hours' }
                    : { type, expression: '0 0 12 * * ?', timeZone: 'UTC' },
            });
          }}
        >
          <option value="manual">Manual: sync only when asked</option>
          <option value="basic">Every N minutes, hours, days…</option>
          <option value="cron">Cron expression</option>
        </select>
      </div>
      {s.type === 'basic' && (
        <div className="inline">
          <div className="field">
            <label htmlFor="schedule-units">Every</label>
            <input
              id="schedule-units"
              type="number"
              min={1}
              step={1}
              value={s.units}
              onChange={(e) =>
                set({ schedule: { ...s, units: Math.max(1, Math.floor(Number(e.target.value) || 1)) } })
              }
            />
          </div>
          <div className="field">
            <label htmlFor="schedule-unit">Unit</label>
            <select
              id="schedule-unit"
              value={s.timeUnit}
              onChange={(e) => set({ schedule: { ...s, timeUnit: e.target.value as typeof s.timeUnit } })}
            >
              {(['minutes', 'hours', 'days', 'weeks', 'months'] as const).map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          </div>
        </div>
      )}
      {s.type === 'cron' && (
        <div className="inline">
          <div className="field" style={{ flex: 1 }}>
            <label htmlFor="cron-expression">Cron expression</label>
            <input
              id="cron-expression"
              type="text"
              className="mono"
              value={s.expression}
              aria-describedby="cron-help"
              onChange={(e) => set({ schedule: { ...s, expression: e.target.value } })}
            />
          </div>
          <div className="field">
            <label htmlFor="cron-timezone">Time zone</label>
            <select
              id="cron-timezone"
              value={s.timeZone}
              onChange={(e) => set({ schedule: { ...s, timeZone: e.target.value } })}
            >
              {zones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </div>
        </div>
      )}
      {s.type === 'cron' && (
        <p id="cron-help" className="help" style={{ marginBottom: 14 }}>
          Quartz syntax, as Airbyte: <code>second minute hour day-of-month month day-of-week</code>. Examples:{' '}
          <code>0 0 12 * * ?</code> (noon daily), <code>0 0/15 * * * ?</code> (every 15 minutes),{' '}
          <code>0 0 8 ? * MON-FRI</code> (8:00 on weekdays).
        </p>
      )}
      {err('schedule')}

      <div className="field">
        <label htmlFor="namespace-definition">Destination namespace</label>
        <select
          id="namespace-definition"
          value={value.namespaceDefinition}
          onChange={(e) => set({ namespaceDefinition: e.target.value as NamespaceDefinition })}
        >
          <option value="destination">Destination default</option>
          <option value="source">Mirror the source’s namespace</option>
          <option value="customformat">Custom format</option>
        </select>
      </div>
      {value.namespaceDefinition === 'customformat' && (
        <div className="field">
          <label htmlFor="namespace-format">Namespace format</label>
          <input
            id="namespace-format"
            type="text"
            className="mono"
            value={value.namespaceFormat}
            aria-describedby="namespace-format-help"
            onChange={(e) => set({ namespaceFormat: e.target.value })}
          />
          <p id="namespace-format-help" className="help">
            <code>{SOURCE_NAMESPACE}</code> is replaced by the stream’s namespace.
          </p>
          {err('namespaceFormat')}
        </div>
      )}
      <div className="field">
        <label htmlFor="stream-prefix">Stream prefix</label>
        <input
          id="stream-prefix"
          type="text"
          value={value.prefix}
          placeholder="e.g. raw_"
          aria-describedby="stream-prefix-help"
          onChange={(e) => set({ prefix: e.target.value })}
        />
        <p id="stream-prefix-help" className="help">
          Prepended to every destination table or file name.
        </p>
      </div>
      <div className="field">
        <label htmlFor="schema-policy">When the source schema changes</label>
        <select
          id="schema-policy"
          value={value.nonBreakingChangesPreference}
          onChange={(e) => set({ nonBreakingChangesPreference: e.target.value as NonBreakingPreference })}
        >
          <option value="ignore">Ask me to review the changes</option>
          <option value="propagate_columns">Apply field changes; add new streams unselected</option>
          <option value="propagate_fully">Apply all changes, syncing new streams</option>
          <option value="disable">Disable the connection</option>
        </select>
      </div>
    </fieldset>
  );
}
