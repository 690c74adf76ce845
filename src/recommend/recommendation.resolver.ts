import DataLoader from 'dataloader';
import { DateTimeResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, Field, Float, FieldResolver, ID, Int, ObjectType, Query, registerEnumType, Resolver, Root } from 'type-graphql';
import { ItemView } from '../catalog/item.input';
import type { Context } from '../context';
import { Recommender } from './recommendation-id';
import { RecommendationExclusion, RecommendedItem } from './recommendation.service';
import { ID_RULE } from '../graphql/input-rules';

registerEnumType(Recommender, {
  name: 'Recommender',
  description:
    'Where a recommended item came from: MATRIX_FACTORIZATION, ITEM_KNN, SESSION_KNN (the session model by default), SESSION_GRU (the session model while no SESSION_KNN version is active), POPULARITY (the fallback chain), ' +
    'REENGAGEMENT (no model: an item the user already touched, scored by event type and recency; continueShopping and a source of recommendations), ' +
    'or CATALOG (no model: before a POPULARITY version is active, the items with the most events in the last 7 days of data first; then any available item).',
});

registerEnumType(RecommendationExclusion, {
  name: 'RecommendationExclusion',
  description: 'Which items the user already touched a list leaves out, besides excludeItemIds.',
  valuesConfig: {
    SEEN: { description: 'Everything the user touched: every item of their last 50 item events and of the session, and every item they bought (repeatable or not). For discovery surfaces; re-engagement then proposes nothing.' },
    PURCHASED: { description: 'Items the user bought, unless the catalogue marks them repeatable (the default). Items they only viewed, faved or carted may come back.' },
    NONE: { description: 'Nothing: only excludeItemIds. Items the user bought may come back too.' },
  },
});

const ASOF_DESCRIPTION =
  'Recommend as of this instant (default now): only the user’s events at or before it count, and their newest visit is the live session when its last event is at most 30 minutes before it. ' +
  'The models are the active versions. More than a day ahead of the server clock is refused (BAD_USER_INPUT).';

// Plain fields read straight from the service's objects: no per-field middleware wrapper (they carry no auth).
@ObjectType('RecommendedItem', { simpleResolvers: true })
export class RecommendedItemView {
  @Field(() => ID, { description: 'The shop’s item id.' })
  itemId: string;

  @Field(() => Float, { description: 'Higher is better; comparable within one list only, and never rising down the list.' })
  score: number;

  @Field(() => Recommender)
  source: Recommender;

  @Field(() => ID, { nullable: true, description: 'The model version of the recommender; null for CATALOG and REENGAGEMENT.' })
  modelVersionId: number | null;

  @Field(() => Int, { nullable: true, description: 'That version’s number within its kind.' })
  modelVersion: number | null;

  @Field(() => ID, { description: 'Report impressions and clicks with it (recordRecommendationFeedback, or properties.recommendationId on events).' })
  recommendationId: string;
}

@ObjectType('Recommendations', { simpleResolvers: true })
export class RecommendationsView {
  @Field(() => ID, { description: 'Identifies this served list.' })
  listId: string;

  @Field(() => ID, { nullable: true, description: 'The user the list is for; null for item, session and cart lists.' })
  userId: string | null;

  @Field(() => ID, { nullable: true, description: 'The model version most items come from; null when none did.' })
  modelVersionId: number | null;

  @Field(() => [RecommendedItemView], {
    description:
      'Best first; never items the user bought (unless marked repeatable, or recommendations with exclude: NONE), unavailable or excluded items, or duplicates. ' +
      'Full whenever the catalogue has enough available items, except continueShopping (only items the user touched).',
  })
  items: RecommendedItem[];
}

/** One DataLoader per request, so a list's items are read from the catalogue in one query. */
const itemLoaders = new WeakMap<Context, DataLoader<string, ItemView | null>>();

@Resolver(() => RecommendedItemView)
export class RecommendedItemResolver {
  @FieldResolver(() => ItemView, { nullable: true, description: 'The catalogue entry (batched per request).' })
  item(@Root() recommended: RecommendedItem, @Ctx() context: Context): Promise<ItemView | null> {
    let loader = itemLoaders.get(context);
    if (!loader) itemLoaders.set(context, (loader = new DataLoader((ids: readonly string[]) => context.services.catalog.findManyByExternalId(ids))));
    return loader.load(recommended.itemId);
  }
}

@Resolver()
export class RecommendationResolver {
  @Authorized('client', 'analyst')
  @Query(() => RecommendationsView, {
    description:
      'A user’s recommendations: the active models and the items the user already touched (REENGAGEMENT) blended ' +
      '(a user unseen at training time, or active since, is folded in from their recent events), then trending and popular items until `limit` is reached.',
  })
  recommendations(
    @Arg('userId', () => ID, { description: `The shop's user id (${ID_RULE}).` }) userId: string,
    @Arg('limit', () => Int, { defaultValue: 10 }) limit: number,
    @Arg('category', () => String, { nullable: true, description: 'Only items of this category.' }) category: string | null,
    @Arg('excludeItemIds', () => [ID], { nullable: true, description: 'Items not to show (already on the page).' }) excludeItemIds: string[] | null,
    @Arg('sessionItemIds', () => [ID], { nullable: true, description: 'The live session’s items, oldest first; default: the user’s current visit, from their events (if its last event is at most 30 minutes before now, or before asOf).' })
    sessionItemIds: string[] | null,
    @Arg('maxPerCategory', () => Int, { nullable: true, description: 'At most this many items per category (diversity).' }) maxPerCategory: number | null,
    @Arg('exclude', () => RecommendationExclusion, { defaultValue: RecommendationExclusion.PURCHASED, description: 'Which items the user already touched to leave out.' })
    exclude: RecommendationExclusion,
    @Arg('asOf', () => DateTimeResolver, { nullable: true, description: ASOF_DESCRIPTION }) asOf: Date | null,
    @Ctx() { services }: Context,
  ) {
    return services.recommendations.forUser({ userId, limit, category, excludeItemIds, sessionItemIds, maxPerCategory, exclude, asOf });
  }

  @Authorized('client', 'analyst')
  @Query(() => RecommendationsView, {
    description:
      'Continue shopping: the items the user already touched, best first by Σ over their events of type weight (view 1, fav 2, cart 3, checkout 3, purchase 5) · 2^(−age / 72 h), ' +
      'age measured from their newest event; never items they bought (unless repeatable) or unavailable items. Source REENGAGEMENT. ' +
      'No filler: a user with no item events gets an empty list.',
  })
  continueShopping(
    @Arg('userId', () => ID, { description: `The shop's user id (${ID_RULE}).` }) userId: string,
    @Arg('limit', () => Int, { defaultValue: 10 }) limit: number,
    @Arg('category', () => String, { nullable: true, description: 'Only items of this category.' }) category: string | null,
    @Arg('asOf', () => DateTimeResolver, { nullable: true, description: 'Read the user’s events as of this instant (default: now; at most a day ahead).' }) asOf: Date | null,
    @Ctx() { services }: Context,
  ) {
    return services.recommendations.continueShopping({ userId, limit, category, asOf });
  }

  @Authorized('client', 'analyst')
  @Query(() => RecommendationsView, { description: 'Items like this one (ITEM_KNN neighbours), then trending in its category.' })
  similarItems(@Arg('itemId', () => ID) itemId: string, @Arg('limit', () => Int, { defaultValue: 10 }) limit: number, @Ctx() { services }: Context) {
    return services.recommendations.similarItems(itemId, limit);
  }

  @Authorized('client', 'analyst')
  @Query(() => RecommendationsView, {
    description: 'What to show next in an anonymous session, items oldest first: the session model (SESSION_KNN, else SESSION_GRU) blended with item neighbours, then trending and popular items.',
  })
  sessionRecommendations(
    @Arg('itemIds', () => [ID]) itemIds: string[],
    @Arg('limit', () => Int, { defaultValue: 10 }) limit: number,
    @Arg('asOf', () => DateTimeResolver, {
      nullable: true,
      description: 'Checked as in `recommendations` (at most a day ahead); it changes nothing here: the session is the one given, scored by the active versions.',
    })
    asOf: Date | null,
    @Ctx() { services }: Context,
  ) {
    return services.recommendations.sessionRecommendations(itemIds, limit, asOf);
  }

  @Authorized('client', 'analyst')
  @Query(() => RecommendationsView, { description: 'Items bought together with the cart’s items (ITEM_KNN), then similar items.' })
  cartComplements(@Arg('itemIds', () => [ID]) itemIds: string[], @Arg('limit', () => Int, { defaultValue: 10 }) limit: number, @Ctx() { services }: Context) {
    return services.recommendations.cartComplements(itemIds, limit);
  }
}
