import { decodeArtifact, encodeArtifact } from '../ml/artifact';
import type { Tf } from '../ml/tf-backend';
import type { MarkovModel } from './markov';
import { restoreNextStepModel, type NextStepConfig } from './next-step-model';
import { restorePropensityModel, type PropensityModel, type PropensityState } from './propensity-model';
import type { NamedWeights } from './tf-training';
import type * as tfjs from '@tensorflow/tfjs';

/**
 * Both prediction kinds store their networks as named float tensors in the shared artifact format
 * (src/ml/artifact.ts), with the configuration needed to rebuild the layers in the header.
 */

export interface NextStepArtifact {
  config: NextStepConfig;
  markov: MarkovModel;
  weights: NamedWeights[];
}

export function encodeNextStepArtifact(artifact: NextStepArtifact): Buffer {
  return encodeArtifact({
    header: { format: 'next-step-v1', config: artifact.config, markovCounts: Array.from(artifact.markov.counts), markovSmoothing: artifact.markov.smoothing },
    tensors: artifact.weights.map((w) => ({ name: w.name, dtype: 'float32', shape: w.shape, data: w.data })),
  });
}

export interface LoadedNextStep {
  config: NextStepConfig;
  markov: MarkovModel;
  model: tfjs.LayersModel;
}

export function decodeNextStepArtifact(tf: Tf, bytes: Buffer): LoadedNextStep {
  const artifact = decodeArtifact(bytes);
  const header = artifact.header as { format: string; config: NextStepConfig; markovCounts: number[]; markovSmoothing: number };
  if (header.format !== 'next-step-v1') throw new Error(`not a next-step artifact (${header.format})`);
  const weights = artifact.tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data as Float32Array }));
  return {
    config: header.config,
    markov: { counts: Float64Array.from(header.markovCounts), smoothing: header.markovSmoothing },
    model: restoreNextStepModel(tf, header.config, weights),
  };
}

export interface PropensitySettings {
  horizonHours: number;
  activeDays: number;
}

export function encodePropensityArtifact(settings: PropensitySettings, user: { state: PropensityState; weights: NamedWeights[] }, visit: { state: PropensityState; weights: NamedWeights[] }): Buffer {
  return encodeArtifact({
    header: { format: 'purchase-propensity-v1', settings, user: user.state, visit: visit.state },
    tensors: [...user.weights, ...visit.weights].map((w) => ({ name: w.name, dtype: 'float32', shape: w.shape, data: w.data })),
  });
}

export interface LoadedPropensity {
  settings: PropensitySettings;
  user: PropensityModel;
  visit: PropensityModel;
}

export function decodePropensityArtifact(tf: Tf, bytes: Buffer): LoadedPropensity {
  const artifact = decodeArtifact(bytes);
  const header = artifact.header as { format: string; settings: PropensitySettings; user: PropensityState; visit: PropensityState };
  if (header.format !== 'purchase-propensity-v1') throw new Error(`not a purchase-propensity artifact (${header.format})`);
  const named = (prefix: string) =>
    artifact.tensors.filter((t) => t.name.startsWith(`${prefix}/`)).map((t) => ({ name: t.name, shape: t.shape, data: t.data as Float32Array }));
  return {
    settings: header.settings,
    user: restorePropensityModel(tf, header.user, named('user')),
    visit: restorePropensityModel(tf, header.visit, named('visit')),
  };
}
