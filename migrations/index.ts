import { Foundation1764300000000 } from './1764300000000-foundation';
import { SavedFunnels1764500000000 } from './1764500000000-saved-funnels';

/** Every migration, oldest first. A new migration file is added here as well. */
export const migrations = [Foundation1764300000000, SavedFunnels1764500000000];
