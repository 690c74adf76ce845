import { GraphQLScalarType, valueFromASTUntyped } from 'graphql';
import { GraphQLJSON, DateTimeResolver } from 'graphql-scalars';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { ID_RULE } from '../graphql/input-rules';
import { EVENT_TYPE_RULE } from './event.types';
import { PrivacyNote } from '../privacy/privacy.types';

/**
 * An event's time exactly as the client wrote it. Coercion never fails, so one unreadable value
 * cannot fail the whole batch (graphql-js refuses the operation when any scalar does not parse);
 * readEventTimestamp judges it per event and the event is rejected with BAD_TIMESTAMP and a hint.
 */
export const EventTimestampScalar = new GraphQLScalarType({
  name: 'EventTimestamp',
  description:
    'When an event happened: ISO 8601 / RFC 3339 text with a zone (2025-03-12T00:00:12Z, 2025-03-12T01:00:12.250+01:00; ' +
    'T and Z may be lower case; a bare date 2025-03-12 is midnight UTC), or epoch milliseconds as a number or a string of digits ' +
    '(1741737612000). Numbers below 10^11 (before 1973-03-03) look like seconds and are refused. A value that is none of these ' +
    'rejects only its event (code BAD_TIMESTAMP or IMPLAUSIBLE_TIMESTAMP), never the batch. Input only.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});

/**
 * One event as a client sends it. Every field is nullable and taken as written, so nothing a
 * single event carries fails the operation: the service checks each event (event-checks.ts) and
 * rejects a bad one with its index, a code and what to fix, while the rest of the batch is stored.
 */
@InputType({ description: 'A behaviour event. `eventId` is the client\'s id: sending it again is a no-op. Fields are nullable only so that a missing one rejects its event instead of the batch: eventId, type, userId and timestamp are required.' })
export class EventInput {
  @Field(() => String, { nullable: true, description: `Required. Client-chosen unique id (${ID_RULE}); a re-sent event with the same id is a duplicate.` })
  eventId?: string | null;

  @Field(() => String, { nullable: true, description: `Required. view, cart, remove_from_cart, fav, checkout, purchase, search, or a custom name: ${EVENT_TYPE_RULE}.` })
  type?: string | null;

  @Field(() => String, { nullable: true, description: `Required. The shop's user id (${ID_RULE}); send numeric ids as strings, so ids above 2^53 stay exact.` })
  userId?: string | null;

  @Field(() => String, { nullable: true, description: `The visit (${ID_RULE}); empty or left out: none.` })
  sessionId?: string | null;

  @Field(() => String, { nullable: true, description: `The item (${ID_RULE}), as in the catalog.` })
  itemId?: string | null;

  @Field(() => EventTimestampScalar, { nullable: true, description: 'Required. When it happened (see EventTimestamp); at most a day in the future.' })
  timestamp?: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: 'A JSON object: device, channel, price, query, …' })
  properties?: unknown;
}

@ObjectType({ description: 'Why one event of a batch was not stored.' })
export class RejectedEvent {
  @Field(() => Int, { description: 'Position of the event in the submitted array (0-based).' })
  index: number;

  @Field({ description: 'Machine-readable reason: INVALID_EVENT_TYPE, MISSING_EVENT_ID, MISSING_USER, EMPTY_ID, ID_TOO_LONG, MALFORMED_ROW, MISSING_TIMESTAMP, BAD_TIMESTAMP, IMPLAUSIBLE_TIMESTAMP, FUTURE_TIMESTAMP, BAD_PROPERTIES, PROPERTIES_TOO_LARGE, USER_ERASED (the user was forgotten: forgetUser; stop sending their events) BEYOND_RETENTION (older than the retention cutoff, FUNNELCAST_RETENTION_DAYS: not stored) or TOO_OLD (more than FUNNELCAST_INGEST_MAX_PAST_DAYS, default 730, in the past: load history with `funnelcast import`).' })
  code: string;

  @Field({ description: 'What is wrong and what to send instead.' })
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

  @Field(() => PrivacyNote, {
    nullable: true,
    description:
      'Set for keys with a privacy budget: every count is noisy (each user\'s first events only, custom types as "(other)", every UTC day of the range listed); null for exact answers.',
  })
  privacy?: PrivacyNote | null;
}
