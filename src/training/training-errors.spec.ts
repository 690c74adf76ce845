import { UnrecoverableError } from 'bullmq';
import { isTransientFailure, TrainingDataError } from './training-errors';

/** An error as node-postgres or Node's net module reports it: a message and a `code`. */
const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isTransientFailure', () => {
  it('retries a lost or refused connection, a server shutting down, a deadlock, memory short now', () => {
    expect(isTransientFailure(coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(true);
    expect(isTransientFailure(coded('read ECONNRESET', 'ECONNRESET'))).toBe(true);
    expect(isTransientFailure(coded('terminating connection due to administrator command', '57P01'))).toBe(true);
    // A statement timeout is class 57 too, but the same statement on the same data times out again.
    expect(isTransientFailure(coded('canceling statement due to statement timeout', '57014'))).toBe(false);
    expect(isTransientFailure(coded('connection failure', '08006'))).toBe(true);
    expect(isTransientFailure(coded('deadlock detected', '40P01'))).toBe(true);
    expect(isTransientFailure(coded('out of memory', '53200'))).toBe(true);
    expect(isTransientFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientFailure(new RangeError('Array buffer allocation failed'))).toBe(true);
  });

  it('does not retry what fails the same way again', () => {
    // The failure: PostgreSQL's data exception class 22.
    expect(isTransientFailure(coded('"2.74705e-48" is out of range for type real', '22003'))).toBe(false);
    expect(isTransientFailure(coded('duplicate key value violates unique constraint', '23505'))).toBe(false);
    expect(isTransientFailure(coded('column "x" does not exist', '42703'))).toBe(false);
    expect(isTransientFailure(new TypeError("Cannot read properties of undefined (reading 'length')"))).toBe(false);
    expect(isTransientFailure(new TrainingDataError('no events'))).toBe(false);
    expect(isTransientFailure(new UnrecoverableError('bad input'))).toBe(false);
    // As it arrives from BullMQ's sandboxed child: a plain Error carrying the name.
    expect(isTransientFailure(Object.assign(new Error('Connection terminated'), { name: 'UnrecoverableError' }))).toBe(false);
    expect(isTransientFailure('a string')).toBe(false);
  });
});
