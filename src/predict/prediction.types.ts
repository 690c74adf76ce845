import { DateTimeResolver } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ConnectionType, totalCountDescription, type PageSize } from '../graphql/connection';

export enum FunnelStageName {
  VIEW = 'view',
  CART = 'cart',
  CHECKOUT = 'checkout',
}
registerEnumType(FunnelStageName, { name: 'FunnelStage', description: 'A funnel stage a visitor can stall at: VIEW, CART, CHECKOUT (the funnel runs view → cart → checkout → purchase).' });

@InputType('LiveEventInput', { description: 'One event of a visit not stored yet; category and price are looked up from the catalog by itemId when left out.' })
export class LiveEventInput {
  @Field({ description: 'view, cart, remove_from_cart, fav, checkout, purchase, search or a custom name.' })
  type: string;

  @Field(() => DateTimeResolver)
  timestamp: Date;

  @Field(() => String, { nullable: true })
  itemId?: string | null;

  @Field(() => String, { nullable: true })
  category?: string | null;

  @Field(() => Float, { nullable: true })
  price?: number | null;

  @Field(() => String, { nullable: true, description: 'mobile, desktop, tablet, …' })
  device?: string | null;

  @Field(() => String, { nullable: true, description: 'organic, ads, email, direct, social, …' })
  channel?: string | null;
}

@ObjectType('ActionProbability')
export class ActionProbabilityView {
  @Field({ description: 'view, cart, checkout, purchase or exit.' })
  action: string;

  @Field(() => Float)
  probability: number;
}

@ObjectType('FeatureAttribution', { description: 'How far one feature moved the prediction from what an average value would give (positive: raised it).' })
export class AttributionView {
  @Field()
  feature: string;

  @Field(() => Float)
  effect: number;
}

@ObjectType('NextStepPrediction')
export class NextStepPredictionView {
  @Field(() => ID, { description: 'The ACTIVE NEXT_STEP version that answered.' })
  modelVersionId: number;

  @Field(() => Int, { description: 'Events of the visit read.' })
  events: number;

  @Field({ description: 'The most probable next action.' })
  likeliest: string;

  @Field(() => [ActionProbabilityView], { description: 'view, cart, checkout, purchase, exit; they sum to 1.' })
  probabilities: ActionProbabilityView[];

  @Field(() => [ActionProbabilityView], { description: 'The Markov baseline from the last event’s funnel stage, for comparison.' })
  baseline: ActionProbabilityView[];

  @Field(() => [AttributionView], { description: 'The parts of the events that moved the likeliest action’s probability most.' })
  explanation: AttributionView[];
}

@ObjectType('PurchasePropensity')
export class PropensityView {
  @Field(() => ID)
  modelVersionId: number;

  @Field(() => ID, { nullable: true })
  userId: string | null;

  @Field(() => Float, { description: 'Calibrated probability of a purchase within the horizon (users) or before the visit ends (visits).' })
  propensity: number;

  @Field(() => Int, { nullable: true, description: 'Hours ahead the user propensity looks; null for a visit (its end).' })
  horizonHours: number | null;

  @Field(() => [AttributionView])
  explanation: AttributionView[];

  @Field(() => Float, { nullable: true, description: 'The batch score written for this user when the version was trained.' })
  storedPropensity: number | null;

  @Field(() => DateTimeResolver, { nullable: true })
  storedAt: Date | null;
}

@ObjectType('AtRiskUser')
export class AtRiskUserView {
  @Field(() => ID)
  userId: string;

  @Field({ description: 'Furthest funnel stage reached since their last purchase in the window.' })
  stage: string;

  @Field(() => DateTimeResolver)
  reachedAt: Date;

  @Field(() => Float, { description: 'Value of items carted and neither removed nor bought since.' })
  cartValue: number;

  @Field(() => Float, { description: 'Stored purchase propensity of the active version.' })
  propensity: number;
}

/** `atRiskUsers`: 20 users a page by default, at most 200. */
export const AT_RISK_PAGE: PageSize = { default: 20, max: 200 };

@ObjectType('AtRiskUserConnection', {
  description:
    'Most valuable open carts first, then users in the order Funnelcast first saw them. Every page is read as of the first page’s asOf (the cursor carries it), so events arriving meanwhile do not reorder the list under the reader.',
})
export class AtRiskUserConnection extends ConnectionType('AtRiskUser', AtRiskUserView) {
  @Field(() => ID, { nullable: true, description: 'The ACTIVE PURCHASE_PROPENSITY version whose scores were used; null when none is active.' })
  modelVersionId: number | null;

  @Field(() => Int, { description: totalCountDescription('Cheap: ranking by cart value computes every candidate’s cart anyway.') })
  totalCount: number;
}
