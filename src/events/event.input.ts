import { GraphQLJSON, DateTimeResolver } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { ID_RULE } from '../graphql/input-rules';

/**
 * One event as a client sends it. Validation happens per event in the service, so one bad event
 * is rejected with a reason while the rest of the batch is stored.
 */
@InputType({ description: 'A behaviour event. `eventId` is the client\'s id: sending it again is a no-op.' })
export class EventInput {
  @Field({ description: `Client-chosen unique id (${ID_RULE}); a re-sent event with the same id is a duplicate.` })
  eventId: string;

  @Field({ description: 'view, cart, remove_from_cart, fav, checkout, purchase, search, or a custom name (1–64 of letters, digits, _ . : -).' })
  type: string;

  @Field({ description: `The shop's user id (${ID_RULE}).` })
  userId: string;

  @Field(() => String, { nullable: true, description: `The visit (${ID_RULE}); empty or left out: none.` })
  sessionId?: string | null;

  @Field(() => String, { nullable: true, description: `The item (${ID_RULE}), as in the catalog.` })
  itemId?: string | null;

  @Field(() => DateTimeResolver, { description: 'When it happened; at most a day in the future.' })
  timestamp: Date;

  @Field(() => GraphQLJSON, { nullable: true, description: 'A JSON object: device, channel, price, query, …' })
  properties?: unknown;
}

@ObjectType({ description: 'Why one event of a batch was not stored.' })
export class RejectedEvent {
  @Field(() => Int, { description: 'Position of the event in the submitted array (0-based).' })
  index: number;

  @Field({ description: 'Machine-readable reason, e.g. BAD_TYPE, EMPTY_USER_ID, FUTURE_TIMESTAMP.' })
  code: string;

  @Field()
  message: string;
}

@ObjectType()
export class IngestResult {
  @Field(() => Int, { description: 'Events stored by this call.' })
  accepted: number;

  @Field(() => Int, { description: 'Valid events whose eventId was already stored (or repeated in the batch); nothing changed.' })
  duplicates: number;

  @Field(() => [RejectedEvent])
  rejected: RejectedEvent[];
}

@ObjectType()
export class EventTypeCount {
  @Field()
  type: string;

  @Field(() => Int)
  count: number;
}

@ObjectType()
export class DailyEventCount {
  @Field({ description: 'UTC day, YYYY-MM-DD.' })
  day: string;

  @Field(() => Int)
  total: number;

  @Field(() => [EventTypeCount])
  byType: EventTypeCount[];
}

@ObjectType({ description: 'What is stored for a time range: totals by type and by UTC day.' })
export class EventStats {
  @Field(() => DateTimeResolver)
  from: Date;

  @Field(() => DateTimeResolver)
  to: Date;

  @Field(() => Int)
  total: number;

  @Field(() => Int)
  distinctUsers: number;

  @Field(() => Int, {
    description: 'Sessions with an event in the range: distinct (user, session id) pairs, so two users sending one session id are two sessions; events without a session id belong to none. The same definition as funnels counted by SESSION.',
  })
  distinctSessions: number;

  @Field(() => [EventTypeCount])
  byType: EventTypeCount[];

  @Field(() => [DailyEventCount])
  byDay: DailyEventCount[];
}
