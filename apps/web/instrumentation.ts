/**
 * Runs once when the server starts. `NEXT_RUNTIME` is replaced at build time (it is not
 * configuration), which keeps the Node-only API code out of the Edge bundle.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { startApi } = await import('./src/start');
    await startApi();
  }
}
