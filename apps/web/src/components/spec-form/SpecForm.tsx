'use client';

import { useState } from 'react';
import {
  branchesOf,
  branchTitle,
  defaultsFor,
  discriminators,
  type FieldEntry,
  getAt,
  groupFields,
  isObject,
  isSecret,
  type JsonSchema,
  labelOf,
  mergedBranch,
  orderedFields,
  plainDescription,
  pointerOf,
  properties,
  selectedBranch,
  setAt,
  switchBranch,
  typeOf,
} from './model';
import type { FieldErrors } from './validate';

type Path = (string | number)[];

interface Ctx {
  root: unknown;
  errors: FieldErrors;
  idPrefix: string;
  disabled: boolean;
  set(path: Path, value: unknown): void;
}

export interface SpecFormProps {
  /** The spec's `connectionSpecification`. */
  schema: JsonSchema;
  value: Record<string, unknown>;
  onChange(next: Record<string, unknown>): void;
  errors?: FieldErrors;
  /** Keeps ids unique when two forms share a page. */
  idPrefix?: string;
  disabled?: boolean;
}

/** A connector configuration form generated from its spec (see model.ts for the rules). */
export function SpecForm({
  schema,
  value,
  onChange,
  errors = {},
  idPrefix = 'cfg',
  disabled = false,
}: SpecFormProps) {
  const ctx: Ctx = {
    root: value,
    errors,
    idPrefix,
    disabled,
    set: (path, next) => onChange((setAt(value, path, next) as Record<string, unknown>) ?? {}),
  };
  const groups = groupFields(schema);
  return (
    <div className="spec-form">
      {groups.map((g) => {
        const shown = g.fields.filter((f) => f.required || f.schema.always_show === true);
        const optional = g.fields.filter((f) => !(f.required || f.schema.always_show === true));
        const body = (
          <>
            {shown.map((f) => (
              <Field key={f.key} ctx={ctx} path={[f.key]} entry={f} />
            ))}
            {optional.length > 0 && (
              <OptionalFields ctx={ctx} fields={optional} path={[]} open={hasErrorIn(ctx, optional, [])} />
            )}
          </>
        );
        return g.title ? (
          <section key={g.id} className="form-section" aria-label={g.title}>
            <h3>{g.title}</h3>
            {body}
          </section>
        ) : (
          <div key={g.id || '_'} className="form-section plain">
            {body}
          </div>
        );
      })}
    </div>
  );
}

function hasErrorIn(ctx: Ctx, fields: FieldEntry[], path: Path): boolean {
  return fields.some((f) => {
    const p = pointerOf([...path, f.key]);
    return Object.keys(ctx.errors).some((e) => e === p || e.startsWith(`${p}/`));
  });
}

function OptionalFields({
  ctx,
  fields,
  path,
  open,
}: {
  ctx: Ctx;
  fields: FieldEntry[];
  path: Path;
  open: boolean;
}) {
  const [isOpen, setOpen] = useState(open);
  return (
    <details
      className="optional-fields"
      open={isOpen || open}
      onToggle={(e) => setOpen(e.currentTarget.open)}
    >
      <summary>Optional fields ({fields.length})</summary>
      {fields.map((f) => (
        <Field key={f.key} ctx={ctx} path={[...path, f.key]} entry={f} />
      ))}
    </details>
  );
}

const idOf = (ctx: Ctx, path: Path) => `${ctx.idPrefix}-${path.join('-')}`.replace(/[^A-Za-z0-9_-]/g, '_');

function Help({ id, schema }: { id: string; schema: JsonSchema }) {
  const text = plainDescription(schema);
  const examples = Array.isArray(schema.examples) ? schema.examples.map(String).slice(0, 3) : [];
  const pattern = typeof schema.pattern_descriptor === 'string' ? schema.pattern_descriptor : null;
  if (!text && examples.length === 0 && !pattern) return null;
  return (
    <p id={id} className="help">
      {text}
      {pattern && <span className="muted"> Format: {pattern}.</span>}
      {examples.length > 0 && <span className="muted"> Example: {examples.join(', ')}</span>}
    </p>
  );
}

function FieldShell({
  ctx,
  path,
  entry,
  children,
  label,
}: {
  ctx: Ctx;
  path: Path;
  entry: FieldEntry;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => React.ReactNode;
  label?: boolean;
}) {
  const id = idOf(ctx, path);
  const error = ctx.errors[pointerOf(path)];
  const hasHelp = Boolean(plainDescription(entry.schema)) || Array.isArray(entry.schema.examples);
  const describedBy =
    [hasHelp ? `${id}-help` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      {label !== false && (
        <label htmlFor={id} className={entry.required ? 'is-required' : undefined}>
          {labelOf(entry.key, entry.schema)}
        </label>
      )}
      {children({ id, describedBy, invalid: Boolean(error) })}
      <Help id={`${id}-help`} schema={entry.schema} />
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

function Field({ ctx, path, entry }: { ctx: Ctx; path: Path; entry: FieldEntry }) {
  const { schema } = entry;
  const type = typeOf(schema);
  const value = getAt(ctx.root, path);
  if (type === 'object' && branchesOf(schema).length > 0)
    return <OneOfField ctx={ctx} path={path} entry={entry} />;
  if (type === 'object' && Object.keys(properties(schema)).length > 0) {
    return (
      <fieldset className="field nested" disabled={ctx.disabled}>
        <legend>{labelOf(entry.key, schema)}</legend>
        <Help id={`${idOf(ctx, path)}-help`} schema={schema} />
        {orderedFields(schema).map((f) => (
          <Field key={f.key} ctx={ctx} path={[...path, f.key]} entry={f} />
        ))}
      </fieldset>
    );
  }
  if (type === 'object') return <JsonField ctx={ctx} path={path} entry={entry} />;
  if (type === 'array') return <ArrayField ctx={ctx} path={path} entry={entry} />;
  if (type === 'boolean') {
    const id = idOf(ctx, path);
    return (
      <div className="field checkbox">
        <input
          id={id}
          type="checkbox"
          checked={value === true}
          disabled={ctx.disabled}
          onChange={(e) => ctx.set(path, e.target.checked)}
          aria-describedby={plainDescription(schema) ? `${id}-help` : undefined}
        />
        <label htmlFor={id}>{labelOf(entry.key, schema)}</label>
        <Help id={`${id}-help`} schema={schema} />
      </div>
    );
  }
  const enumValues = Array.isArray(schema.enum) ? schema.enum : null;
  return (
    <FieldShell ctx={ctx} path={path} entry={entry}>
      {({ id, describedBy, invalid }) => {
        const common = {
          id,
          name: path.join('.'),
          disabled: ctx.disabled,
          'aria-describedby': describedBy,
          'aria-invalid': invalid || undefined,
          'aria-required': entry.required || undefined,
        };
        if (enumValues) {
          return (
            <select
              {...common}
              value={value === undefined ? '' : String(value)}
              onChange={(e) => {
                const picked = enumValues.find((v) => String(v) === e.target.value);
                ctx.set(path, e.target.value === '' ? undefined : picked);
              }}
            >
              {(!entry.required || value === undefined) && <option value="">Choose…</option>}
              {enumValues.map((v) => (
                <option key={String(v)} value={String(v)}>
                  {String(v)}
                </option>
              ))}
            </select>
          );
        }
        if (type === 'integer' || type === 'number') {
          return (
            <input
              {...common}
              type="number"
              inputMode={type === 'integer' ? 'numeric' : 'decimal'}
              step={type === 'integer' ? 1 : 'any'}
              value={typeof value === 'number' ? String(value) : typeof value === 'string' ? value : ''}
              onChange={(e) => {
                const raw = e.target.value;
                if (raw === '') return ctx.set(path, undefined);
                const n = Number(raw);
                ctx.set(path, Number.isFinite(n) ? n : raw);
              }}
            />
          );
        }
        const text = value === undefined || value === null ? '' : String(value);
        if (schema.multiline === true) {
          return (
            <textarea
              {...common}
              rows={4}
              className={isSecret(schema) ? 'secret' : undefined}
              autoComplete="off"
              spellCheck={false}
              value={text}
              onChange={(e) => ctx.set(path, e.target.value === '' ? undefined : e.target.value)}
            />
          );
        }
        return (
          <input
            {...common}
            type={isSecret(schema) ? 'password' : 'text'}
            autoComplete={isSecret(schema) ? 'new-password' : 'off'}
            spellCheck={false}
            placeholder={
              Array.isArray(schema.examples) && schema.examples.length > 0
                ? String(schema.examples[0])
                : undefined
            }
            value={text}
            onChange={(e) => ctx.set(path, e.target.value === '' ? undefined : e.target.value)}
          />
        );
      }}
    </FieldShell>
  );
}

function OneOfField({ ctx, path, entry }: { ctx: Ctx; path: Path; entry: FieldEntry }) {
  const { schema } = entry;
  const value = getAt(ctx.root, path);
  const branches = branchesOf(schema);
  const selected = selectedBranch(schema, value);
  const hidden = new Set(discriminators(branches));
  const merged = mergedBranch(schema, selected);
  const id = idOf(ctx, path);
  const choose = (i: number) => ctx.set(path, switchBranch(schema, value, i));
  const label = labelOf(entry.key, schema);
  const fields = orderedFields(merged, hidden);
  return (
    <div className="field oneof">
      {schema.display_type === 'radio' ? (
        <fieldset disabled={ctx.disabled}>
          <legend>{label}</legend>
          <div className="radio-cards">
            {branches.map((b, i) => (
              <label key={branchTitle(b, i)} className={`radio-card${i === selected ? ' selected' : ''}`}>
                <input type="radio" name={id} checked={i === selected} onChange={() => choose(i)} />
                <span>{branchTitle(b, i)}</span>
              </label>
            ))}
          </div>
        </fieldset>
      ) : (
        <>
          <label htmlFor={id} className={entry.required ? 'is-required' : undefined}>
            {label}
          </label>
          <select
            id={id}
            value={String(selected)}
            disabled={ctx.disabled}
            onChange={(e) => choose(Number(e.target.value))}
            aria-describedby={plainDescription(schema) ? `${id}-help` : undefined}
          >
            {branches.map((b, i) => (
              <option key={branchTitle(b, i)} value={String(i)}>
                {branchTitle(b, i)}
              </option>
            ))}
          </select>
        </>
      )}
      <Help id={`${id}-help`} schema={schema} />
      {fields.length > 0 && (
        <div className="branch-fields">
          {fields.map((f) => (
            <Field key={`${selected}-${f.key}`} ctx={ctx} path={[...path, f.key]} entry={f} />
          ))}
        </div>
      )}
    </div>
  );
}

function ArrayField({ ctx, path, entry }: { ctx: Ctx; path: Path; entry: FieldEntry }) {
  const { schema } = entry;
  const items = isObject(schema.items) ? schema.items : {};
  const value = getAt(ctx.root, path);
  const list = Array.isArray(value) ? value : [];
  const itemType = typeOf(items);
  const id = idOf(ctx, path);
  if (Array.isArray(items.enum)) {
    const options = items.enum;
    return (
      <fieldset className="field" disabled={ctx.disabled}>
        <legend>{labelOf(entry.key, schema)}</legend>
        <Help id={`${id}-help`} schema={schema} />
        <div className="checkbox-list">
          {options.map((o, i) => (
            <label key={String(o)} htmlFor={`${id}-${i}`} className="checkbox">
              <input
                id={`${id}-${i}`}
                type="checkbox"
                checked={list.includes(o)}
                onChange={(e) => {
                  const next = e.target.checked ? [...list, o] : list.filter((x) => x !== o);
                  ctx.set(path, next.length > 0 ? next : undefined);
                }}
              />
              {String(o)}
            </label>
          ))}
        </div>
        {ctx.errors[pointerOf(path)] && <p className="field-error">{ctx.errors[pointerOf(path)]}</p>}
      </fieldset>
    );
  }
  if (itemType === 'object') {
    return (
      <fieldset className="field nested" disabled={ctx.disabled}>
        <legend>{labelOf(entry.key, schema)}</legend>
        <Help id={`${id}-help`} schema={schema} />
        {list.map((_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: items have no identity but their position
          <div key={i} className="array-item">
            <Field
              ctx={ctx}
              path={[...path, i]}
              entry={{
                key: `${labelOf(entry.key, schema)} ${i + 1}`,
                schema: { ...items, title: `${labelOf(entry.key, schema)} ${i + 1}` },
                required: true,
              }}
            />
            <button
              type="button"
              className="btn small"
              onClick={() =>
                ctx.set(
                  path,
                  list.filter((__, j) => j !== i),
                )
              }
            >
              Remove {labelOf(entry.key, schema)} {i + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          className="btn small"
          onClick={() => ctx.set(path, [...list, defaultsFor(items) ?? {}])}
        >
          Add {labelOf(entry.key, schema)}
        </button>
      </fieldset>
    );
  }
  // Scalars: one value per line, as a tag input would hold them.
  return (
    <FieldShell ctx={ctx} path={path} entry={entry}>
      {({ id: inputId, describedBy, invalid }) => (
        <ListInput
          id={inputId}
          describedBy={describedBy}
          invalid={invalid}
          disabled={ctx.disabled}
          value={list}
          numeric={itemType === 'integer' || itemType === 'number'}
          onChange={(next) => ctx.set(path, next.length > 0 ? next : undefined)}
        />
      )}
    </FieldShell>
  );
}

function ListInput(props: {
  id: string;
  describedBy: string | undefined;
  invalid: boolean;
  disabled: boolean;
  value: unknown[];
  numeric: boolean;
  onChange(next: unknown[]): void;
}) {
  const [text, setText] = useState(props.value.map(String).join('\n'));
  return (
    <>
      <textarea
        id={props.id}
        rows={3}
        disabled={props.disabled}
        aria-describedby={props.describedBy}
        aria-invalid={props.invalid || undefined}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          const lines = e.target.value
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean);
          props.onChange(
            props.numeric ? lines.map((l) => (Number.isFinite(Number(l)) ? Number(l) : l)) : lines,
          );
        }}
      />
      <span className="hint">One value per line.</span>
    </>
  );
}

function JsonField({ ctx, path, entry }: { ctx: Ctx; path: Path; entry: FieldEntry }) {
  const value = getAt(ctx.root, path);
  const [text, setText] = useState(value === undefined ? '' : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <FieldShell ctx={ctx} path={path} entry={entry}>
      {({ id, describedBy, invalid }) => (
        <>
          <textarea
            id={id}
            rows={4}
            className="mono"
            disabled={ctx.disabled}
            aria-describedby={describedBy}
            aria-invalid={invalid || bad || undefined}
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              if (e.target.value.trim() === '') {
                setBad(false);
                return ctx.set(path, undefined);
              }
              try {
                ctx.set(path, JSON.parse(e.target.value));
                setBad(false);
              } catch {
                setBad(true);
              }
            }}
          />
          {bad && <p className="field-error">Not valid JSON yet.</p>}
        </>
      )}
    </FieldShell>
  );
}
