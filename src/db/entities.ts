import { ApiKey } from '../auth/api-key.entity';
import { Item } from '../catalog/item.entity';
import { ModelVersion, TrainingJob, TrainingSchedule } from '../training/training.entities';

/** Every TypeORM entity. Hot paths (events) use SQL through the events service instead. */
export const entities = [ApiKey, Item, ModelVersion, TrainingJob, TrainingSchedule];
