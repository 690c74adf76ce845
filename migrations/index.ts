import { Foundation1764300000000 } from './1764300000000-foundation';
import { Training1764400000000 } from './1764400000000-training';
import { Anomaly1764500000000 } from './1764500000000-anomaly';
import { SavedFunnels1764600000000 } from './1764600000000-saved-funnels';
import { Prediction1764700000000 } from './1764700000000-prediction';
import { AnomalyDays1764800000000 } from './1764800000000-anomaly-days';
import { Recommendations1764900000000 } from './1764900000000-recommendations';
import { ShortKeyPrefixes1765000000000 } from './1765000000000-short-key-prefixes';
import { ServerSecrets1765000000001 } from './1765000000001-server-secrets';
import { EventTransactions1765100000000 } from './1765100000000-event-transactions';
import { IngestGuardEventTime1765100000001 } from './1765100000001-ingest-guard-event-time';
import { TrainingDependencies1765200000000 } from './1765200000000-training-dependencies';
import { ModelServing1765300000000 } from './1765300000000-model-serving';
import { EventDeletions1765400000016 } from './1765400000016-event-deletions';
import { UserErasure1765500000000 } from './1765500000000-user-erasure';
import { ServerRole1765500000001 } from './1765500000001-server-role';
import { EventPartitions1765600000000 } from './1765600000000-event-partitions';
import { PrivacyBudgets1765610000000 } from './1765610000000-privacy-budgets';

/** Every migration, oldest first. A new migration file is added here as well. */
export const migrations = [Foundation1764300000000, Training1764400000000, Anomaly1764500000000, SavedFunnels1764600000000, Prediction1764700000000, AnomalyDays1764800000000, Recommendations1764900000000, ShortKeyPrefixes1765000000000, ServerSecrets1765000000001, EventTransactions1765100000000, IngestGuardEventTime1765100000001, TrainingDependencies1765200000000, ModelServing1765300000000, EventDeletions1765400000016, UserErasure1765500000000, ServerRole1765500000001, EventPartitions1765600000000, PrivacyBudgets1765610000000];
