// @sluice/db does not export its connection-state repository from its entry point yet (as
// @sluice/workload notes too); this file is the only one reaching into it. When @sluice/db
// exports these names, import them from '@sluice/db' instead.
export { resetConnectionState } from '../../../packages/db/src/state';
