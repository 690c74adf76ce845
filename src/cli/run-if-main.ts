/**
 * Runs a report script's `main` when its file is the one node was started with (and not when a
 * test or another module imports it); an error is printed and the exit code set to 1.
 */
export function runIfMain(scriptModule: NodeModule, main: () => Promise<unknown>): void {
  if (require.main !== scriptModule) return;
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
