import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { JSONObjectResolver } from 'graphql-scalars';
import type { Context } from '../context';
import { ModelKind, TrainingJobState } from './model-kind';
import { ModelVersionView, TrainAllInput, TrainAllResultView, TrainingJobConnectionView, TrainingJobView, TrainingScheduleView, TrainModelInput } from './training.types';

@Resolver()
export class TrainingResolver {
  @Authorized('admin')
  @Mutation(() => TrainingJobView, {
    description: 'Queue a training job. The same request (kind, params, data range, activate) on the same data returns the existing job (QUEUED, RUNNING or COMPLETED) instead of training twice. "The same data" means the same events in the range (all from `from` on when `to` is left out), the same catalogue, the same user labels and, with excludeAnomalous, the same flagged users: once any of it changes, for instance late events landing in a past range, the request trains again.',
  })
  trainModel(@Arg('input', () => TrainModelInput) input: TrainModelInput, @Ctx() { services }: Context) {
    return services.training.trainModel(input);
  }

  @Authorized('admin')
  @Mutation(() => TrainAllResultView, {
    description:
      'Train every model kind in the right order: the anomaly detectors first, then every model that leaves out the users they flag, waiting for them (a recommender trained before the detectors would learn from bots). Each job is a trainModel request (idempotent the same way); kinds that cannot train yet (ANOMALY_SUPERVISED without labels) are listed under skipped. The same as `funnelcast train --all`.',
  })
  trainAll(@Arg('input', () => TrainAllInput, { nullable: true }) input: TrainAllInput | null, @Ctx() { services }: Context) {
    return services.training.trainAll(input ?? {});
  }

  @Authorized('admin')
  @Mutation(() => TrainingJobView, { description: 'Cancel a QUEUED or RUNNING job; a running one stops at its next progress report and writes nothing.' })
  cancelTrainingJob(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.training.cancel(id);
  }

  @Authorized('admin')
  @Mutation(() => TrainingJobView, { description: 'Queue a FAILED or CANCELLED job again; it keeps its id and model version.' })
  retryTrainingJob(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.training.retry(id);
  }

  @Authorized('admin')
  @Mutation(() => TrainingScheduleView, { description: 'Train a kind on a cron pattern (UTC), each time on all events up to then, activating the result.' })
  scheduleTraining(
    @Arg('kind', () => ModelKind) kind: ModelKind,
    @Arg('cron') cron: string,
    // Kind-specific params are checked by the training platform; class-validator has nothing to check in a JSON scalar and refused inline object literals.
    @Arg('params', () => JSONObjectResolver, { nullable: true, validate: false }) params: Record<string, unknown> | null,
    @Ctx() { services }: Context,
  ) {
    return services.training.schedule(kind, cron, params);
  }

  @Authorized('admin')
  @Mutation(() => TrainingScheduleView)
  unscheduleTraining(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.training.unschedule(id);
  }

  @Authorized('admin')
  @Query(() => [TrainingScheduleView])
  trainingSchedules(@Ctx() { services }: Context) {
    return services.training.schedules();
  }

  @Authorized('admin')
  @Query(() => TrainingJobView, { nullable: true })
  trainingJob(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.training.get(id);
  }

  @Authorized('admin')
  @Query(() => TrainingJobConnectionView)
  trainingJobs(
    @Arg('state', () => TrainingJobState, { nullable: true }) state: TrainingJobState | null,
    @Arg('kind', () => ModelKind, { nullable: true }) kind: ModelKind | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() { services }: Context,
  ) {
    return services.training.list({ state, kind, first, after });
  }

  @Authorized('admin')
  @Query(() => [ModelVersionView], { description: 'Every version of a kind, newest first.' })
  modelVersions(@Arg('kind', () => ModelKind) kind: ModelKind, @Ctx() { services }: Context) {
    return services.models.list(kind);
  }

  @Authorized('admin')
  @Query(() => ModelVersionView, { nullable: true, description: 'The version served for a kind, if any.' })
  activeModel(@Arg('kind', () => ModelKind) kind: ModelKind, @Ctx() { services }: Context) {
    return services.models.active(kind);
  }

  @Authorized('admin')
  @Mutation(() => ModelVersionView, { description: 'Serve this READY version from now on (atomically replacing the active one); also the way to roll back.' })
  activateModelVersion(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.models.activate(Number(id));
  }

  @Authorized('admin')
  @Mutation(() => ModelVersionView, { description: 'Retire a version that is not served and drop its scores.' })
  retireModelVersion(@Arg('id', () => ID) id: string, @Ctx() { services }: Context) {
    return services.models.retire(Number(id));
  }
}
