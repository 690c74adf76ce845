import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Float, ID, Int, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { AT_RISK_PAGE, AtRiskUserConnection, FunnelStageName, LiveEventInput, NextStepPredictionView, PropensityView } from './prediction.types';
import { AFTER_ARG, firstArg } from '../graphql/connection';
import { ID_RULE } from '../graphql/input-rules';

/**
 * Predictions read a user's or a stored session's behaviour and explain themselves from it, so
 * they need a trusted key (server, analyst or admin), never the public client key shipped in apps.
 */
@Resolver()
export class PredictionResolver {
  @Authorized('server', 'analyst')
  @Query(() => NextStepPredictionView, { description: 'What a visitor does next, for a stored session (sessionId) or a visit not stored yet (events).' })
  predictNextStep(
    @Arg('sessionId', () => ID, { nullable: true }) sessionId: string | null,
    @Arg('events', () => [LiveEventInput], { nullable: true }) events: LiveEventInput[] | null,
    @Arg('userId', () => ID, {
      nullable: true,
      description: 'With sessionId: whose session (a session is a (user, session id) pair); needed when several users sent that session id, else BAD_USER_INPUT.',
    })
    userId: string | null,
    @Ctx() { services }: Context,
  ) {
    return services.prediction.predictNextStep({ sessionId, events, userId });
  }

  @Authorized('server', 'analyst')
  @Query(() => PropensityView, { description: 'Chance that the user buys within the active version’s horizon (horizonHours: a week, or a quarter of the training range when that is shorter), computed live from their history.' })
  purchasePropensity(
    @Arg('userId', () => ID, { description: `The shop's user id (${ID_RULE}).` }) userId: string,
    @Arg('asOf', () => DateTimeResolver, { nullable: true, description: 'Predict as of this instant (default: now for a live shop, one with an event in the last 24 hours; else 1 ms after its latest event, so an imported or demo shop is read at the end of its events).' }) asOf: Date | null,
    @Ctx() { services }: Context,
  ) {
    return services.prediction.purchasePropensity(userId, asOf);
  }

  @Authorized('server', 'analyst')
  @Query(() => PropensityView, { description: 'Chance that a live visit ends in a purchase: a stored session (sessionId) or a visit not stored yet (events, with userId for the history).' })
  sessionPurchasePropensity(
    @Arg('sessionId', () => ID, { nullable: true }) sessionId: string | null,
    @Arg('events', () => [LiveEventInput], { nullable: true }) events: LiveEventInput[] | null,
    @Arg('userId', () => ID, {
      nullable: true,
      description: 'Whose history to read; with sessionId also whose session (needed when several users sent that session id, else BAD_USER_INPUT).',
    })
    userId: string | null,
    @Ctx() { services }: Context,
  ) {
    return services.prediction.visitPurchasePropensity({ sessionId, events, userId });
  }

  @Authorized('analyst')
  @Query(() => AtRiskUserConnection, { description: 'Users who reached a funnel stage recently, with an open cart worth at least minValue and a stored purchase propensity of at most maxPropensity.' })
  atRiskUsers(
    @Arg('stage', () => FunnelStageName, { defaultValue: FunnelStageName.CART }) stage: FunnelStageName,
    @Arg('minValue', () => Float, { defaultValue: 0 }) minValue: number,
    @Arg('maxPropensity', () => Float, { defaultValue: 0.2 }) maxPropensity: number,
    @Arg('withinDays', () => Int, { defaultValue: 7 }) withinDays: number,
    @Arg('first', () => Int, firstArg(AT_RISK_PAGE)) first: number,
    @Arg('after', () => String, AFTER_ARG) after: string | null,
    @Arg('asOf', () => DateTimeResolver, {
      nullable: true,
      description: 'The end of the window (default: for the first page now for a live shop, one with an event in the last 24 hours, else 1 ms after its latest event; then the asOf the cursor carries; a different asOf with a cursor gives BAD_USER_INPUT).',
    })
    asOf: Date | null,
    @Ctx() { services }: Context,
  ) {
    return services.prediction.atRiskUsers({ stage, minValue, maxPropensity, withinDays, first, after, asOf });
  }
}
