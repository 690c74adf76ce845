import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
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
  @Query(() => EventStats, { description: 'Totals by event type and by UTC day for events with from ≤ timestamp < to.' })
  eventStats(
    @Arg('from', () => DateTimeResolver) from: Date,
    @Arg('to', () => DateTimeResolver) to: Date,
    @Ctx() { services }: Context,
  ): Promise<EventStats> {
    return services.events.stats(from, to);
  }
}
