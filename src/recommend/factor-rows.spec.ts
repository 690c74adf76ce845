import { decodeArtifact, encodeArtifact, tensorNamed } from '../ml/artifact';
import { factorsWithoutUser } from './factor-rows';

const stored = encodeArtifact({
  header: { format: 'matrix-factorization-v1', dimensions: 2, userCount: 3, itemCount: 1 },
  tensors: [
    { name: 'userIds', dtype: 'int32', shape: [3], data: Int32Array.from([7, 9, 4]) },
    { name: 'itemIds', dtype: 'int32', shape: [1], data: Int32Array.from([9]) },
    { name: 'userFactors', dtype: 'float32', shape: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'itemFactors', dtype: 'float32', shape: [1, 2], data: Float32Array.from([0.5, 0.25]) },
    { name: 'itemBias', dtype: 'float32', shape: [1], data: Float32Array.from([0.125]) },
  ],
});

it("cuts one user's id and factor row out and keeps everything else as it was", () => {
  const artifact = decodeArtifact(factorsWithoutUser(stored, 9)!);
  expect(artifact.header.userCount).toBe(2);
  expect(Array.from(tensorNamed(artifact, 'userIds').data)).toEqual([7, 4]);
  expect(tensorNamed(artifact, 'userFactors').shape).toEqual([2, 2]);
  expect(Array.from(tensorNamed(artifact, 'userFactors').data)).toEqual([1, 2, 5, 6]);
  // Item 9 is an item id, not a user: untouched.
  expect(Array.from(tensorNamed(artifact, 'itemIds').data)).toEqual([9]);
  expect(Array.from(tensorNamed(artifact, 'itemFactors').data)).toEqual([0.5, 0.25]);
});

it('answers null for a user without a row, and cuts the first and last rows too', () => {
  expect(factorsWithoutUser(stored, 5)).toBeNull();
  expect(Array.from(tensorNamed(decodeArtifact(factorsWithoutUser(stored, 7)!), 'userFactors').data)).toEqual([3, 4, 5, 6]);
  expect(Array.from(tensorNamed(decodeArtifact(factorsWithoutUser(stored, 4)!), 'userFactors').data)).toEqual([1, 2, 3, 4]);
});
