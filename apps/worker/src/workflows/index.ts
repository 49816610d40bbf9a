import type { WorkflowDefinition } from '@sluice/workflow';
import type { z } from 'zod';
import type { WorkflowDeps } from '../deps';
import { connectorJobWorkflow } from './connector-job';
import { connectionManagerWorkflow } from './manager';
import { notifyWorkflow } from './notify';

export type { ManagerInput, ManagerOutput } from './manager';

/** Every workflow type of the worker; every worker process must register all of them. */
export function createWorkflows(deps: WorkflowDeps): WorkflowDefinition<z.ZodType, unknown>[] {
  return [
    connectionManagerWorkflow(deps),
    connectorJobWorkflow(deps),
    notifyWorkflow(deps),
  ] as WorkflowDefinition<z.ZodType, unknown>[];
}
