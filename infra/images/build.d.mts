// Types for build.mjs, so TypeScript tests and tools can import it.

export interface ImageBuildResult {
  tag: string;
  /** `sha256:...` */
  id: string;
  /** False when an image with the same inputs hash existed (cache hit). */
  built: boolean;
  ms: number;
}

export interface ImageTarget {
  name: string;
  context: string;
  tag: string;
  packageDir: string | undefined;
}

export type BuildLog = (message: string) => void;

export const REPO_ROOT: string;
export const INPUTS_HASH_LABEL: string;
export const NODE_MAJOR: string;
/** `sluice/node-base:<node major>` */
export const BASE_IMAGE: string;
export const MIDDLEWARE_IMAGE: string;
export const FIXTURE_IMAGE: string;
export const FIXTURES_DIR: string;

export function buildBaseImage(opts?: {
  tag?: string;
  force?: boolean;
  log?: BuildLog;
}): Promise<ImageBuildResult>;

export function buildDockerfileImage(opts: {
  context: string;
  dockerfile?: string;
  tag: string;
  buildArgs?: Record<string, string>;
  force?: boolean;
  log?: BuildLog;
}): Promise<ImageBuildResult>;

/** Context paths a Dockerfile's COPY/ADD read; null when only the whole context will do. */
export function contextSources(dockerfileText: string): string[] | null;

export function discoverImageTargets(repoRoot?: string): Promise<ImageTarget[]>;
export function fixtureTargets(): ImageTarget[];

export function buildAll(opts?: {
  repoRoot?: string;
  only?: string[];
  force?: boolean;
  compile?: boolean;
  fixtures?: boolean;
  baseOnly?: boolean;
  publicBase?: boolean;
  log?: BuildLog;
}): Promise<ImageBuildResult[]>;
