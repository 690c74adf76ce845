import { Arg, Authorized, Ctx, Float, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { forbidden } from '../graphql/errors';
import { checkApiKeyId } from '../auth/api-key.service';
import { PrivacyBudget } from './privacy.types';

@Resolver()
export class PrivacyBudgetResolver {
  @Authorized('analyst')
  @Query(() => PrivacyBudget, {
    nullable: true,
    description: 'A key\'s privacy budget (epsilon, spent, left); null when it has none (exact answers). keyId defaults to the caller\'s key; only admins may name another.',
  })
  privacyBudget(@Arg('keyId', () => ID, { nullable: true }) keyId: string | null, @Ctx() { principal, services }: Context): Promise<PrivacyBudget | null> {
    const asked = keyId ?? principal!.keyId;
    if (keyId !== null && keyId !== undefined) checkApiKeyId(keyId);
    if (asked !== principal!.keyId && principal!.role !== 'admin') return Promise.reject(forbidden('Only an admin key may read another key\'s privacy budget; leave keyId out for your own.'));
    return services.privacyBudgets.state(asked);
  }

  @Authorized('admin')
  @Mutation(() => PrivacyBudget, {
    nullable: true,
    description:
      'Give an analyst key a privacy budget of `epsilon` (0.01–1000) with nothing spent (a reset when it had one): from then on its funnels and eventStats are differentially private and it may ask for nothing else. Null removes the budget (exact answers again; null is returned). Takes effect on every API process within 1 s.',
  })
  async setPrivacyBudget(
    @Arg('keyId', () => ID) keyId: string,
    @Arg('epsilon', () => Float, { nullable: true }) epsilon: number | null,
    @Ctx() { services }: Context,
  ): Promise<PrivacyBudget | null> {
    const state = await services.privacyBudgets.set(keyId, epsilon);
    services.apiKeys.announceChange(keyId);
    return state;
  }
}
