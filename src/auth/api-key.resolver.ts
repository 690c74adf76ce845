import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Field, Float, ID, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import { badInput } from '../graphql/errors';
import { checkBudget } from '../privacy/privacy-budget.service';
import type { Context } from '../context';
import type { ApiKey } from './api-key.entity';

export enum RoleName {
  ADMIN = 'admin',
  ANALYST = 'analyst',
  SERVER = 'server',
  CLIENT = 'client',
}
registerEnumType(RoleName, {
  name: 'Role',
  description:
    'client: the public key shipped inside apps: ingest events, read recommendations, report feedback; server: a trusted backend: what a client may, plus predictions with their explanations; analyst: read analytics and predictions; admin: everything.',
});

@ObjectType('ApiKey')
export class ApiKeyView {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => RoleName)
  role: RoleName;

  @Field({ description: 'The first characters of the secret (at most 6), to tell keys apart.' })
  prefix: string;

  @Field(() => DateTimeResolver)
  createdAt: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  revokedAt: Date | null;

  @Field(() => DateTimeResolver, { nullable: true })
  lastUsedAt: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKeyView)
  apiKey: ApiKeyView;

  @Field({ description: 'The secret to send as "Authorization: Bearer <secret>". Shown only now; store it safely.' })
  secret: string;
}

function toView(key: ApiKey): ApiKeyView {
  return {
    id: key.id,
    name: key.name,
    role: key.role as RoleName,
    prefix: key.keyPrefix,
    createdAt: key.createdAt,
    revokedAt: key.revokedAt,
    lastUsedAt: key.lastUsedAt,
  };
}

/** The key that sent a request, as the console needs it to choose its pages: never the secret. */
@ObjectType('Viewer')
export class ViewerView {
  @Field(() => ID)
  keyId: string;

  @Field()
  name: string;

  @Field(() => RoleName)
  role: RoleName;
}

@Resolver()
export class ApiKeyResolver {
  @Query(() => ViewerView, { nullable: true, description: 'The key that sent this request (id, name, role); null without a valid key. Any key may ask.' })
  viewer(@Ctx() { principal }: Context): ViewerView | null {
    return principal ? { keyId: principal.keyId, name: principal.name, role: principal.role as RoleName } : null;
  }

  @Authorized('admin')
  @Mutation(() => CreatedApiKey)
  async createApiKey(
    @Arg('role', () => RoleName) role: RoleName,
    @Arg('name') name: string,
    @Arg('privacyBudget', () => Float, {
      nullable: true,
      description: 'Analyst keys only: a differential privacy budget (total epsilon, 0.01–1000); the key then gets noisy funnels and eventStats only (setPrivacyBudget, docs/privacy.md).',
    })
    privacyBudget: number | null,
    @Ctx() { services }: Context,
  ): Promise<CreatedApiKey> {
    if (privacyBudget !== null && privacyBudget !== undefined && role !== RoleName.ANALYST) throw badInput(`Only analyst keys take a privacy budget; leave privacyBudget out for a ${role} key.`);
    if (privacyBudget !== null && privacyBudget !== undefined) checkBudget(privacyBudget);
    const { apiKey, secret } = await services.apiKeys.create(role, name);
    if (privacyBudget !== null && privacyBudget !== undefined) await services.privacyBudgets.set(apiKey.id, privacyBudget);
    return { apiKey: toView(apiKey), secret };
  }

  @Authorized('admin')
  @Mutation(() => ApiKeyView, { description: 'Revoke a key: requests with it fail at once on this API process and within 1 s on every other one.' })
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() { services }: Context): Promise<ApiKeyView> {
    return toView(await services.apiKeys.revoke(id));
  }

  @Authorized('admin')
  @Query(() => [ApiKeyView])
  async apiKeys(
    @Arg('includeRevoked', { defaultValue: false }) includeRevoked: boolean,
    @Ctx() { services }: Context,
  ): Promise<ApiKeyView[]> {
    return (await services.apiKeys.list(includeRevoked)).map(toView);
  }
}
