import { decryptSecret, encryptSecret, isEncryptedSecret } from '@sluice/db';
import type { ConfigSecrets } from './service';

/**
 * A ConfigSecrets for this package's tests, sealing top-level `airbyte_secret` fields with the
 * platform cipher. Production uses @sluice/api's sealConfig/openConfig (which also walks
 * nested branches and arrays); the router tests run against that one.
 */
export function topLevelConfigSecrets(key: Buffer): ConfigSecrets {
  return {
    seal(spec, config) {
      const props = (spec.properties ?? {}) as Record<string, { airbyte_secret?: boolean }>;
      const out = { ...(config as Record<string, unknown>) };
      for (const [k, v] of Object.entries(out)) {
        if (props[k]?.airbyte_secret && !isEncryptedSecret(v)) out[k] = encryptSecret(key, JSON.stringify(v));
      }
      return out;
    },
    open(stored) {
      const walk = (v: unknown): unknown => {
        if (isEncryptedSecret(v)) return JSON.parse(decryptSecret(key, v));
        if (Array.isArray(v)) return v.map(walk);
        if (v && typeof v === 'object')
          return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
        return v;
      };
      return walk(stored);
    },
  };
}
