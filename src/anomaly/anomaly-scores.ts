import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { float4Text } from '../db/float4';
import type { FeatureFinding } from './explain';
import { isoDay } from './features';

/** One user-day's row of an anomaly model version. */
export interface UserAnomalyScore {
  userId: number;
  /** UTC day as days since 1970-01-01. */
  day: number;
  score: number;
  firstEventMs: number;
  lastEventMs: number;
  findings: FeatureFinding[];
}

/** COPY text: JSON may hold backslashes, tabs or newlines inside strings, which COPY would read as escapes. */
function copyEscape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Bulk-writes a version's scores into anomaly_scores with COPY (the caller holds the transaction). */
export async function copyAnomalyScores(client: PoolClient, modelVersionId: number, scores: Iterable<UserAnomalyScore>): Promise<number> {
  let rows = 0;
  function* lines(): Generator<string> {
    for (const row of scores) {
      rows++;
      const findings = row.findings.map((f) => ({ feature: f.feature, value: f.value, median: f.median, z: Math.round(f.z * 100) / 100, text: f.text }));
      yield `${modelVersionId}\t${row.userId}\t${isoDay(row.day)}\t${float4Text(row.score, `anomaly_scores.score (user ${row.userId})`)}\t${new Date(row.firstEventMs).toISOString()}\t${new Date(row.lastEventMs).toISOString()}\t${copyEscape(JSON.stringify(findings))}\n`;
    }
  }
  await pipeline(
    Readable.from(lines()),
    client.query(copyFrom('COPY anomaly_scores (model_version_id, user_id, day, score, first_event_at, last_event_at, findings) FROM STDIN')),
  );
  return rows;
}
