import { BextError } from '../../errors.js';

export async function run(..._args: unknown[]): Promise<number> {
  throw new BextError('not_implemented', 'this command is not available in this build yet', { blame: 'host', exitCode: 1 });
}
