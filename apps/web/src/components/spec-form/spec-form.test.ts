import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import {
  defaultsFor,
  fieldPathToPointer,
  groupFields,
  type JsonSchema,
  orderedFields,
  resolveSchema,
  selectedBranch,
  setAt,
  switchBranch,
} from './model';
import { SpecForm } from './SpecForm';
import { validateSpecConfig } from './validate';

// A spec shaped like Airbyte's database sources: groups, order, a oneOf with a hidden
// discriminator, secrets at the top level and inside a branch, a hidden field.
const spec: JsonSchema = {
  type: 'object',
  required: ['host', 'port', 'password', 'tunnel_method'],
  groups: [{ id: 'db' }, { id: 'auth', title: 'Authentication' }, { id: 'advanced', title: 'Advanced' }],
  properties: {
    port: {
      type: 'integer',
      title: 'Port',
      default: 5432,
      minimum: 1,
      maximum: 65535,
      order: 1,
      group: 'db',
    },
    host: { type: 'string', title: 'Host', order: 0, group: 'db' },
    password: { type: 'string', title: 'Password', airbyte_secret: true, order: 2, group: 'auth' },
    tunnel_method: {
      type: 'object',
      title: 'SSH Tunnel Method',
      order: 3,
      group: 'auth',
      oneOf: [
        {
          title: 'No Tunnel',
          required: ['tunnel_method'],
          properties: { tunnel_method: { const: 'NO_TUNNEL', type: 'string' } },
        },
        {
          title: 'SSH Key Authentication',
          required: ['tunnel_method', 'tunnel_host', 'ssh_key'],
          properties: {
            tunnel_method: { const: 'SSH_KEY_AUTH', type: 'string' },
            tunnel_host: { type: 'string', title: 'SSH Tunnel Jump Server Host' },
            ssh_key: { type: 'string', title: 'SSH Private Key', airbyte_secret: true, multiline: true },
          },
        },
      ],
    },
    schemas: { type: 'array', items: { type: 'string' }, title: 'Schemas', group: 'advanced' },
    debug: { type: 'boolean', title: 'Debug', airbyte_hidden: true },
  },
};

describe('spec form model', () => {
  it('orders fields by `order`, then required first, then by name; hides airbyte_hidden', () => {
    expect(orderedFields(spec).map((f) => f.key)).toEqual([
      'host',
      'port',
      'password',
      'tunnel_method',
      'schemas',
    ]);
  });

  it('puts fields into the spec’s groups, in the declared order', () => {
    expect(groupFields(spec).map((g) => [g.title, g.fields.map((f) => f.key)])).toEqual([
      [null, ['host', 'port']],
      ['Authentication', ['password', 'tunnel_method']],
      ['Advanced', ['schemas']],
    ]);
  });

  it('starts from defaults and the first oneOf branch, and switches branches by their constant', () => {
    const initial = defaultsFor(spec);
    expect(initial).toEqual({ port: 5432, tunnel_method: { tunnel_method: 'NO_TUNNEL' } });
    const tunnel = spec.properties as Record<string, JsonSchema>;
    const ssh = switchBranch(tunnel.tunnel_method!, { tunnel_method: 'NO_TUNNEL' }, 1);
    expect(ssh).toEqual({ tunnel_method: 'SSH_KEY_AUTH' });
    expect(selectedBranch(tunnel.tunnel_method!, ssh)).toBe(1);
    expect(selectedBranch(tunnel.tunnel_method!, { tunnel_method: 'NO_TUNNEL' })).toBe(0);
  });

  it('validates only the chosen branch, names missing fields, and accepts a stored secret’s mask', () => {
    const value = {
      host: 'db',
      port: 0,
      tunnel_method: { tunnel_method: 'SSH_KEY_AUTH', tunnel_host: 'jump' },
    };
    expect(validateSpecConfig(spec, value)).toEqual({
      '/port': 'Must be at least 1',
      '/password': 'Required',
      '/tunnel_method/ssh_key': 'Required',
    });
    const masked = {
      ...value,
      port: 5432,
      password: '**********',
      tunnel_method: { ...value.tunnel_method, ssh_key: '**********' },
    };
    expect(
      validateSpecConfig(
        {
          ...spec,
          properties: {
            ...(spec.properties as object),
            password: { type: 'string', airbyte_secret: true, minLength: 20 },
          },
        },
        masked,
      ),
    ).toEqual({});
    expect(resolveSchema(spec, value).properties).not.toHaveProperty('tunnel_method.oneOf');
  });

  it('maps API field paths to the form’s pointers, and sets values immutably', () => {
    expect(fieldPathToPointer('config.tunnel_method.ssh_key')).toBe('/tunnel_method/ssh_key');
    expect(fieldPathToPointer('config.schemas[2]')).toBe('/schemas/2');
    const before = { a: { b: 1 } };
    const after = setAt(before, ['a', 'c'], 2);
    expect(after).toEqual({ a: { b: 1, c: 2 } });
    expect(before).toEqual({ a: { b: 1 } });
    expect(setAt(after, ['a', 'b'], undefined)).toEqual({ a: { c: 2 } });
  });
});

describe('SpecForm', () => {
  it('renders labelled inputs: secrets as passwords, groups as titled sections, the oneOf as a choice', () => {
    const html = renderToStaticMarkup(
      createElement(SpecForm, {
        schema: spec,
        value: { port: 5432, tunnel_method: { tunnel_method: 'SSH_KEY_AUTH' } },
        onChange: () => {},
        errors: { '/password': 'Required' },
        idPrefix: 't',
      }),
    );
    expect(html).toContain('<label for="t-host" class="is-required">Host</label>');
    const password = /<input id="t-password"[^>]*>/.exec(html)?.[0] ?? '';
    expect(password).toContain('type="password"');
    expect(password).toContain('aria-invalid="true"');
    expect(password).toContain('aria-describedby="t-password-error"');
    expect(html).toContain(
      '<section class="form-section" aria-label="Authentication"><h3>Authentication</h3>',
    );
    expect(html).toMatch(
      /<select id="t-tunnel_method"[^>]*><option value="0">No Tunnel<\/option><option value="1" selected="">SSH Key Authentication<\/option>/,
    );
    expect(html).toMatch(/<textarea id="t-tunnel_method-ssh_key"[^>]*class="secret"/);
    // The discriminator is set by the choice, never shown; hidden fields are not rendered.
    expect(html).not.toContain('t-tunnel_method-tunnel_method');
    expect(html).not.toContain('Debug');
    expect(html).toContain('<p id="t-password-error" class="field-error">Required</p>');
    expect(html).toContain('<summary>Optional fields (1)</summary>');
  });
});
