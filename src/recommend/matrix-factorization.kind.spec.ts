import { canonicalJson, ParamsError } from '../training/params';
import { matrixFactorization } from './matrix-factorization.kind';

describe('MATRIX_FACTORIZATION params', () => {
  it('fills in every default', () => {
    const params = matrixFactorization.parseParams({ epochs: 3, weights: { view: 0.5 } });
    expect(params).toMatchObject({ algorithm: 'als', epochs: 3, dimensions: 32, iterations: 10, alpha: 200, alsRegularization: 100, conjugateGradientSteps: 3, refit: true, negativeSampling: 'uniform', excludeAnomalous: true });
    expect(params.weights).toEqual({ view: 0.5, fav: 2, cart: 3, checkout: 3, purchase: 5 });
  });

  it('lists every problem with what a valid value looks like', () => {
    let error: unknown;
    try {
      matrixFactorization.parseParams({ dimensions: 2.5, algorithm: 'svd', negativeSampling: 'random', refit: 'yes', colour: 'red' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ParamsError);
    expect((error as ParamsError).problems).toEqual([
      'params.colour is not a MATRIX_FACTORIZATION parameter; known: excludeAnomalous, algorithm, dimensions, iterations, alpha, alsRegularization, conjugateGradientSteps, epochs, learningRate, regularization, negatives, negativeSampling, batchSize, weights, topK, evaluationK, holdoutFraction, refit, seed',
      'params.algorithm must be one of als, bpr (got "svd")',
      'params.dimensions must be a whole number from 2 to 256 (got 2.5)',
      'params.negativeSampling must be one of uniform, popularity (got "random")',
      'params.refit must be true or false (got "yes")',
    ]);
    expect(() => matrixFactorization.parseParams([1])).toThrow(/params must be a JSON object \(got an array\)/);
    // A key named like a member of Object.prototype is as unknown as any other.
    expect(() => matrixFactorization.parseParams({ constructor: 1 })).toThrow(/params\.constructor is not a MATRIX_FACTORIZATION parameter/);
    expect(() => matrixFactorization.parseParams(JSON.parse('{"__proto__": 1}'))).toThrow(/params\.__proto__ is not a MATRIX_FACTORIZATION parameter/);
    expect(() => matrixFactorization.parseParams({ weights: { view: 0, fav: 0, cart: 0, checkout: 0, purchase: 0 } })).toThrow(/at least one event type/);
  });

  it('gives the same canonical text whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { y: [2, { d: 1, c: 2 }], x: null } })).toBe('{"a":{"x":null,"y":[2,{"c":2,"d":1}]},"b":1}');
  });
});
