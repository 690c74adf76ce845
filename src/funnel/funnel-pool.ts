/**
 * A small pool of worker threads (node:worker_threads) that run funnel computations
 * (funnel-jobs.ts) off the event loop, so `health`, ingest and other analysts' requests are served
 * while a heavy funnel runs.
 *
 * - **Shared events.** The mirror's columns live on SharedArrayBuffer; a job carries its snapshot's
 *   typed arrays, which postMessage shares instead of copying; session names are on shared memory
 *   too (session-dictionary.ts). The dictionaries of property columns and the item catalogue are
 *   plain arrays: each worker keeps its own copy, and the pool sends only the entries it has not
 *   sent that worker yet (they only grow).
 * - **Fair turns.** Waiting jobs are queued per owner (an API key) and owners take turns, so 100
 *   aliased funnels from one analyst delay another analyst's funnel by at most one job per worker.
 * - **Stopping.** A job past its deadline or whose client went away leaves the queue, or, when
 *   running, its worker is terminated (which stops the computation at once, mid-loop) and replaced.
 * - **Splitting.** A funnel over at least `splitEvents` events runs as one part per worker, each
 *   over a range of units (funnel-split.ts), merged on the main thread into the answer one worker
 *   would give. Parts queue as their owner's jobs, so they take turns with other owners like any
 *   job; they share the job's deadline and abort signal, and the first part to fail, time out or
 *   be abandoned stops the others.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { UserFacingError } from '../graphql/errors';
import { logger } from '../logger';
import type { CodedColumn, ItemDictionary, MirrorSegment, MirrorSnapshot } from './event-mirror';
import { clientClosedRequest, FunnelBudget, funnelTimeout } from './funnel-budget';
import type { FunnelJob, FunnelJobInputs, FunnelOutcome, FunnelPartial } from './funnel-jobs';
import type { UnitPart, UnitRange } from './funnel-run';
import { mergeFunnelParts, planSplit } from './funnel-split';

/** A coded column on the wire: shared codes, plus the dictionary entries this worker lacks. */
export interface WireColumn {
  codes: Int32Array;
  dictionary: number;
  /** values[from..): the entries this worker has not been sent yet. */
  tail: unknown[];
  from: number;
}

export interface WireSegment extends Omit<MirrorSegment, 'properties'> {
  properties: [string, WireColumn][];
}

export interface WireSnapshot extends Omit<MirrorSnapshot, 'base' | 'delta' | 'itemDictionary'> {
  base: WireSegment;
  delta: WireSegment;
  itemDictionary: { dictionary: number; revision: number; data: ItemDictionary | null } | null;
}

export interface WorkerRequest {
  job: FunnelJob;
  snapshot: WireSnapshot;
  cohortUsers: Uint8Array | null;
  sessionLayout: UnitPart | null;
  /** The units to run when this is one part of a split job; null for the whole job. */
  part: UnitRange | null;
}

/** A whole job answers `outcome` (and `builtSessionLayout`), a part answers `partial`. */
export type WorkerReply =
  | { ok: true; outcome: FunnelOutcome | null; partial: FunnelPartial | null; builtSessionLayout: UnitPart | null }
  | { ok: false; name: string; message: string; code: string | null };

type PartReply = Extract<WorkerReply, { ok: true }>;

/** Counters since the pool was made; `busy` and `queued` are now. */
export interface FunnelPoolStats {
  workers: number;
  /** Workers running a job or a part of one. */
  busy: number;
  /** Jobs and parts waiting for a worker. */
  queued: number;
  /** Jobs answered (a split job counts once). */
  completed: number;
  /** Of the completed jobs, those that ran split into parts. */
  split: number;
  failed: number;
  /** Jobs stopped at their deadline (queued or running). */
  timedOut: number;
  /** Jobs stopped because their client went away (queued or running). */
  abandoned: number;
  /** Workers terminated mid-job to stop it, and replaced. */
  workersStopped: number;
}

interface Task {
  job: FunnelJob;
  inputs: FunnelJobInputs;
  budget: FunnelBudget;
  /** Set for a part of a split job. */
  part: UnitRange | null;
  /** The split job this task is a part of; null for a whole job. */
  group: SplitGroup | null;
  resolve(value: PartReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
  slot: Slot | null;
  settled: boolean;
}

/** The parts of one split job: the first error settles them all. */
interface SplitGroup {
  parts: Task[];
  error: Error | null;
}

interface Slot {
  worker: Worker;
  task: Task | null;
  /** Per dictionary, how many entries this worker holds. */
  sentValues: Map<number, number>;
  /** Per item dictionary, the revision this worker holds. */
  sentItems: Map<number, number>;
}

/** The compiled worker entry: beside this file in dist/, or dist/'s copy when the sources run under ts-jest (`npm test` builds first). */
export function funnelWorkerEntry(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'funnel-worker.js');
  const compiled = path.resolve(__dirname, '../../dist/src/funnel/funnel-worker.js');
  if (!existsSync(compiled)) throw new Error(`The funnel worker runs compiled code and ${compiled} is missing; run npm run build.`);
  return compiled;
}

/** Timers may fire a little before Date.now() reaches their deadline. */
const TIMER_SLACK_MS = 10;

/** FUNNELCAST_FUNNEL_SPLIT_EVENTS's default: below this many events a part's messages and allocations cost more than the second core saves. */
export const DEFAULT_SPLIT_EVENTS = 200_000;

export interface FunnelPoolOptions {
  /** The compiled worker script (default: funnelWorkerEntry()). */
  entry?: string;
  /** Split funnels over snapshots of at least this many events into one part per worker (default DEFAULT_SPLIT_EVENTS); Infinity never splits. */
  splitEvents?: number;
}

export class FunnelPool {
  private readonly slots: Slot[] = [];
  /** Owners with waiting jobs, in turn order; each owner's jobs in arrival order. */
  private readonly turns: string[] = [];
  private readonly waiting = new Map<string, Task[]>();
  private readonly dictionaryIds = new WeakMap<object, number>();
  /** Jobs per request signal: one abort listener per request, however many aliased funnels it holds. */
  private readonly watched = new WeakMap<AbortSignal, Set<Task>>();
  private nextDictionaryId = 1;
  private closed = false;
  private readonly counters = { completed: 0, split: 0, failed: 0, timedOut: 0, abandoned: 0, workersStopped: 0 };
  private readonly entry: string;
  readonly splitEvents: number;

  constructor(
    /** Most workers at once; they start on first use. */
    readonly size: number,
    options: FunnelPoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`A funnel pool needs at least one worker, not ${size}.`);
    this.entry = options.entry ?? funnelWorkerEntry();
    this.splitEvents = options.splitEvents ?? DEFAULT_SPLIT_EVENTS;
    if (!(this.splitEvents >= 0)) throw new RangeError(`splitEvents must be a number of events >= 0, not ${this.splitEvents}.`);
  }

  get stats(): FunnelPoolStats {
    let queued = 0;
    for (const tasks of this.waiting.values()) queued += tasks.length;
    return { workers: this.slots.length, busy: this.slots.filter((slot) => slot.task !== null).length, queued, ...this.counters };
  }

  /**
   * Runs `job` on a worker within `budget`, or on every worker at once in parts when it is big
   * enough (see splitEvents); rejects with FUNNEL_TIMEOUT or CLIENT_CLOSED_REQUEST when stopped.
   */
  async run(job: FunnelJob, inputs: FunnelJobInputs, budget: FunnelBudget): Promise<{ outcome: FunnelOutcome; builtSessionLayout: UnitPart | null }> {
    if (this.closed) throw new Error('The funnel pool is closed.');
    // A job already stopped goes in whole, only to be answered with its error once.
    const stopped = budget.signal?.aborted === true || Date.now() >= budget.deadline;
    const parts = stopped ? null : planSplit(job, inputs, { parts: this.size, splitEvents: this.splitEvents });
    if (parts === null || parts.length < 2) {
      const reply = await this.submit(job, inputs, budget, null, null);
      return { outcome: reply.outcome!, builtSessionLayout: reply.builtSessionLayout };
    }
    const group: SplitGroup = { parts: [], error: null };
    const replies = await Promise.all(parts.map((part) => this.submit(job, inputs, budget, part, group)));
    const outcome = mergeFunnelParts(job, replies.map((reply) => reply.partial!));
    this.counters.completed++;
    this.counters.split++;
    return { outcome, builtSessionLayout: null };
  }

  private submit(job: FunnelJob, inputs: FunnelJobInputs, budget: FunnelBudget, part: UnitRange | null, group: SplitGroup | null): Promise<PartReply> {
    if (this.closed) return Promise.reject(new Error('The funnel pool is closed.'));
    if (group?.error) return Promise.reject(group.error);
    return new Promise((resolve, reject) => {
      const task: Task = { job, inputs, budget, part, group, resolve, reject, timer: null, slot: null, settled: false };
      group?.parts.push(task);
      task.timer = setTimeout(() => this.stop(task, 'timeout'), Math.max(0, budget.deadline - Date.now()));
      if (budget.signal) this.watch(budget.signal, task);
      let tasks = this.waiting.get(budget.owner);
      if (!tasks) {
        tasks = [];
        this.waiting.set(budget.owner, tasks);
        this.turns.push(budget.owner);
      }
      tasks.push(task);
      if (budget.signal?.aborted) this.stop(task, 'abandoned');
      else this.dispatch();
    });
  }

  /** Terminates every worker; waiting and running jobs fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const tasks of this.waiting.values()) for (const task of [...tasks]) this.settle(task, new Error('The funnel pool was closed.'));
    this.waiting.clear();
    this.turns.length = 0;
    const slots = this.slots.splice(0);
    for (const slot of slots) if (slot.task) this.settle(slot.task, new Error('The funnel pool was closed.'));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.turns.length > 0) {
      let slot = this.slots.find((candidate) => candidate.task === null);
      if (!slot && this.slots.length < this.size) slot = this.startWorker();
      if (!slot) return;
      const owner = this.turns.shift()!;
      const tasks = this.waiting.get(owner)!;
      const task = tasks.shift()!;
      if (tasks.length > 0) this.turns.push(owner);
      else this.waiting.delete(owner);
      if (Date.now() >= task.budget.deadline) {
        // Its timer has not fired yet, but a job past its deadline is not worth a worker.
        this.counters.timedOut++;
        this.settle(task, funnelTimeout(task.budget.limitMs));
        continue;
      }
      this.assign(slot, task);
    }
  }

  private assign(slot: Slot, task: Task): void {
    slot.task = task;
    task.slot = slot;
    slot.worker.ref(); // someone awaits this job: keep the process alive until it ends
    const { snapshot, cohortUsers, sessionLayout } = task.inputs;
    const request: WorkerRequest = { job: task.job, snapshot: this.wire(slot, snapshot), cohortUsers, sessionLayout, part: task.part };
    try {
      slot.worker.postMessage(request);
    } catch (error) {
      slot.task = null;
      slot.worker.unref();
      this.settle(task, error as Error);
      this.dispatch();
    }
  }

  /** The snapshot as a worker receives it: shared arrays as they are, dictionaries as deltas. */
  private wire(slot: Slot, snapshot: MirrorSnapshot): WireSnapshot {
    const { base, delta, itemDictionary, ...rest } = snapshot;
    const column = (coded: CodedColumn): WireColumn => {
      const dictionary = this.dictionaryId(coded.values);
      const count = coded.values.length;
      const from = slot.sentValues.get(dictionary) ?? 0;
      slot.sentValues.set(dictionary, count);
      return { codes: coded.codes, dictionary, tail: coded.values.slice(from, count), from };
    };
    let items: WireSnapshot['itemDictionary'] = null;
    if (itemDictionary) {
      const dictionary = this.dictionaryId(itemDictionary);
      const fresh = slot.sentItems.get(dictionary) === itemDictionary.revision;
      slot.sentItems.set(dictionary, itemDictionary.revision);
      items = { dictionary, revision: itemDictionary.revision, data: fresh ? null : itemDictionary };
    }
    // The segments share their dictionaries, so the second one sends no values the first did not.
    // Sessions travel as they are: codes and names are on shared memory (session-dictionary.ts).
    const segment = ({ properties, ...columns }: MirrorSegment): WireSegment => ({
      ...columns,
      properties: [...properties].map(([key, coded]) => [key, column(coded)]),
    });
    return { ...rest, base: segment(base), delta: segment(delta), itemDictionary: items };
  }

  private watch(signal: AbortSignal, task: Task): void {
    let tasks = this.watched.get(signal);
    if (!tasks) {
      const watching = new Set<Task>();
      this.watched.set(signal, (tasks = watching));
      signal.addEventListener('abort', () => {
        // Queued jobs first, so none of them is handed the worker that stopping a running one frees.
        const jobs = [...watching].sort((a, b) => Number(a.slot !== null) - Number(b.slot !== null));
        for (const job of jobs) this.stop(job, 'abandoned', false);
        this.dispatch();
      }, { once: true });
    }
    tasks.add(task);
  }

  private dictionaryId(values: object): number {
    let id = this.dictionaryIds.get(values);
    if (id === undefined) {
      id = this.nextDictionaryId++;
      this.dictionaryIds.set(values, id);
    }
    return id;
  }

  private startWorker(): Slot {
    const worker = new Worker(this.entry);
    worker.unref();
    const slot: Slot = { worker, task: null, sentValues: new Map(), sentItems: new Map() };
    worker.on('message', (reply: WorkerReply) => {
      const task = slot.task;
      if (!task) return;
      slot.task = null;
      worker.unref();
      if (reply.ok) {
        if (!task.group) this.counters.completed++; // a split job counts once, when merged
        this.settle(task, null, reply);
      } else {
        this.counters.failed++;
        const error = reply.code ? new UserFacingError(reply.code, reply.message) : Object.assign(new Error(reply.message), { name: reply.name });
        this.settle(task, error);
      }
      this.dispatch();
    });
    const lost = (error: Error) => {
      if (!this.slots.includes(slot)) return; // stopped on purpose, or closed
      this.slots.splice(this.slots.indexOf(slot), 1);
      logger().error({ err: error }, 'a funnel worker died; starting another');
      if (slot.task) {
        this.counters.failed++;
        this.settle(slot.task, error);
      }
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`The funnel worker exited with code ${code}.`)));
    this.slots.push(slot);
    return slot;
  }

  /** Takes a job off the queue, or stops the worker running it. */
  private stop(task: Task, why: 'timeout' | 'abandoned', andDispatch = true): void {
    if (task.settled) return;
    if (why === 'timeout') this.counters.timedOut++;
    else this.counters.abandoned++;
    const error = why === 'timeout' ? funnelTimeout(task.budget.limitMs) : clientClosedRequest();
    this.withdraw(task);
    this.settle(task, error);
    // Jobs due at the same moment (aliases of one request share a deadline) leave the queue now,
    // rather than each being handed a fresh worker only to have it stopped a moment later.
    if (why === 'timeout') this.dropExpired(Date.now() + TIMER_SLACK_MS);
    if (andDispatch) this.dispatch();
  }

  /** Takes a task off the queue, or terminates the worker running it (and forgets that worker). */
  private withdraw(task: Task): void {
    const slot = task.slot;
    if (slot) {
      // Terminating the thread is what actually stops a computation in the middle of a loop.
      const index = this.slots.indexOf(slot);
      if (index >= 0) {
        this.slots.splice(index, 1);
        this.counters.workersStopped++;
      }
      slot.task = null;
      task.slot = null;
      slot.worker.terminate().catch(() => undefined);
      return;
    }
    const tasks = this.waiting.get(task.budget.owner);
    const index = tasks?.indexOf(task) ?? -1;
    if (tasks && index >= 0) {
      tasks.splice(index, 1);
      if (tasks.length === 0) {
        this.waiting.delete(task.budget.owner);
        this.turns.splice(this.turns.indexOf(task.budget.owner), 1);
      }
    }
  }

  private dropExpired(now: number): void {
    for (const tasks of [...this.waiting.values()]) {
      for (const task of tasks.filter((candidate) => candidate.budget.deadline <= now)) {
        if (task.settled) continue; // a part whose sibling timed out a moment ago
        this.withdraw(task);
        this.counters.timedOut++;
        this.settle(task, funnelTimeout(task.budget.limitMs));
      }
    }
  }

  private settle(task: Task, error: Error | null, value?: PartReply): void {
    if (task.settled) return;
    task.settled = true;
    if (task.timer) clearTimeout(task.timer);
    if (task.budget.signal) this.watched.get(task.budget.signal)?.delete(task);
    if (error) task.reject(error);
    else task.resolve(value!);
    if (error && task.group) {
      // The job has failed as a whole: its other parts are not worth a worker any longer.
      task.group.error ??= error;
      for (const sibling of task.group.parts) {
        if (sibling.settled) continue;
        this.withdraw(sibling);
        this.settle(sibling, error);
      }
    }
  }
}
