import { Foundation1764300000000 } from './1764300000000-foundation';
import { Training1764400000000 } from './1764400000000-training';
import { Prediction1764500000000 } from './1764500000000-prediction';

/** Every migration, oldest first. A new migration file is added here as well. */
export const migrations = [Foundation1764300000000, Training1764400000000, Prediction1764500000000];
