import { SESSION_TIMEOUT_MS, EXIT, stageIndexOf } from './funnel-actions';

/** One event as the prediction models read it: what happened, when, and the context they use. */
export interface PredictionEvent {
  type: string;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  sessionId: string | null;
  category: string | null;
  price: number | null;
  device: string | null;
  channel: string | null;
}

export interface Session {
  /** The stored session id, or `user@<first timestamp>` for a visit cut out of sessionless events. */
  sessionId: string;
  events: PredictionEvent[];
}

/**
 * Cuts one user's events (sorted by time, ties in ingestion order) into sessions: events that carry
 * a session id belong to that session; sessionless events (Taobao, some REES46 rows) start a new
 * visit after SESSION_TIMEOUT_MS of silence. Sessions come out ordered by their first event.
 */
export function splitSessions(events: readonly PredictionEvent[], userKey = 'user', timeoutMs = SESSION_TIMEOUT_MS): Session[] {
  const byId = new Map<string, Session>();
  const sessions: Session[] = [];
  let open: Session | null = null;
  let lastSessionlessAt = -Infinity;
  for (const event of events) {
    if (event.sessionId !== null) {
      let session = byId.get(event.sessionId);
      if (!session) {
        session = { sessionId: event.sessionId, events: [] };
        byId.set(event.sessionId, session);
        sessions.push(session);
      }
      session.events.push(event);
      continue;
    }
    if (!open || event.timestamp - lastSessionlessAt > timeoutMs) {
      open = { sessionId: `${userKey}@${event.timestamp}`, events: [] };
      sessions.push(open);
    }
    open.events.push(event);
    lastSessionlessAt = event.timestamp;
  }
  return sessions;
}

/**
 * For each event of a session, the index in NEXT_ACTIONS of what the visitor does next: the next
 * funnel-stage event of the session, or `exit` when none follows.
 */
export function nextActionsOf(events: readonly PredictionEvent[]): Int32Array {
  const next = new Int32Array(events.length);
  let upcoming = EXIT;
  for (let i = events.length - 1; i >= 0; i--) {
    next[i] = upcoming;
    const stage = stageIndexOf(events[i].type);
    if (stage >= 0) upcoming = stage;
  }
  return next;
}
