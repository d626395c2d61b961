/** Checks that an images file and a labels file make one consistent split. */
import { LabError } from '../../src-shared/errors';
import { fmtInt } from './format';
import type { IdxFile } from './idx';
import type { Split } from './types';

export interface SplitExpectation {
  classes: number;
  /** [rows, cols] every image must have. */
  imageSize?: readonly [number, number];
}

export function checkSplit(images: IdxFile, labels: IdxFile, expect: SplitExpectation): Split {
  const [count, rows, cols] = images.dims;
  if (expect.imageSize && (rows !== expect.imageSize[0] || cols !== expect.imageSize[1])) {
    const want = `${expect.imageSize[0]}×${expect.imageSize[1]} images`;
    throw new LabError('DATASET_CORRUPT', `${images.name}: expected ${want}, found ${rows}×${cols}`, {
      file: images.name,
      expected: want,
      found: `${rows}×${cols}`,
    });
  }
  const nLabels = labels.dims[0];
  if (nLabels !== count) {
    throw new LabError(
      'DATASET_CORRUPT',
      `${labels.name}: expected ${fmtInt(count)} labels (one per image in ${images.name}), found ${fmtInt(nLabels)}`,
      { file: labels.name, expected: count, found: nLabels },
    );
  }
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= expect.classes) {
      throw new LabError(
        'DATASET_CORRUPT',
        `${labels.name}: expected labels 0–${expect.classes - 1}, found ${data[i]} at index ${fmtInt(i)}`,
        { file: labels.name, expected: `0–${expect.classes - 1}`, found: data[i], index: i },
      );
    }
  }
  return { images: images.data, labels: labels.data };
}
