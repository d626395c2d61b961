/** The LabError a call throws, for tests that look at its code, message and details. */
import { LabError } from '../src-shared/errors';

export function labErrorOf(run: () => unknown): LabError {
  try {
    run();
  } catch (e) {
    if (e instanceof LabError) return e;
    throw e;
  }
  throw new Error('expected a LabError, but the call succeeded');
}
