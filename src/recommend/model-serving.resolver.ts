import { Arg, Authorized, Ctx, Field, ID, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { ModelKind } from '../training/model-kind';
import { ModelServingSwitches } from './model-serving';

@ObjectType('ModelServing', { description: 'Whether a recommender kind’s ACTIVE version feeds the served lists.' })
export class ModelServingView {
  @Field(() => ModelKind)
  kind: ModelKind;

  @Field({ description: 'False: switched off with setModelServing; its versions are kept and the lists are built without it.' })
  serving: boolean;

  @Field(() => Date, { nullable: true, description: 'When the switch was last set; null when never set (on by default).' })
  changedAt: Date | null;

  @Field(() => ID, { nullable: true, description: 'The ACTIVE version of the kind, served while `serving` is true.' })
  activeVersionId: number | null;
}

@Resolver()
export class ModelServingResolver {
  @Authorized('admin')
  @Query(() => [ModelServingView], { description: 'The serving switch of every recommender kind (POPULARITY, ITEM_KNN, MATRIX_FACTORIZATION, SESSION_KNN, SESSION_GRU, and RECOMMENDATION_BLEND, whose learned weights give way to the defaults when off).' })
  modelServing(@Ctx() { services }: Context) {
    return new ModelServingSwitches(services.dataSource).list();
  }

  @Authorized('admin')
  @Mutation(() => ModelServingView, {
    description:
      'Switch a recommender kind off (or on again) for serving without retiring its versions: every API process drops (or restores) its lists within about a second. ' +
      'BAD_USER_INPUT for a kind that does not feed recommendations.',
  })
  setModelServing(@Arg('kind', () => ModelKind) kind: ModelKind, @Arg('serving') serving: boolean, @Ctx() { services }: Context) {
    return new ModelServingSwitches(services.dataSource).set(kind, serving);
  }
}
