import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Float, Info, Mutation, Query, Resolver } from 'type-graphql';
import { privacyRestricted, selectedFieldNames } from '../privacy/private-fields';
import { EPSILON_ARG, exactKeyEpsilon } from '../privacy/privacy-budget.service';
import type { Context } from '../context';
import { EventInput, EventStats, IngestResult } from './event.input';

@Resolver()
export class EventResolver {
  @Authorized('client')
  @Mutation(() => IngestResult, {
    description: 'Store a batch of behaviour events (at most 5,000 by default). Idempotent per eventId; bad events are rejected one by one.',
  })
  ingestEvents(
    @Arg('events', () => [EventInput], { validate: false }) events: EventInput[],
    @Ctx() { services }: Context,
  ): Promise<IngestResult> {
    return services.events.ingest(events);
  }

  @Authorized('analyst')
  @Query(() => EventStats, {
    description:
      'Totals by event type and by UTC day for events with from ≤ timestamp < to. For a key with a privacy budget: differentially private counts (see `privacy`), spending `epsilon`.',
  })
  eventStats(
    @Arg('from', () => DateTimeResolver) from: Date,
    @Arg('to', () => DateTimeResolver) to: Date,
    @Arg('epsilon', () => Float, EPSILON_ARG) epsilon: number | null,
    @Ctx() { services, principal }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<EventStats> {
    if (principal?.privacyBudget) {
      // Refused before anything is spent (the field's own check would come after the answer).
      if (selectedFieldNames(info).has('flagged')) return Promise.reject(privacyRestricted('eventStats.flagged is not available to keys with a privacy budget: its counts are exact; flagged is not differentially private.'));
      return services.privateAnalytics.eventStats(principal.keyId, from, to, epsilon);
    }
    if (epsilon !== null && epsilon !== undefined) return Promise.reject(exactKeyEpsilon());
    return services.events.stats(from, to);
  }
}
