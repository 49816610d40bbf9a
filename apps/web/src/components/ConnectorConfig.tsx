'use client';

import { useMutation } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useMemo, useState } from 'react';
import type { CheckResult } from '../client/api';
import { describeError } from '../client/errors';
import { fieldPathToPointer, type JsonSchema } from './spec-form/model';
import { SpecForm } from './spec-form/SpecForm';
import { type FieldErrors, validateSpecConfig } from './spec-form/validate';
import { ErrorBox, StatusBadge } from './ui';

export interface ConnectorConfigFormProps {
  kind: 'source' | 'destination';
  /** The definition's `connectionSpecification`. */
  schema: JsonSchema;
  initialName: string;
  initialConfig: Record<string, unknown>;
  /** Runs the connector's check with the form's config (saved or not). */
  test(config: Record<string, unknown>): Promise<CheckResult>;
  save(name: string, config: Record<string, unknown>): Promise<unknown>;
  saveLabel: string;
  readOnly?: boolean;
  extraActions?: ReactNode;
}

/**
 * Name + spec-generated form + "Test connection" (result inline) + save. The config is
 * checked against the spec in the browser first; the server checks it again and its field
 * errors land next to the field they name.
 */
export function ConnectorConfigForm(props: ConnectorConfigFormProps) {
  const [name, setName] = useState(props.initialName);
  const [config, setConfig] = useState<Record<string, unknown>>(props.initialConfig);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [nameError, setNameError] = useState<string | null>(null);
  const [check, setCheck] = useState<CheckResult | null>(null);
  const noun = props.kind === 'source' ? 'source' : 'destination';

  const validate = (): boolean => {
    const found = validateSpecConfig(props.schema, config);
    setErrors(found);
    const missingName = name.trim() === '';
    setNameError(missingName ? 'Required' : null);
    return Object.keys(found).length === 0 && !missingName;
  };
  const serverErrors = (err: unknown) => {
    const path = describeError(err).fieldPath;
    if (path?.startsWith('config'))
      setErrors({ [fieldPathToPointer(path)]: describeError(err).detail ?? 'Invalid' });
    if (path === 'name') setNameError(describeError(err).detail ?? 'Invalid');
  };

  const test = useMutation({
    mutationFn: () => props.test(config),
    onMutate: () => setCheck(null),
    onSuccess: (r) => setCheck(r),
    onError: serverErrors,
  });
  const save = useMutation({ mutationFn: () => props.save(name.trim(), config), onError: serverErrors });

  const errorCount = useMemo(() => Object.keys(errors).length, [errors]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (validate()) save.mutate();
  };

  return (
    <form className="form" onSubmit={submit} noValidate aria-label={`${noun} configuration`}>
      <div className={`field${nameError ? ' has-error' : ''}`}>
        <label htmlFor={`${noun}-name`} className="is-required">
          {props.kind === 'source' ? 'Source name' : 'Destination name'}
        </label>
        <input
          id={`${noun}-name`}
          type="text"
          value={name}
          required
          aria-required
          aria-invalid={nameError ? true : undefined}
          disabled={props.readOnly}
          onChange={(e) => {
            setName(e.target.value);
            if (nameError && e.target.value.trim()) setNameError(null);
          }}
        />
        {nameError && <p className="field-error">{nameError}</p>}
      </div>
      <SpecForm
        schema={props.schema}
        value={config}
        onChange={(next) => {
          setConfig(next);
          // Once errors are on screen they follow the edits, so a fixed field stops complaining.
          if (Object.keys(errors).length > 0) setErrors(validateSpecConfig(props.schema, next));
        }}
        errors={errors}
        idPrefix={noun}
        disabled={props.readOnly}
      />
      {errorCount > 0 && (
        <div className="alert alert-error" role="alert">
          {errorCount === 1 ? 'One field needs attention.' : `${errorCount} fields need attention.`}
        </div>
      )}
      {test.error ? <ErrorBox error={test.error} title="The connection test could not run." /> : null}
      {check && <CheckOutcome result={check} />}
      {save.error ? <ErrorBox error={save.error} title={`The ${noun} was not saved.`} /> : null}
      {!props.readOnly && (
        <div className="form-actions">
          <button
            type="button"
            className="btn"
            disabled={test.isPending}
            onClick={() => {
              if (validate()) test.mutate();
            }}
          >
            {test.isPending ? 'Testing…' : 'Test connection'}
          </button>
          <button type="submit" className="btn primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : props.saveLabel}
          </button>
          {props.extraActions}
        </div>
      )}
    </form>
  );
}

export function CheckOutcome({ result }: { result: CheckResult }) {
  const ok = result.status === 'succeeded';
  return (
    <div className={`alert ${ok ? 'alert-ok' : 'alert-error'}`} role="status" data-testid="check-result">
      <div className="row">
        <StatusBadge
          status={ok ? 'succeeded' : 'failed'}
          label={ok ? 'Connection test passed' : 'Connection test failed'}
        />
      </div>
      {result.message && <div className="alert-detail">{result.message}</div>}
      {!ok && result.failureType && (
        <div className="muted">Failure type: {result.failureType.replace(/_/g, ' ')}</div>
      )}
    </div>
  );
}
