import { UnrecoverableError } from 'bullmq';

/** The data cannot train this model (none in range, too few users); retrying would not help. */
export class TrainingDataError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

/** An admin cancelled the job while it ran; the worker stops at the next progress report. */
export class TrainingCancelled extends UnrecoverableError {
  constructor() {
    super('cancelled by an admin');
    this.name = 'UnrecoverableError';
  }
}
