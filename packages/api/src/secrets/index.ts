export { SecretBox } from './box';
export {
  type ConfigPath,
  formatPath,
  MaskedSecretError,
  maskConfig,
  openConfig,
  restoreMaskedSecrets,
  SECRET_MASK,
  sealConfig,
  secretPaths,
} from './config-secrets';
