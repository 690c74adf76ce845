import { Length } from 'class-validator';
import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, registerEnumType, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { Recommender } from './recommendation-id';
import { ID_RULE, MAX_ID_LENGTH } from '../graphql/input-rules';

enum RecommendationFeedbackType {
  IMPRESSION = 'IMPRESSION',
  CLICK = 'CLICK',
}
registerEnumType(RecommendationFeedbackType, { name: 'RecommendationFeedbackType', description: 'IMPRESSION: the item was shown. CLICK: the user opened it.' });

@InputType()
export class RecommendationFeedbackInput {
  @Field(() => ID, { description: 'The recommendationId of the served item.' })
  recommendationId: string;

  @Field(() => RecommendationFeedbackType)
  type: RecommendationFeedbackType;

  @Field(() => ID, { description: `The user it was shown to (the same id their events carry; ${ID_RULE}).` })
  @Length(1, MAX_ID_LENGTH)
  userId: string;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When it happened; default now.' })
  timestamp?: Date | null;
}

@ObjectType()
export class RejectedFeedback {
  @Field(() => Int)
  index: number;

  @Field({ description: 'UNKNOWN_RECOMMENDATION (not issued by this server to that user), MISSING_USER, BAD_TIMESTAMP or FUTURE_TIMESTAMP.' })
  code: string;

  @Field()
  message: string;
}

@ObjectType()
export class RecordFeedbackResult {
  @Field(() => Int)
  accepted: number;

  @Field(() => Int, { description: 'Already recorded (the same recommendationId and type): counted once.' })
  duplicates: number;

  @Field(() => [RejectedFeedback])
  rejected: RejectedFeedback[];
}

@ObjectType()
export class RecommenderPerformanceView {
  @Field(() => Recommender)
  source: Recommender;

  @Field(() => ID, { nullable: true })
  modelVersionId: number | null;

  @Field(() => Int, { nullable: true })
  modelVersion: number | null;

  @Field(() => Int, { description: 'Recommendations shown (any feedback on one implies it was shown).' })
  impressions: number;

  @Field(() => Int)
  clicks: number;

  @Field(() => Float, { nullable: true, description: 'clicks / impressions.' })
  clickThroughRate: number | null;

  @Field(() => Int, { description: 'Clicked recommendations whose item the user carted within the window (or cart events carrying the id).' })
  addToCarts: number;

  @Field(() => Float, { nullable: true, description: 'addToCarts / clicks.' })
  addToCartRate: number | null;

  @Field(() => Int, { description: 'Purchases attributed: the same user bought the clicked item within the window (last click wins), or the purchase event carried the id.' })
  conversions: number;

  @Field(() => Float, { nullable: true, description: 'conversions / clicks.' })
  conversionRate: number | null;

  @Field(() => Float, { description: 'Sum of attributed purchases’ price (the event’s properties.price, else the catalogue price).' })
  revenue: number;

  @Field(() => Int, { description: 'Distinct items shown.' })
  itemsShown: number;

  @Field(() => Float, { description: 'itemsShown / available catalogue items.' })
  catalogueCoverage: number;
}

@ObjectType()
export class RecommendationPerformanceView {
  @Field(() => DateTimeResolver)
  from: Date;

  @Field(() => DateTimeResolver)
  to: Date;

  @Field(() => Float)
  attributionWindowHours: number;

  @Field(() => [RecommenderPerformanceView])
  recommenders: RecommenderPerformanceView[];
}

@Resolver()
export class RecommendationFeedbackResolver {
  @Authorized('client')
  @Mutation(() => RecordFeedbackResult, { description: 'Report impressions and clicks of served recommendations (idempotent per recommendationId and type).' })
  recordRecommendationFeedback(@Arg('feedback', () => [RecommendationFeedbackInput]) feedback: RecommendationFeedbackInput[], @Ctx() { services }: Context) {
    return services.recommendationFeedback.record(feedback);
  }

  @Authorized('analyst')
  @Query(() => RecommendationPerformanceView, { description: 'Online performance per recommender and model version for feedback in [from, to).' })
  recommendationPerformance(
    @Arg('from', () => DateTimeResolver) from: Date,
    @Arg('to', () => DateTimeResolver) to: Date,
    @Arg('attributionWindowHours', () => Float, { defaultValue: 24 }) attributionWindowHours: number,
    @Ctx() { services }: Context,
  ) {
    return services.recommendationFeedback.performance(from, to, attributionWindowHours);
  }
}
