import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (airbyte_secret config fields, webhook secret headers) are AES-256-GCM
 * ciphertexts with SLUICE_SECRET_KEY, stored as `enc:v1:<base64(iv ‖ tag ‖ ciphertext)>`.
 * The version prefix leaves room for key rotation.
 */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretDecryptionError extends Error {
  override name = 'SecretDecryptionError';
}

export function isEncryptedSecret(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export function encryptSecret(key: Buffer, plaintext: string): string {
  if (key.length !== 32) throw new Error('secret key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64');
}

export function decryptSecret(key: Buffer, payload: string): string {
  if (!isEncryptedSecret(payload)) throw new SecretDecryptionError('value is not an encrypted secret');
  const raw = Buffer.from(payload.slice(PREFIX.length), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretDecryptionError('encrypted secret is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SecretDecryptionError('encrypted secret cannot be decrypted with this key');
  }
}

/** sha256 hex, for storing API, dataplane and session tokens. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
