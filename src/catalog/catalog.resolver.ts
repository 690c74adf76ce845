import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { ItemInput, ItemView, UpsertItemsResult } from './item.input';

@Resolver()
export class CatalogResolver {
  @Authorized('admin')
  @Mutation(() => UpsertItemsResult, { description: 'Create or update catalog items (at most 5,000 per call), all or nothing.' })
  upsertItems(@Arg('items', () => [ItemInput]) items: ItemInput[], @Ctx() { services }: Context): Promise<UpsertItemsResult> {
    return services.catalog.upsert(items);
  }

  @Authorized('client', 'analyst')
  @Query(() => ItemView, { nullable: true, description: 'A catalog item by the shop\'s id; null when unknown.' })
  item(@Arg('id', () => ID) id: string, @Ctx() { services }: Context): Promise<ItemView | null> {
    return services.catalog.findByExternalId(id);
  }
}
