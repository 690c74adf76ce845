import { Arg, Authorized, Ctx, Field, Float, ID, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';

@ObjectType('RecommendedItem')
export class RecommendedItemView {
  @Field(() => ID)
  itemId: string;

  @Field(() => Float, { description: 'The model’s score; higher is better, comparable within one list only.' })
  score: number;
}

@ObjectType('Recommendations')
export class RecommendationsView {
  @Field(() => ID)
  userId: string;

  @Field(() => ID, { nullable: true, description: 'The active model version the list comes from; null when none is active.' })
  modelVersionId: number | null;

  @Field(() => [RecommendedItemView], { description: 'Best first, without items the user already bought; empty for users the model has not seen.' })
  items: RecommendedItemView[];
}

@Resolver()
export class RecommendationResolver {
  @Authorized('client')
  @Query(() => RecommendationsView, { description: 'A user’s top items from the active MATRIX_FACTORIZATION version.' })
  recommendations(
    @Arg('userId', () => ID) userId: string,
    @Arg('limit', () => Int, { defaultValue: 10 }) limit: number,
    @Ctx() { services }: Context,
  ) {
    return services.recommendations.forUser(userId, limit);
  }
}
