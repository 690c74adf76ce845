/**
 * Entry of a funnel worker thread (started by funnel-pool.ts): receives a job with a snapshot whose
 * columns are shared memory, rebuilds the snapshot around its own copies of the dictionaries, runs
 * the job (funnel-jobs.ts) and posts the outcome back. One job at a time; the pool terminates the
 * thread to stop a job.
 */
import { parentPort } from 'node:worker_threads';
import type { CodedColumn, ItemDictionary, MirrorSegment, MirrorSnapshot } from './event-mirror';
import { runFunnelJob } from './funnel-jobs';
import type { WireColumn, WireSegment, WireSnapshot, WorkerReply, WorkerRequest } from './funnel-pool';

const dictionaries = new Map<number, unknown[]>();
const itemDictionaries = new Map<number, ItemDictionary>();

function column(wire: WireColumn): CodedColumn {
  if (wire.tail === null) return { codes: wire.codes, values: new Array<unknown>(wire.count) }; // only the count is read
  let values = dictionaries.get(wire.dictionary);
  if (!values) dictionaries.set(wire.dictionary, (values = []));
  if (values.length !== wire.from) throw new Error(`Dictionary ${wire.dictionary} holds ${values.length} entries here, the pool sent from ${wire.from}.`);
  for (const value of wire.tail) values.push(value);
  return { codes: wire.codes, values };
}

function snapshotOf(wire: WireSnapshot): MirrorSnapshot {
  let itemDictionary: ItemDictionary | null = null;
  if (wire.itemDictionary) {
    const { dictionary, data } = wire.itemDictionary;
    if (data) itemDictionaries.set(dictionary, data);
    itemDictionary = itemDictionaries.get(dictionary) ?? null;
    if (!itemDictionary) throw new Error(`Item dictionary ${dictionary} was never sent to this worker.`);
  }
  return { ...wire, base: segmentOf(wire.base), delta: segmentOf(wire.delta), itemDictionary };
}

function segmentOf(wire: WireSegment): MirrorSegment {
  return {
    ...wire,
    properties: new Map(wire.properties.map(([key, coded]) => [key, column(coded)])),
    sessions: wire.sessions && column(wire.sessions),
  };
}

parentPort!.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const { outcome, builtSessionLayout } = runFunnelJob(request.job, {
      snapshot: snapshotOf(request.snapshot),
      cohortUsers: request.cohortUsers,
      sessionLayout: request.sessionLayout,
    });
    reply = { ok: true, outcome, builtSessionLayout };
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = (failure as { extensions?: { code?: unknown } }).extensions?.code;
    reply = { ok: false, name: failure.name, message: failure.message, code: typeof code === 'string' ? code : null };
  }
  parentPort!.postMessage(reply);
});
