/** Loads stored weights into a model's parameters, checking they belong to it. */
import { LabError } from '../../../src-shared/errors';
import { tf } from '../tf';
import type { Model } from '../models';
import type { StoredTensor } from './checkpoint';

/** `what` names the tensors in errors: the checkpoint's 'weight' tensors, or its 'averaged weight' ones. */
export function loadWeights(model: Model, weights: StoredTensor[], what = 'weight'): void {
  if (weights.length !== model.params.length) {
    throw new LabError('INVALID_ARGUMENT', `checkpoint has ${weights.length} ${what} tensors, the model ${model.params.length}`);
  }
  weights.forEach((w, i) => {
    const p = model.params[i];
    if (!tf.util.arraysEqual(w.shape, p.shape)) {
      throw new LabError('INVALID_ARGUMENT', `checkpoint ${what} ${i} has shape [${w.shape}], the model [${p.shape}]`);
    }
    // assign() copies; the temporary is ours to free.
    const value = tf.tensor(w.data, w.shape);
    p.assign(value);
    value.dispose();
  });
}
