import { decodeArtifact, encodeArtifact, tensorNamed } from '../ml/artifact';

/**
 * A MATRIX_FACTORIZATION artifact without one user's row: their entry in `userIds` and their
 * factor vector in `userFactors` are cut out and `header.userCount` follows; item factors and
 * every other user's vector are kept bit for bit, so serving scores everyone else exactly as
 * before and the erased user is served like a new one (fold-in from their events, which are gone).
 * The model is not retrained: the item factors keep what the user's interactions taught them,
 * an aggregate over every user that holds no row of theirs.
 *
 * `bytes`: the stored artifact; `userId`: the dense `users.id`. Null when the user has no row.
 */
export function factorsWithoutUser(bytes: Buffer, userId: number): Buffer | null {
  const artifact = decodeArtifact(bytes);
  const userIds = tensorNamed(artifact, 'userIds');
  const userFactors = tensorNamed(artifact, 'userFactors');
  const row = (userIds.data as Int32Array).indexOf(userId);
  if (row < 0) return null;
  const users = userIds.data.length;
  const dimensions = userFactors.shape[1];
  const keptIds = new Int32Array(users - 1);
  keptIds.set(userIds.data.subarray(0, row));
  keptIds.set(userIds.data.subarray(row + 1), row);
  const keptFactors = new Float32Array((users - 1) * dimensions);
  keptFactors.set(userFactors.data.subarray(0, row * dimensions));
  keptFactors.set(userFactors.data.subarray((row + 1) * dimensions), row * dimensions);
  return encodeArtifact({
    header: { ...artifact.header, userCount: users - 1 },
    tensors: artifact.tensors.map((tensor) => {
      if (tensor === userIds) return { ...tensor, shape: [users - 1], data: keptIds };
      if (tensor === userFactors) return { ...tensor, shape: [users - 1, dimensions], data: keptFactors };
      return tensor;
    }),
  });
}

/** The dense user ids that have a row in a MATRIX_FACTORIZATION artifact. */
export function factorUserIds(bytes: Buffer): Int32Array {
  return tensorNamed(decodeArtifact(bytes), 'userIds').data as Int32Array;
}
