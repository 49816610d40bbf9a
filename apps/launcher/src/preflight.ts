import { DEFAULT_BUILD_HINT, ImageNotFoundError, type LaunchPlan } from '@sluice/runtime';
import Docker from 'dockerode';

/**
 * Docker runtime: every image of the plan must exist locally (nothing is pulled), checked before
 * the workload is reported launched, so an unknown image fails it at once with the image's name.
 * The runtime checks again when it creates the containers.
 */
export async function checkDockerImages(plan: LaunchPlan, docker: Docker): Promise<void> {
  const images = new Set([plan.middleware.image, ...plan.connectors.map((c) => c.image)]);
  for (const image of images) {
    if (!image) continue;
    try {
      await docker.getImage(image).inspect();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404)
        throw new ImageNotFoundError(image, DEFAULT_BUILD_HINT);
      throw new Error(`cannot inspect image "${image}": ${(err as Error).message}`);
    }
  }
}

export function dockerClient(socketPath = '/var/run/docker.sock'): Docker {
  return new Docker({ socketPath });
}
