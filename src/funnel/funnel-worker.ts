/**
 * Entry of a funnel worker thread (started by funnel-pool.ts): receives a job with a snapshot whose
 * columns are shared memory, rebuilds the snapshot around its own copies of the dictionaries, runs
 * the job (funnel-jobs.ts), or one part of a split job, and posts the outcome back (a part's sorted
 * durations are transferred, not copied). One job at a time; the pool terminates the thread to stop
 * a job.
 */
import { parentPort } from 'node:worker_threads';
import type { CodedColumn, ItemDictionary, MirrorSegment, MirrorSnapshot } from './event-mirror';
import { runFunnelJob, runFunnelPart } from './funnel-jobs';
import { transferablesOf } from './funnel-split';
import type { WireColumn, WireSegment, WireSnapshot, WorkerReply, WorkerRequest } from './funnel-pool';

const dictionaries = new Map<number, unknown[]>();
const itemDictionaries = new Map<number, ItemDictionary>();

function column(wire: WireColumn): CodedColumn {
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
  };
}

parentPort!.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const inputs = { snapshot: snapshotOf(request.snapshot), cohortUsers: request.cohortUsers, sessionLayout: request.sessionLayout };
    if (request.part) {
      const partial = runFunnelPart(request.job, inputs, request.part);
      reply = { ok: true, outcome: null, partial, builtSessionLayout: null };
      transfer = transferablesOf(partial);
    } else {
      const { outcome, builtSessionLayout } = runFunnelJob(request.job, inputs);
      reply = { ok: true, outcome, partial: null, builtSessionLayout };
    }
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    const code = (failure as { extensions?: { code?: unknown } }).extensions?.code;
    reply = { ok: false, name: failure.name, message: failure.message, code: typeof code === 'string' ? code : null };
  }
  parentPort!.postMessage(reply, transfer);
});
