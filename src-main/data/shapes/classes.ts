/**
 * The shapes datasets' classes. Compound mode numbers the single shapes circle 1, triangle 2, rectangle 3 and
 * labels an unordered pair by the sum of its shapes' numbers + 1 (c+t 4, c+r 5, t+r 6), with 0 for blank —
 * the labelling of the shapes write-up.
 */
export type ShapeType = 'circle' | 'triangle' | 'rectangle';
export type ShapesMode = 'single' | 'compound';

const SINGLE: readonly ShapeType[] = ['triangle', 'circle', 'rectangle'];
const COMPOUND_ID: Readonly<Record<ShapeType, number>> = { circle: 1, triangle: 2, rectangle: 3 };

/** For each label, the shapes its images contain. */
function compoundTable(): ShapeType[][] {
  const table: ShapeType[][] = [[]];
  const types = Object.keys(COMPOUND_ID) as ShapeType[];
  for (const t of types) table[COMPOUND_ID[t]] = [t];
  for (let i = 0; i < types.length; i++) {
    for (let j = i + 1; j < types.length; j++) table[COMPOUND_ID[types[i]] + COMPOUND_ID[types[j]] + 1] = [types[i], types[j]];
  }
  return table;
}

const COMPOUND = compoundTable();

export function shapesForLabel(mode: ShapesMode, label: number): readonly ShapeType[] {
  return mode === 'single' ? [SINGLE[label]] : COMPOUND[label];
}

export function shapeClassNames(mode: ShapesMode): string[] {
  return mode === 'single' ? [...SINGLE] : COMPOUND.map((s) => (s.length ? s.join('+') : 'blank'));
}
