import type * as tfjs from '@tensorflow/tfjs';

/**
 * The one binary format for model artifacts stored in `model_versions.artifact` (bytea):
 * "FCA1", a little-endian u32 header length, a JSON header, then the tensors' bytes, each
 * 4-byte aligned. A kind with its own compact state (factor matrices) writes named tensors; a
 * tfjs LayersModel goes through `artifactIOHandler`, which keeps its topology and weight specs in
 * the header and its weight bytes as one tensor.
 */
const MAGIC = 'FCA1';

export interface ArtifactTensor {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface Artifact {
  header: Record<string, unknown>;
  tensors: ArtifactTensor[];
}

interface StoredTensor {
  name: string;
  dtype: 'float32' | 'int32';
  shape: number[];
  offset: number;
  length: number;
}

const align4 = (n: number) => (n + 3) & ~3;

export function encodeArtifact(artifact: Artifact): Buffer {
  const stored: StoredTensor[] = [];
  let offset = 0;
  for (const tensor of artifact.tensors) {
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (expected !== tensor.data.length) throw new RangeError(`tensor ${tensor.name} has ${tensor.data.length} values for shape [${tensor.shape}]`);
    stored.push({ name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, offset, length: tensor.data.length });
    offset += tensor.data.byteLength;
  }
  const headerBytes = Buffer.from(JSON.stringify({ header: artifact.header, tensors: stored }), 'utf8');
  const dataStart = align4(8 + headerBytes.length);
  const out = Buffer.alloc(dataStart + offset);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt32LE(headerBytes.length, 4);
  headerBytes.copy(out, 8);
  artifact.tensors.forEach((tensor, i) => {
    Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength).copy(out, dataStart + stored[i].offset);
  });
  return out;
}

export function decodeArtifact(bytes: Buffer): Artifact {
  if (bytes.length < 8 || bytes.toString('ascii', 0, 4) !== MAGIC) throw new Error('not a Funnelcast model artifact');
  const headerLength = bytes.readUInt32LE(4);
  const parsed = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as { header: Record<string, unknown>; tensors: StoredTensor[] };
  const dataStart = align4(8 + headerLength);
  // Copy into fresh, aligned buffers: a pg bytea Buffer may sit at any offset of a shared pool.
  const tensors = parsed.tensors.map((stored) => {
    const start = dataStart + stored.offset;
    const raw = new Uint8Array(bytes.subarray(start, start + stored.length * 4)).buffer;
    const data = stored.dtype === 'int32' ? new Int32Array(raw) : new Float32Array(raw);
    return { name: stored.name, dtype: stored.dtype, shape: stored.shape, data };
  });
  return { header: parsed.header, tensors };
}

export function tensorNamed(artifact: Artifact, name: string): ArtifactTensor {
  const tensor = artifact.tensors.find((t) => t.name === name);
  if (!tensor) throw new Error(`model artifact has no tensor "${name}"`);
  return tensor;
}

/**
 * A tfjs IOHandler over the artifact format: `model.save(handler)` fills `handler.bytes`, and
 * `tf.loadLayersModel(artifactIOHandler(bytes))` reads it back, so layered models store in bytea too.
 */
export function artifactIOHandler(bytes?: Buffer): tfjs.io.IOHandler & { bytes?: Buffer } {
  const handler: tfjs.io.IOHandler & { bytes?: Buffer } = {
    bytes,
    async save(model) {
      const weightData = model.weightData ? new Uint8Array(concatWeightData(model.weightData)) : new Uint8Array(0);
      const padded = new Uint8Array(align4(weightData.length));
      padded.set(weightData);
      handler.bytes = encodeArtifact({
        header: { format: 'tfjs-layers', modelTopology: model.modelTopology ?? null, weightSpecs: model.weightSpecs ?? [], weightBytes: weightData.length },
        tensors: [{ name: 'weights', dtype: 'int32', shape: [padded.length / 4], data: new Int32Array(padded.buffer) }],
      });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.length } };
    },
    async load() {
      if (!handler.bytes) throw new Error('no artifact bytes to load');
      const artifact = decodeArtifact(handler.bytes);
      const header = artifact.header as { modelTopology: object; weightSpecs: tfjs.io.WeightsManifestEntry[]; weightBytes: number };
      const weights = tensorNamed(artifact, 'weights').data;
      const weightData = new Uint8Array(weights.buffer, weights.byteOffset, header.weightBytes).slice().buffer;
      return { modelTopology: header.modelTopology, weightSpecs: header.weightSpecs, weightData };
    },
  };
  return handler;
}

function concatWeightData(data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(data)) return data;
  const total = data.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of data) {
    out.set(new Uint8Array(part), offset);
    offset += part.byteLength;
  }
  return out.buffer;
}
