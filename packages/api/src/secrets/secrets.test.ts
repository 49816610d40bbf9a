import { randomBytes } from 'node:crypto';
import { SecretDecryptionError } from '@sluice/db';
import { describe, expect, it } from 'vitest';
import {
  MaskedSecretError,
  maskConfig,
  openConfig,
  restoreMaskedSecrets,
  SECRET_MASK,
  SecretBox,
  sealConfig,
  secretPaths,
} from './index';

const spec = {
  type: 'object',
  properties: {
    host: { type: 'string' },
    password: { type: 'string', airbyte_secret: true },
    tunnel_method: {
      type: 'object',
      oneOf: [
        { properties: { tunnel_method: { const: 'NO_TUNNEL' } } },
        {
          properties: {
            tunnel_method: { const: 'SSH_KEY_AUTH' },
            ssh_key: { type: 'string', airbyte_secret: true, multiline: true },
          },
        },
      ],
    },
    replicas: {
      type: 'array',
      items: { type: 'object', properties: { token: { type: 'string', airbyte_secret: true } } },
    },
    port: { type: 'integer', airbyte_secret: true },
  },
};

const config = {
  host: 'db.internal',
  password: 'pa55word!',
  tunnel_method: { tunnel_method: 'SSH_KEY_AUTH', ssh_key: '-----BEGIN KEY-----' },
  replicas: [{ token: 'r1-token' }, { token: 'r2-token' }],
  port: 5432,
};

const box = new SecretBox(randomBytes(32));

describe('SecretBox', () => {
  it('round-trips JSON values and uses a fresh IV each time', () => {
    const a = box.seal('s3cret');
    const b = box.seal('s3cret');
    expect(a).not.toEqual(b);
    expect(box.open(a)).toBe('s3cret');
    expect(box.open(box.seal({ n: 1 }))).toEqual({ n: 1 });
    expect(a).not.toContain('s3cret');
  });

  it('detects a wrong key or tampering', () => {
    const sealed = box.seal('x');
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(SecretDecryptionError);
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => box.open(tampered)).toThrow(SecretDecryptionError);
  });
});

describe('config secrets', () => {
  it('finds secrets in fields, chosen oneOf branches and array items', () => {
    expect(secretPaths(spec, config)).toEqual(
      expect.arrayContaining([
        ['password'],
        ['tunnel_method', 'ssh_key'],
        ['replicas', 0, 'token'],
        ['replicas', 1, 'token'],
        ['port'],
      ]),
    );
    expect(secretPaths(spec, config)).toHaveLength(5);
  });

  it('seals only secrets, opens them back, and masks them in responses', () => {
    const stored = sealConfig(spec, config, box) as typeof config;
    expect(stored.host).toBe('db.internal');
    const storedText = JSON.stringify(stored);
    for (const plain of ['pa55word!', 'BEGIN KEY', 'r1-token', 'r2-token'])
      expect(storedText).not.toContain(plain);
    expect(SecretBox.isSealed(stored.port)).toBe(true);
    expect(openConfig(stored, box)).toEqual(config);

    const masked = maskConfig(spec, stored) as Record<string, unknown>;
    expect(masked).toEqual({
      host: 'db.internal',
      password: SECRET_MASK,
      tunnel_method: { tunnel_method: 'SSH_KEY_AUTH', ssh_key: SECRET_MASK },
      replicas: [{ token: SECRET_MASK }, { token: SECRET_MASK }],
      port: SECRET_MASK,
    });
  });

  it('sealing twice does not double-encrypt', () => {
    const once = sealConfig(spec, config, box);
    expect(sealConfig(spec, once, box)).toEqual(once);
  });

  it('masks an old encrypted value even when a newer spec no longer marks it secret', () => {
    const stored = sealConfig(spec, config, box);
    expect(maskConfig({ type: 'object' }, stored)).toMatchObject({ password: SECRET_MASK });
  });

  it('keeps the stored secret when an update sends the mask back', () => {
    const stored = sealConfig(spec, config, box);
    const update = { ...(maskConfig(spec, stored) as object), host: 'db2.internal', password: 'new-pass' };
    const merged = sealConfig(spec, restoreMaskedSecrets(update, stored), box);
    const opened = openConfig(merged, box) as typeof config;
    expect(opened.host).toBe('db2.internal');
    expect(opened.password).toBe('new-pass');
    expect(opened.tunnel_method.ssh_key).toBe('-----BEGIN KEY-----');
    expect(opened.replicas[1]?.token).toBe('r2-token');
  });

  it('refuses a mask that has no stored secret behind it', () => {
    expect(() => restoreMaskedSecrets({ password: SECRET_MASK }, {})).toThrow(MaskedSecretError);
    expect(() => restoreMaskedSecrets({ a: [{ token: SECRET_MASK }] }, { a: [] })).toThrow(/a\[0\]\.token/);
  });
});
