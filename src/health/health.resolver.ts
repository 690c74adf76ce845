import { Ctx, Field, Float, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';

@ObjectType('ComponentHealth')
export class ComponentHealthView {
  @Field()
  ok: boolean;

  @Field(() => Float, { nullable: true })
  latencyMs: number | null;

  @Field(() => String, { nullable: true, description: 'Why not ok, in generic words ("unreachable", "no answer in time"); the details are in the server log.' })
  error: string | null;
}

@ObjectType('TfBackendHealth')
export class TfBackendHealthView {
  @Field(() => String, { nullable: true, description: 'node-gpu, node, wasm or cpu; null when none loaded.' })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'e.g. "wasm (SIMD on, threads off)".' })
  detail: string | null;

  @Field(() => String, { nullable: true, description: '"no backend could be loaded" when none loaded; the details are in the server log.' })
  error: string | null;
}

@ObjectType('Health')
export class HealthView {
  @Field({ description: 'ok, or degraded when a dependency does not answer.' })
  status: string;

  @Field()
  version: string;

  @Field(() => Int)
  uptimeSeconds: number;

  @Field(() => ComponentHealthView)
  database: ComponentHealthView;

  @Field(() => ComponentHealthView)
  redis: ComponentHealthView;

  @Field(() => TfBackendHealthView, { description: 'The TensorFlow.js backend chosen in this process (FUNNELCAST_TF_BACKEND or the first that loads).' })
  tfBackend: TfBackendHealthView;
}

@Resolver()
export class HealthResolver {
  @Query(() => HealthView, { description: 'Public: version and whether PostgreSQL and Redis answer.' })
  health(@Ctx() { services }: Context): Promise<HealthView> {
    return services.health.check();
  }
}
