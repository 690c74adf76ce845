import { IsBoolean, IsNumber, IsObject, IsOptional, Length, Min } from 'class-validator';
import { DateTimeResolver, GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ID_RULE, MAX_ID_LENGTH } from '../graphql/input-rules';

@InputType({ description: 'A catalog item. Fields left out keep their stored values.' })
export class ItemInput {
  @Field(() => ID, { description: `The shop's own item id, as used in events (${ID_RULE}).` })
  @Length(1, MAX_ID_LENGTH)
  id: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(0, 500)
  title?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(0, 200)
  category?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(0, 200)
  brand?: string | null;

  @Field(() => Float, { nullable: true })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  price?: number | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @IsOptional()
  @IsObject()
  properties?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean()
  available?: boolean | null;
}

@ObjectType('Item')
export class ItemView {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  title: string | null;

  @Field(() => String, { nullable: true })
  category: string | null;

  @Field(() => String, { nullable: true })
  brand: string | null;

  @Field(() => Float, { nullable: true })
  price: number | null;

  @Field(() => GraphQLJSONObject)
  properties: Record<string, unknown>;

  @Field()
  available: boolean;

  @Field(() => DateTimeResolver)
  updatedAt: Date;
}

@ObjectType()
export class UpsertItemsResult {
  @Field(() => Int, { description: 'Items that did not exist before.' })
  created: number;

  @Field(() => Int, { description: 'Items that existed (from the catalog or seen in events) and were updated.' })
  updated: number;
}
