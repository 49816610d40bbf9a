/**
 * Airbyte's namespace mapping: where a source stream lands in the destination, given the
 * connection's namespace definition, custom format and stream prefix.
 */
export interface NamespaceSettings {
  namespaceDefinition?: string | null;
  namespaceFormat?: string | null;
  prefix?: string | null;
}

export function mapStream(
  s: NamespaceSettings,
  stream: { name: string; namespace?: string | null | undefined },
): { name: string; namespace?: string } {
  const name = `${s.prefix ?? ''}${stream.name}`;
  let namespace: string | undefined;
  switch (s.namespaceDefinition) {
    case 'source':
      namespace = stream.namespace ?? undefined;
      break;
    case 'customformat': {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Airbyte's placeholder, not a template
      const formatted = (s.namespaceFormat ?? '').replaceAll('${SOURCE_NAMESPACE}', stream.namespace ?? '');
      namespace = formatted.length > 0 ? formatted : undefined;
      break;
    }
    default:
      // `destination`: the destination's default namespace.
      namespace = undefined;
  }
  return namespace === undefined ? { name } : { name, namespace };
}
