import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args';
import { withDatabase } from './database';
import { ROLES, Role } from '../auth/api-key.entity';
import { ApiKeyService } from '../auth/api-key.service';

const USAGE = `Usage:
  funnelcast keys create --role admin|analyst|server|client --name NAME
  funnelcast keys list [--all]
  funnelcast keys revoke ID`;

function parseKeysArgs(argv: string[]): ParsedArgs {
  try {
    return parseArgs(argv, { flags: { role: 'string', name: 'string', all: 'boolean' }, positionals: true });
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}\n${USAGE}`);
    throw error;
  }
}

/** `funnelcast keys …`: manage API keys against DATABASE_URL. */
export async function run(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === '--help' || action === '-h') {
    console.log(USAGE);
    return action ? 0 : 1;
  }
  const args = parseKeysArgs(rest);
  if (args.flags.help) {
    console.log(USAGE);
    return 0;
  }
  return withDatabase(async (dataSource) => {
    const keys = new ApiKeyService(dataSource);
    switch (action) {
      case 'create': {
        const role = stringFlag(args, 'role');
        const name = stringFlag(args, 'name');
        if (!role || !ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}\n${USAGE}`);
        if (!name) throw new UsageError(`--name is required\n${USAGE}`);
        const { apiKey, secret } = await keys.create(role as Role, name);
        console.log(`Created ${apiKey.role} key "${apiKey.name}" (id ${apiKey.id}).`);
        console.log(`Secret (shown once): ${secret}`);
        return 0;
      }
      case 'list': {
        const all = await keys.list(Boolean(args.flags.all));
        for (const key of all) {
          const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
          console.log(`${key.id}  ${key.role.padEnd(7)}  ${key.keyPrefix}…  ${state}  ${key.name}`);
        }
        if (all.length === 0) console.log('No keys.');
        return 0;
      }
      case 'revoke': {
        const id = args.positional[0];
        if (!id) throw new UsageError(`revoke needs a key id\n${USAGE}`);
        const key = await keys.revoke(id);
        console.log(`Revoked "${key.name}" (${key.id}).`);
        return 0;
      }
      default:
        throw new UsageError(`Unknown keys action "${action}".\n${USAGE}`);
    }
  });
}
