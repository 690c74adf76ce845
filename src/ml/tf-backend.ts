import type * as tfjs from '@tensorflow/tfjs';
import { config, TfBackendPreference } from '../config';
import { logger } from '../logger';
import { registerSegmentSumKernel } from './segment-sum.kernel';

export type Tf = typeof tfjs;
export type TfBackendName = Exclude<TfBackendPreference, 'auto'>;

/** The order `auto` tries: native GPU, native CPU, WebAssembly, plain JavaScript. */
export const TF_BACKEND_ORDER: readonly TfBackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export interface TfBackendInfo {
  /** What every model version records: `node-gpu`, `node`, `wasm` or `cpu`. */
  name: TfBackendName;
  /** Details that change speed, such as SIMD and threads for wasm. */
  detail: string;
  /** True when FUNNELCAST_TF_BACKEND chose it rather than `auto`. */
  forced: boolean;
  /** Backends tried before this one and why each was not used. */
  skipped: { name: TfBackendName; reason: string }[];
}

export interface TfRuntime {
  tf: Tf;
  backend: TfBackendInfo;
}

class BackendUnavailable extends Error {}

function loadOptional(moduleName: string): void {
  try {
    require(moduleName);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackendUnavailable(code === 'MODULE_NOT_FOUND' ? `${moduleName} is not installed` : `${moduleName} failed to load: ${(error as Error).message}`);
  }
}

async function activate(tf: Tf, tfName: string): Promise<void> {
  // setBackend resolves false (and logs) when the backend's initialisation fails.
  if (!(await tf.setBackend(tfName))) throw new BackendUnavailable(`the ${tfName} backend did not initialise`);
  await tf.ready();
}

/** Tries one backend; resolves to its detail line or throws BackendUnavailable. */
async function tryBackend(tf: Tf, name: TfBackendName): Promise<string> {
  switch (name) {
    case 'node-gpu':
    case 'node': {
      // Both native packages register the backend "tensorflow" on the shared tfjs engine.
      loadOptional(name === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      await activate(tf, 'tensorflow');
      return name === 'node-gpu' ? 'libtensorflow with CUDA' : 'libtensorflow';
    }
    case 'wasm': {
      loadOptional('@tensorflow/tfjs-backend-wasm');
      await activate(tf, 'wasm');
      registerSegmentSumKernel(tf, 'wasm');
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
      return `SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'}`;
    }
    case 'cpu': {
      await activate(tf, 'cpu');
      registerSegmentSumKernel(tf, 'cpu');
      return 'plain JavaScript';
    }
  }
}

let selected: Promise<TfRuntime> | undefined;
let selectedFor: TfBackendPreference | undefined;

/**
 * The one place that chooses the TensorFlow.js backend. `auto` takes the first of
 * TF_BACKEND_ORDER that loads; a forced backend that does not load is an error, not a silent
 * fallback, so a deployment that asked for the GPU never trains on the CPU by accident.
 * Chosen once per process; later calls get the same runtime.
 */
export function loadTf(preference: TfBackendPreference = config().tfBackend): Promise<TfRuntime> {
  if (selected && selectedFor === preference) return selected;
  if (selected) return selected.then((runtime) => switchBackend(runtime, preference));
  selectedFor = preference;
  selected = chooseBackend(preference);
  selected.catch(() => {
    selected = undefined;
  });
  return selected;
}

async function switchBackend(runtime: TfRuntime, preference: TfBackendPreference): Promise<TfRuntime> {
  if (preference === 'auto' || preference === runtime.backend.name) return runtime;
  // Benchmarks compare backends in one process; everything else keeps the first choice.
  selectedFor = preference;
  selected = chooseBackend(preference);
  return selected;
}

async function chooseBackend(preference: TfBackendPreference): Promise<TfRuntime> {
  const tf = require('@tensorflow/tfjs') as Tf;
  // PROD silences tfjs's console advert for tfjs-node (we log the backend ourselves) and its debug checks.
  tf.env().set('PROD', true);
  const skipped: TfBackendInfo['skipped'] = [];
  const candidates = preference === 'auto' ? TF_BACKEND_ORDER : [preference];
  for (const name of candidates) {
    try {
      const detail = await tryBackend(tf, name);
      const backend: TfBackendInfo = { name, detail, forced: preference !== 'auto', skipped };
      logger().info({ tfBackend: name, detail, skipped }, `TensorFlow.js backend: ${name} (${detail})`);
      return { tf, backend };
    } catch (error) {
      if (!(error instanceof BackendUnavailable)) throw error;
      skipped.push({ name, reason: error.message });
    }
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new Error(
    preference === 'auto'
      ? `No TensorFlow.js backend could be loaded (${reasons}).`
      : `FUNNELCAST_TF_BACKEND=${preference} was asked for but is not available (${reasons}). Unset it to choose automatically.`,
  );
}

/** The backend as one line, for logs and the health query: `wasm (SIMD on, threads off)`. */
export function describeBackend(backend: TfBackendInfo): string {
  return `${backend.name} (${backend.detail})`;
}
