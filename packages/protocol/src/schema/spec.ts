import * as z from 'zod';
import { AdvancedAuthFlowType, AuthSpecificationAuthType, DestinationSyncMode } from './enums';
import { JsonInteger, JsonObject, UriString } from './primitives';

/** Pointers into the connector spec for the deprecated OAuth flow description. */
export const OAuth2Specification = z.looseObject({
  /** Path to the object holding the OAuth parameters; integers index into a `oneOf`. */
  rootObject: z.array(z.union([z.string(), JsonInteger])).optional(),
  oauthFlowInitParameters: z.array(z.array(z.string())).optional(),
  oauthFlowOutputParameters: z.array(z.array(z.string())).optional(),
});
export type OAuth2Specification = z.infer<typeof OAuth2Specification>;

/** `OAuthConnectorInputSpecification.state`: how long the OAuth `state` parameter must be. */
export const OAuthConnectorInputState = z.looseObject({
  min: JsonInteger.optional(),
  max: JsonInteger.optional(),
});
export type OAuthConnectorInputState = z.infer<typeof OAuthConnectorInputState>;

/**
 * `OAuthConfigSpecification.oauth_connector_input_specification`: the connector-defined OAuth flow
 * (URL templates and key-name overrides).
 */
export const OAuthConnectorInputSpecification = z.looseObject({
  consent_url: z.string(),
  scope: z.string().optional(),
  access_token_url: z.string(),
  access_token_headers: JsonObject.optional(),
  access_token_params: JsonObject.optional(),
  extract_output: z.array(z.string()).optional(),
  state: OAuthConnectorInputState.optional(),
  client_id_key: z.string().optional(),
  client_secret_key: z.string().optional(),
  scope_key: z.string().optional(),
  state_key: z.string().optional(),
  auth_code_key: z.string().optional(),
  redirect_uri_key: z.string().optional(),
  token_expiry_key: z.string().optional(),
});
export type OAuthConnectorInputSpecification = z.infer<typeof OAuthConnectorInputSpecification>;

/** The JSON Schemas an advanced-auth (OAuth) flow validates its inputs and outputs with. */
export const OAuthConfigSpecification = z.looseObject({
  oauth_user_input_from_connector_config_specification: JsonObject.optional(),
  oauth_connector_input_specification: OAuthConnectorInputSpecification.optional(),
  complete_oauth_output_specification: JsonObject.optional(),
  complete_oauth_server_input_specification: JsonObject.optional(),
  complete_oauth_server_output_specification: JsonObject.optional(),
});
export type OAuthConfigSpecification = z.infer<typeof OAuthConfigSpecification>;

/** `ConnectorSpecification.authSpecification` (deprecated in favour of `advanced_auth`). */
export const AuthSpecification = z.looseObject({
  auth_type: AuthSpecificationAuthType.optional(),
  oauth2Specification: OAuth2Specification.optional(),
});
export type AuthSpecification = z.infer<typeof AuthSpecification>;

/** `ConnectorSpecification.advanced_auth`. */
export const AdvancedAuth = z.looseObject({
  auth_flow_type: AdvancedAuthFlowType.optional(),
  /** Path to a config field that must hold `predicate_value` for this flow to apply. */
  predicate_key: z.array(z.string()).optional(),
  predicate_value: z.string().optional(),
  oauth_config_specification: OAuthConfigSpecification.optional(),
});
export type AdvancedAuth = z.infer<typeof AdvancedAuth>;

/**
 * A connector's `spec` output. `supportsNormalization` and `supportsDBT` default to false in the
 * YAML; the default is not filled in, so a parsed spec serializes back unchanged.
 */
export const ConnectorSpecification = z.looseObject({
  documentationUrl: UriString.optional(),
  changelogUrl: UriString.optional(),
  /** JSON Schema of the connector's config. */
  connectionSpecification: JsonObject,
  /** Deprecated. */
  supportsIncremental: z.boolean().optional(),
  supportsNormalization: z.boolean().optional(),
  supportsDBT: z.boolean().optional(),
  supported_destination_sync_modes: z.array(DestinationSyncMode).optional(),
  authSpecification: AuthSpecification.optional(),
  advanced_auth: AdvancedAuth.optional(),
  protocol_version: z.string().optional(),
});
export type ConnectorSpecification = z.infer<typeof ConnectorSpecification>;
