'use client';

import { Fragment, useState } from 'react';
import {
  choiceProblems,
  type DestinationSyncMode,
  type DiscoveredStream,
  keyOf,
  type ModeOption,
  modeLabel,
  modeOptions,
  modeValue,
  needsCursor,
  needsPrimaryKey,
  type StreamChoice,
  topLevelFields,
  withMode,
} from '../lib/catalog';
import { streamLabel } from '../lib/format';

export interface StreamsEditorProps {
  discovered: DiscoveredStream[];
  choices: StreamChoice[];
  onChange(next: StreamChoice[]): void;
  destModes: readonly DestinationSyncMode[];
  readOnly?: boolean;
  /** Keys of streams the schema review marks (added/removed/changed). */
  highlights?: Map<string, string>;
}

const domId = (s: { name: string; namespace?: string | null | undefined }) =>
  `stream-${(s.namespace ? `${s.namespace}-` : '') + s.name}`.replace(/[^A-Za-z0-9_-]/g, '_');

/** One row per discovered stream: select, sync mode, cursor, primary key, fields. */
export function StreamsEditor({
  discovered,
  choices,
  onChange,
  destModes,
  readOnly,
  highlights,
}: StreamsEditorProps) {
  const [open, setOpen] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const byKey = new Map(discovered.map((s) => [keyOf(s), s]));
  const update = (i: number, next: StreamChoice) => onChange(choices.map((c, j) => (j === i ? next : c)));
  const selectedCount = choices.filter((c) => c.selected).length;
  const allSelected = selectedCount === choices.length && choices.length > 0;
  const rows = choices
    .map((c, i) => ({ c, i, s: byKey.get(keyOf(c.stream)) }))
    .filter((r): r is { c: StreamChoice; i: number; s: DiscoveredStream } => Boolean(r.s))
    .filter((r) => streamLabel(r.c.stream).toLowerCase().includes(filter.trim().toLowerCase()));

  return (
    <div>
      <div className="row" style={{ marginBottom: 10 }}>
        <div className="field" style={{ marginBottom: 0 }}>
          <label htmlFor="stream-filter">Search streams</label>
          <input id="stream-filter" type="text" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        <span className="spacer" />
        <span className="muted" aria-live="polite">
          {selectedCount} of {choices.length} streams selected
        </span>
      </div>
      <div className="table-wrap">
        <table className="streams">
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all streams"
                  checked={allSelected}
                  disabled={readOnly}
                  onChange={(e) => onChange(choices.map((c) => ({ ...c, selected: e.target.checked })))}
                />
              </th>
              <th scope="col">Stream</th>
              <th scope="col">Sync mode</th>
              <th scope="col">Cursor field</th>
              <th scope="col">Primary key</th>
              <th scope="col">Fields</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ c, i, s }) => {
              const label = streamLabel(c.stream);
              const id = domId(c.stream);
              const options: ModeOption[] = modeOptions(s, destModes);
              const fields = topLevelFields(s);
              const problems = choiceProblems(c, s);
              const isOpen = open === keyOf(c.stream);
              const mark = highlights?.get(keyOf(c.stream));
              return (
                <Fragment key={keyOf(c.stream)}>
                  <tr data-stream={label} aria-invalid={problems.length > 0 || undefined}>
                    <td>
                      <input
                        type="checkbox"
                        id={`${id}-selected`}
                        aria-label={`Sync stream ${label}`}
                        checked={c.selected}
                        disabled={readOnly}
                        onChange={(e) => update(i, { ...c, selected: e.target.checked })}
                      />
                    </td>
                    <td>
                      <label htmlFor={`${id}-selected`}>
                        <strong>{c.stream.name}</strong>
                      </label>
                      {c.stream.namespace && <div className="muted">{c.stream.namespace}</div>}
                      {mark && <div className={`change-${mark}`}>{mark}</div>}
                    </td>
                    <td>
                      <select
                        aria-label={`Sync mode for ${label}`}
                        value={modeValue(c.syncMode, c.destinationSyncMode)}
                        disabled={readOnly || !c.selected}
                        onChange={(e) => update(i, withMode(c, s, e.target.value))}
                      >
                        {!options.some((o) => o.value === modeValue(c.syncMode, c.destinationSyncMode)) && (
                          <option value={modeValue(c.syncMode, c.destinationSyncMode)}>
                            {modeLabel(c.syncMode, c.destinationSyncMode)} (unsupported)
                          </option>
                        )}
                        {options.map((o) => (
                          <option key={o.value} value={o.value}>
                            {o.label}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      {c.syncMode !== 'incremental' ? (
                        <span className="muted">—</span>
                      ) : !needsCursor(c, s) ? (
                        <span title="Defined by the source">
                          {(s.default_cursor_field ?? []).join('.') || 'source-defined'}
                        </span>
                      ) : (
                        <select
                          aria-label={`Cursor field for ${label}`}
                          value={c.cursorField?.join('.') ?? ''}
                          disabled={readOnly || !c.selected}
                          onChange={(e) =>
                            update(i, {
                              ...c,
                              cursorField: e.target.value ? e.target.value.split('.') : undefined,
                            })
                          }
                        >
                          <option value="">Choose…</option>
                          {fields.map((f) => (
                            <option key={f} value={f}>
                              {f}
                            </option>
                          ))}
                        </select>
                      )}
                    </td>
                    <td>
                      {s.source_defined_primary_key?.length ? (
                        <span title="Defined by the source">
                          {s.source_defined_primary_key.map((k) => k.join('.')).join(', ')}
                        </span>
                      ) : needsPrimaryKey(c, s) ? (
                        <span>
                          {c.primaryKey?.map((k) => k.join('.')).join(', ') || <em>choose below</em>}
                        </span>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="btn small"
                        aria-expanded={isOpen}
                        aria-controls={`${id}-details`}
                        onClick={() => setOpen(isOpen ? null : keyOf(c.stream))}
                      >
                        {c.selectedFields
                          ? `${c.selectedFields.length} of ${fields.length}`
                          : `All ${fields.length}`}{' '}
                        fields
                      </button>
                    </td>
                  </tr>
                  {problems.length > 0 && (
                    <tr>
                      <td />
                      <td colSpan={5}>
                        {problems.map((p) => (
                          <p key={p} className="field-error" role="alert">
                            {label}: {p}
                          </p>
                        ))}
                      </td>
                    </tr>
                  )}
                  {isOpen && (
                    <tr className="stream-details" id={`${id}-details`}>
                      <td />
                      <td colSpan={5}>
                        {needsPrimaryKey(c, s) && (
                          <fieldset className="field" disabled={readOnly}>
                            <legend>Primary key of {label}</legend>
                            <div className="field-list">
                              {fields.map((f) => (
                                <label key={f}>
                                  <input
                                    type="checkbox"
                                    checked={c.primaryKey?.some((k) => k[0] === f) ?? false}
                                    onChange={(e) => {
                                      const rest = (c.primaryKey ?? []).filter((k) => k[0] !== f);
                                      const next = e.target.checked ? [...rest, [f]] : rest;
                                      update(i, { ...c, primaryKey: next.length ? next : undefined });
                                    }}
                                  />
                                  {f}
                                </label>
                              ))}
                            </div>
                          </fieldset>
                        )}
                        <fieldset className="field" disabled={readOnly}>
                          <legend>Fields of {label} to sync</legend>
                          <label className="row">
                            <input
                              type="checkbox"
                              checked={!c.selectedFields}
                              onChange={(e) =>
                                update(i, {
                                  ...c,
                                  selectedFields: e.target.checked ? undefined : [...fields],
                                })
                              }
                            />
                            All fields, including ones the source adds later
                          </label>
                          {c.selectedFields && (
                            <div className="field-list">
                              {fields.map((f) => (
                                <label key={f}>
                                  <input
                                    type="checkbox"
                                    checked={c.selectedFields?.includes(f) ?? false}
                                    onChange={(e) => {
                                      const cur = c.selectedFields ?? [];
                                      const next = e.target.checked
                                        ? [...cur, f]
                                        : cur.filter((x) => x !== f);
                                      update(i, { ...c, selectedFields: next });
                                    }}
                                  />
                                  {f}
                                </label>
                              ))}
                            </div>
                          )}
                        </fieldset>
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}

export function hasProblems(discovered: DiscoveredStream[], choices: StreamChoice[]): boolean {
  const byKey = new Map(discovered.map((s) => [keyOf(s), s]));
  return choices.some((c) => {
    const s = byKey.get(keyOf(c.stream));
    return s ? choiceProblems(c, s).length > 0 : false;
  });
}
