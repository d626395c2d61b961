/** A dataset's identity by content: two copies with equal bytes hash equally, whatever their source. */
import { createHash } from 'node:crypto';
import type { Dataset } from './types';

/** SHA-256 (hex) over the training images and labels, then the test images and labels. */
export function datasetContentHash(dataset: Dataset): string {
  const h = createHash('sha256');
  for (const split of [dataset.train, dataset.test]) {
    h.update(split.images);
    h.update(split.labels);
  }
  return h.digest('hex');
}
