import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Float, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../context';
import { EventStats } from '../events/event.input';
import { ANOMALY_PAGE, FlaggedTraffic, LabelUserInput, USER_LABEL_PAGE, UserLabel, UserLabelConnection, UserLabelKind, UserRisk, UserRiskConnection } from './anomaly.types';
import { AFTER_ARG, firstArg } from '../graphql/connection';
import { ID_RULE } from '../graphql/input-rules';

@Resolver()
export class AnomalyResolver {
  @Authorized('analyst')
  @Query(() => UserRiskConnection, {
    description:
      'Users flagged as anomalous with events in [from, to): the ensemble score of one of their UTC days overlapping [from, to) is ≥ minScore (default the configured threshold), or the ingest guard marked them. Highest worst-day score first.',
  })
  anomalies(
    @Arg('from', () => DateTimeResolver) from: Date,
    @Arg('to', () => DateTimeResolver) to: Date,
    @Arg('minScore', () => Float, { nullable: true }) minScore: number | null,
    @Arg('first', () => Int, firstArg(ANOMALY_PAGE)) first: number,
    @Arg('after', () => String, AFTER_ARG) after: string | null,
    @Ctx() { services }: Context,
  ): Promise<UserRiskConnection> {
    return services.anomalies.anomalies(from, to, minScore, first, after);
  }

  @Authorized('analyst')
  @Query(() => UserRisk, { description: 'One user’s anomaly score (their worst day), the detectors’ contributions and the features that stand out, and every flagged day.' })
  userRisk(@Arg('userId', { description: `The shop's user id (${ID_RULE}).` }) userId: string, @Ctx() { services }: Context): Promise<UserRisk> {
    return services.anomalies.userRisk(userId);
  }

  @Authorized('admin')
  @Mutation(() => UserLabel, { description: 'Label a user BOT, FRAUD or GENUINE (replacing an earlier label); ANOMALY_SUPERVISED learns from the labels.' })
  labelUser(@Arg('input', () => LabelUserInput) input: LabelUserInput, @Ctx() { services, principal }: Context): Promise<UserLabel> {
    return services.anomalies.labelUser(input.userId, input.label, input.note, principal?.keyId ?? null);
  }

  @Authorized('analyst')
  @Query(() => UserLabelConnection, { description: 'Admin labels, newest first.' })
  userLabels(
    @Arg('label', () => UserLabelKind, { nullable: true, description: 'Only labels of this kind; all when left out.' }) label: UserLabelKind | null,
    @Arg('first', () => Int, firstArg(USER_LABEL_PAGE)) first: number,
    @Arg('after', () => String, AFTER_ARG) after: string | null,
    @Ctx() { services }: Context,
  ): Promise<UserLabelConnection> {
    return services.anomalies.labels(label, first, after);
  }
}

@Resolver(() => EventStats)
export class EventStatsAnomalyResolver {
  // Authorized like eventStats itself, so a key with a privacy budget is refused it (exact counts).
  @Authorized('analyst')
  @FieldResolver(() => FlaggedTraffic, { description: 'How much of the range’s traffic comes from users flagged as anomalous. Not for keys with a privacy budget (exact counts).' })
  flagged(@Root() stats: EventStats, @Ctx() { services }: Context): Promise<FlaggedTraffic> {
    return services.anomalies.flaggedTraffic(stats.from, stats.to);
  }
}
