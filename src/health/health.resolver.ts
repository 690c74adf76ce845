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

@ObjectType('AnalyticsHealth')
export class AnalyticsHealthView {
  @Field({ description: 'The engine that answers funnels: inprocess or clickhouse (FUNNELCAST_ANALYTICS).' })
  engine: string;

  @Field(() => Float, { nullable: true, description: 'ClickHouse: seconds since the PostgreSQL snapshot of the last complete copy of the events; null in-process or before the first copy.' })
  lagSeconds: number | null;

  @Field(() => Date, { nullable: true, description: 'ClickHouse: when the last complete copy took its PostgreSQL snapshot.' })
  syncedAt: Date | null;

  @Field(() => Float, { description: 'ClickHouse: events this process copied into ClickHouse since it started.' })
  eventsCopied: number;

  @Field(() => String, { nullable: true, description: 'ClickHouse: "sync failed" when the last copy failed (details in the server log); null after a success.' })
  lastError: string | null;

  @Field(() => Date, { nullable: true })
  lastErrorAt: Date | null;
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

  @Field(() => AnalyticsHealthView, { nullable: true, description: 'The analytics engine; with ClickHouse, the lag of its copy of the events.' })
  analytics: AnalyticsHealthView | null;
}

@Resolver()
export class HealthResolver {
  @Query(() => HealthView, { description: 'Public: version and whether PostgreSQL and Redis answer.' })
  health(@Ctx() { services }: Context): Promise<HealthView> {
    return services.health.check();
  }
}
