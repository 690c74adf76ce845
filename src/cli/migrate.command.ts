// Placeholder while the foundation is being built; replaced by the real command in issue #2.
export async function run(_argv: string[]): Promise<number> {
  console.error('This command is not built yet.');
  return 1;
}
