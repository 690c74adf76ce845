// Placeholder while the foundation is being built; replaced by the real benchmark in issue #2.
export async function run(_argv: string[]): Promise<void> {
  throw new Error('This benchmark is not built yet.');
}
