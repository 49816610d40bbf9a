import { randomBytes } from 'node:crypto';
import { EnvError } from '@sluice/shared';
import { describe, expect, it } from 'vitest';
import {
  decryptSecret,
  encryptSecret,
  hashToken,
  isEncryptedSecret,
  SecretDecryptionError,
} from '../src/crypto';
import { connectorProcessEnv, DEFAULT_DATABASE_URL, decodeSecretKey, loadDbEnv } from '../src/env';

describe('environment', () => {
  const raw = randomBytes(32);

  it('accepts a 32-byte key as hex, base64 and unpadded base64url', () => {
    for (const encoded of [
      raw.toString('hex'),
      raw.toString('hex').toUpperCase(),
      raw.toString('base64'),
      raw.toString('base64url'),
      ` ${raw.toString('base64')}\n`,
    ]) {
      expect(decodeSecretKey(encoded)?.equals(raw)).toBe(true);
    }
  });

  it('rejects keys of the wrong length or alphabet', () => {
    for (const bad of [
      '',
      'abc',
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      'é'.repeat(44),
    ]) {
      expect(decodeSecretKey(bad)).toBeNull();
    }
  });

  it('defaults DATABASE_URL and decodes the key', () => {
    const env = loadDbEnv({ SLUICE_SECRET_KEY: raw.toString('base64') });
    expect(env.DATABASE_URL).toBe(DEFAULT_DATABASE_URL);
    expect(env.SLUICE_SECRET_KEY.equals(raw)).toBe(true);
  });

  it('names every bad variable and never prints the key', () => {
    const key = randomBytes(24).toString('base64');
    let error: unknown;
    try {
      loadDbEnv({ SLUICE_SECRET_KEY: key, DATABASE_URL: 'postgresql://host-without-database' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as Error).message;
    expect(message).toContain(
      'SLUICE_SECRET_KEY: must be 32 bytes encoded as 64 hex characters or as base64',
    );
    expect(message).toContain('DATABASE_URL: must be a postgresql:// URL that names a database');
    expect(message).not.toContain(key);
    expect(() => loadDbEnv({})).toThrow(/SLUICE_SECRET_KEY: is required/);
  });

  it('gives connector processes only PATH, HOME, LANG and TZ', () => {
    expect(
      connectorProcessEnv({
        PATH: '/bin',
        HOME: '/root',
        DATABASE_URL: 'postgresql://x/y',
        SLUICE_SECRET_KEY: 'k',
        TZ: 'UTC',
      }),
    ).toEqual({ PATH: '/bin', HOME: '/root', TZ: 'UTC' });
  });
});

describe('secrets', () => {
  const key = randomBytes(32);

  it('round-trips and never repeats a ciphertext', () => {
    const a = encryptSecret(key, 'hunter2 ✓');
    const b = encryptSecret(key, 'hunter2 ✓');
    expect(a).not.toBe(b);
    expect(isEncryptedSecret(a)).toBe(true);
    expect(a).not.toContain('hunter2');
    expect(decryptSecret(key, a)).toBe('hunter2 ✓');
  });

  it('fails clearly with another key or a tampered value', () => {
    const sealed = encryptSecret(key, 'value');
    expect(() => decryptSecret(randomBytes(32), sealed)).toThrow(SecretDecryptionError);
    const bytes = Buffer.from(sealed.slice('enc:v1:'.length), 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => decryptSecret(key, `enc:v1:${bytes.toString('base64')}`)).toThrow(
      'encrypted secret cannot be decrypted with this key',
    );
    expect(() => decryptSecret(key, 'plain')).toThrow('value is not an encrypted secret');
    expect(() => decryptSecret(key, 'enc:v1:AAAA')).toThrow('encrypted secret is truncated');
  });

  it('hashes tokens with sha256', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
