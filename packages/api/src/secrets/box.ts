import { decryptSecret, encryptSecret, isEncryptedSecret } from '@sluice/db';

/**
 * Seals JSON values (not just strings) with the platform key, so a secret field keeps its
 * type — an integer port marked secret comes back an integer. The cipher itself lives in
 * `@sluice/db`, which also uses it for the key canary and webhook headers.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
    this.#key = key;
  }

  static isSealed(value: unknown): value is string {
    return isEncryptedSecret(value);
  }

  seal(value: unknown): string {
    return encryptSecret(this.#key, JSON.stringify(value));
  }

  open(sealed: string): unknown {
    return JSON.parse(decryptSecret(this.#key, sealed));
  }
}
