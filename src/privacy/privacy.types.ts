import { DateTimeResolver } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'How a differentially private answer was made (docs/privacy.md, "Differential privacy"). Present only on answers to keys with a privacy budget; their counts are noisy.',
})
export class PrivacyNote {
  @Field(() => Float, { description: 'The privacy loss this answer spent from the key\'s budget.' })
  epsilon: number;

  @Field({ description: '"laplace": each released count got independent Laplace(0, sensitivity / epsilon) noise from a cryptographic generator.' })
  mechanism: string;

  @Field({ description: 'The unit of privacy: "user" (adding or removing one user\'s whole history changes the answer by at most `sensitivity`).' })
  unit: string;

  @Field(() => Float, { description: 'L1 sensitivity of the released counts together (docs/privacy.md states it per query).' })
  sensitivity: number;

  @Field(() => Float, { description: 'The Laplace scale b = sensitivity / epsilon.' })
  scale: number;

  @Field(() => Float, { description: 'Standard deviation of the noise on each released count, √2·b, before rounding and clamping; eventStats sums (byType, byDay totals, total) add their cells\' variances: √(cells)·√2·b.' })
  standardError: number;

  @Field(() => Int, { nullable: true, description: 'Events counted per user at most (eventStats: each user\'s first ones in the range); null where nothing is clamped.' })
  eventsPerUser: number | null;

  @Field(() => Int, { nullable: true, description: 'Sessions counted per user at most (eventStats distinctSessions); null where nothing is clamped.' })
  sessionsPerUser: number | null;

  @Field(() => [String], { description: 'Fields left out of this answer (null or empty) because no noise protects them, e.g. "steps.timeFromPrevious".' })
  withheld: string[];

  @Field(() => Float, { description: 'Epsilon left in the key\'s budget after this answer.' })
  remainingBudget: number;
}

@ObjectType({ description: 'A key\'s privacy budget: total epsilon, spent so far (the sum over its noisy answers), and left.' })
export class PrivacyBudget {
  @Field(() => ID)
  keyId: string;

  @Field(() => Float)
  epsilon: number;

  @Field(() => Float)
  spent: number;

  @Field(() => Float)
  remaining: number;

  @Field(() => Int, { description: 'Noisy answers given since the budget was last set.' })
  queries: number;

  @Field(() => DateTimeResolver, { description: 'When an admin last set (and so reset) it.' })
  resetAt: Date;
}
