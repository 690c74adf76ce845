import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { ID_RULE } from '../graphql/input-rules';

@ObjectType({ description: 'Rows removed from one table (for model_versions: stored artifacts rewritten without the user).' })
export class RemovedRowsView {
  @Field()
  table: string;

  @Field(() => Int)
  rows: number;
}

@ObjectType('UserErasure', { description: 'One erasure as the audit log keeps it: who asked, when, what was removed. It never holds the user id.' })
export class UserErasureView {
  @Field(() => ID)
  id: string;

  @Field({ description: 'The API key (id and name) or "cli" that asked.' })
  requestedBy: string;

  @Field(() => DateTimeResolver)
  requestedAt: Date;

  @Field(() => DateTimeResolver)
  finishedAt: Date;

  @Field({ description: 'False when no user had the id (already erased, or never seen): nothing was removed, and the id stays refused.' })
  userFound: boolean;

  @Field(() => [RemovedRowsView])
  removed: RemovedRowsView[];
}

@Resolver()
export class ErasureResolver {
  @Authorized('admin')
  @Mutation(() => UserErasureView, {
    description:
      "Forget a user: their events, scores, labels, marks, feedback, cohort entries and stored model rows, and, within seconds, every API process's in-memory copies (at once on this one). Events sent for them for FUNNELCAST_ERASURE_TOMBSTONE_DAYS (30) afterwards are dropped. Idempotent. docs/privacy.md.",
  })
  forgetUser(@Arg('userId', () => ID, { description: `The shop's user id (${ID_RULE}).` }) userId: string, @Ctx() { services, principal }: Context): Promise<UserErasureView> {
    return services.erasure.forgetUser(userId, `key ${principal!.keyId} (${principal!.name})`);
  }

  @Authorized('admin')
  @Query(() => [UserErasureView], { description: 'The erasure audit log, newest first.' })
  userErasures(@Arg('limit', () => Int, { defaultValue: 100, description: '1–1000.' }) limit: number, @Ctx() { services }: Context): Promise<UserErasureView[]> {
    return services.erasure.history(limit);
  }
}
