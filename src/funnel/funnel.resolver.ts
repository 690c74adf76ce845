import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Float, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { EPSILON_ARG, exactKeyEpsilon } from '../privacy/privacy-budget.service';
import type { Context } from '../context';
import type { FunnelCallOptions } from './funnel-budget';
import { FunnelInput, TrendInterval } from './funnel.input';
import { FunnelDrivers, FunnelDriversOptions } from './funnel-drivers.types';
import { AFTER_ARG, firstArg } from '../graphql/connection';
import { DROPPED_OFF_PAGE, DroppedOffUnitConnection, FunnelResult, FunnelTrendPoint, SavedFunnel, TimeToConvert } from './funnel.types';

/**
 * Funnel fields run under FUNNELCAST_FUNNEL_TIMEOUT_MS each (FUNNEL_TIMEOUT past it) and stop when
 * the client closes the request; the pool takes callers' API keys in turn (see funnel-pool.ts).
 */
function callOptions({ principal, signal }: Context): FunnelCallOptions {
  return { owner: principal?.keyId, signal };
}

@Resolver()
export class FunnelResolver {
  @Authorized('analyst')
  @Query(() => FunnelResult, {
    description:
      'Step counts, conversion, drop-off and time between steps (ClickHouse windowFunnel semantics), optionally broken down. For a key with a privacy budget: differentially private counts (see `privacy`), spending `epsilon`.',
  })
  funnel(
    @Arg('input', () => FunnelInput) input: FunnelInput,
    @Arg('epsilon', () => Float, EPSILON_ARG) epsilon: number | null,
    @Ctx() context: Context,
  ): Promise<FunnelResult> {
    const { principal, services } = context;
    if (principal?.privacyBudget) return services.privateAnalytics.funnel(principal.keyId, input, epsilon, callOptions(context));
    if (epsilon !== null && epsilon !== undefined) return Promise.reject(exactKeyEpsilon());
    return services.funnels.funnel(input, callOptions(context));
  }

  @Authorized('analyst')
  @Query(() => [FunnelTrendPoint], { description: 'Whole-funnel conversion per UTC day or ISO week, each period the funnel of chains starting in it.' })
  funnelTrend(
    @Arg('input', () => FunnelInput) input: FunnelInput,
    @Arg('interval', () => TrendInterval) interval: TrendInterval,
    @Ctx() context: Context,
  ): Promise<FunnelTrendPoint[]> {
    return context.services.funnels.trend(input, interval, callOptions(context));
  }

  @Authorized('analyst')
  @Query(() => TimeToConvert, { description: 'Distribution of the time from one step to a later one, over units that reached the later step.' })
  timeToConvert(
    @Arg('input', () => FunnelInput) input: FunnelInput,
    @Arg('fromStep', () => Int) fromStep: number,
    @Arg('toStep', () => Int) toStep: number,
    @Arg('buckets', () => Int, { defaultValue: 10 }) buckets: number,
    @Ctx() context: Context,
  ): Promise<TimeToConvert> {
    return context.services.funnels.timeToConvert(input, fromStep, toStep, buckets, callOptions(context));
  }

  @Authorized('analyst')
  @Query(() => DroppedOffUnitConnection, { description: 'Units that reached afterStep and went no further, a page at a time.' })
  droppedOff(
    @Arg('input', () => FunnelInput) input: FunnelInput,
    @Arg('afterStep', () => Int) afterStep: number,
    @Arg('first', () => Int, firstArg(DROPPED_OFF_PAGE)) first: number,
    @Arg('after', () => String, AFTER_ARG) after: string | null,
    @Arg('factor', () => String, { nullable: true, description: 'Only units with this conversion-driver factor (a funnelDrivers answer\'s droppedOff.factor; afterStep its step).' })
    factor: string | null,
    @Ctx() context: Context,
  ): Promise<DroppedOffUnitConnection> {
    return context.services.funnels.droppedOff(input, afterStep, first, after, callOptions(context), factor);
  }

  @Authorized('analyst')
  @Query(() => FunnelDrivers, {
    description:
      'Conversion drivers: among units that reached `step`, the factors (step-event properties, part of the day, event types done before the next step, user properties) associated with reaching the next step or dropping off, with odds ratios, Fisher p-values and Benjamini–Hochberg q-values.',
  })
  funnelDrivers(
    @Arg('input', () => FunnelInput) input: FunnelInput,
    @Arg('step', () => Int) step: number,
    @Arg('options', () => FunnelDriversOptions, { nullable: true }) options: FunnelDriversOptions | null,
    @Ctx() context: Context,
  ): Promise<FunnelDrivers> {
    return context.services.funnels.drivers(input, step, options ?? {}, callOptions(context));
  }

  @Authorized('analyst')
  @Mutation(() => SavedFunnel, { description: 'Keep a funnel under a name (it is checked first).' })
  saveFunnel(@Arg('name') name: string, @Arg('input', () => FunnelInput) input: FunnelInput, @Ctx() { services }: Context): Promise<SavedFunnel> {
    return services.funnels.save(name, input);
  }

  @Authorized('analyst')
  @Query(() => [SavedFunnel], { description: 'Saved funnels, oldest first.' })
  funnels(@Ctx() { services }: Context): Promise<SavedFunnel[]> {
    return services.funnels.list();
  }

  @Authorized('analyst')
  @Mutation(() => Boolean, { description: 'True when the funnel was deleted, false when no funnel had that id.' })
  deleteFunnel(@Arg('id', () => ID) id: string, @Ctx() { services }: Context): Promise<boolean> {
    return services.funnels.delete(id);
  }

  @Authorized('analyst')
  @Query(() => FunnelResult, { description: 'Run a saved funnel; from / to replace its saved range when given.' })
  runSavedFunnel(
    @Arg('id', () => ID) id: string,
    @Arg('from', () => DateTimeResolver, { nullable: true }) from: Date | null,
    @Arg('to', () => DateTimeResolver, { nullable: true }) to: Date | null,
    @Ctx() context: Context,
  ): Promise<FunnelResult> {
    return context.services.funnels.runSaved(id, from, to, callOptions(context));
  }
}
