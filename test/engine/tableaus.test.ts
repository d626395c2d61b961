/**
 * The Butcher tableaus as algebra, in float64: consistent stage times, the order conditions of every rooted tree
 * up to the claimed order for the propagated weights b, one order lower for the embedded weights b̂ = b − e, and
 * FSAL last rows equal to b. A mistyped coefficient is caught here even where a float32 solve would not show it
 * (64448/6562 for dopri5's a[4][2] left its solves within 10× their tolerance at 1e-4).
 */
import { describe, expect, it } from 'vitest';
import { EXPLICIT_TABLEAUS, type ButcherTableau } from '../../src-main/engine/ode/tableaus';
import { METHOD_NAMES, solverInfo, type MethodName } from '../../src-shared/solvers';

/**
 * A rooted tree as the list of its root's subtrees. Its elementary weight for weights w is w·Φ(t) with
 * Φ(t) = ∏ over subtrees u of A·Φ(u) (elementwise; Φ of the single node is the ones vector), and the order
 * condition is w·Φ(t) = 1/γ(t), with γ(t) = |t|·∏ γ(u) (Butcher; Hairer, Nørsett & Wanner, "Solving ODEs I", II.2).
 */
interface Tree {
  children: Tree[];
  order: number;
  gamma: number;
  /** Bracket notation: τ is the single node, [u v] the root joined to u and v. */
  label: string;
}

function tree(children: Tree[]): Tree {
  const order = 1 + children.reduce((s, u) => s + u.order, 0);
  return {
    children,
    order,
    gamma: order * children.reduce((p, u) => p * u.gamma, 1),
    label: children.length === 0 ? 'τ' : `[${children.map((u) => u.label).join(' ')}]`,
  };
}

/** Every rooted tree of each order 1..maxOrder: the root over a multiset of smaller trees, sizes summing to n − 1. */
function treesUpTo(maxOrder: number): Tree[][] {
  const byOrder: Tree[][] = [[], [tree([])]];
  const all = () => byOrder.flat();
  for (let n = 2; n <= maxOrder; n++) {
    // Multisets as non-decreasing index sequences into the list of smaller trees, so each appears once.
    const smaller = all();
    const found: Tree[] = [];
    const extend = (children: Tree[], from: number, left: number) => {
      if (left === 0) {
        found.push(tree(children));
        return;
      }
      for (let i = from; i < smaller.length; i++) {
        if (smaller[i].order <= left) extend([...children, smaller[i]], i, left - smaller[i].order);
      }
    };
    extend([], 0, n - 1);
    byOrder.push(found);
  }
  return byOrder;
}

const TREES = treesUpTo(6);

function phi(tab: ButcherTableau, t: Tree): number[] {
  const s = tab.c.length;
  const result = new Array<number>(s).fill(1);
  for (const u of t.children) {
    const pu = phi(tab, u);
    for (let i = 0; i < s; i++) result[i] *= tab.a[i].reduce((sum, aij, j) => sum + aij * pu[j], 0);
  }
  return result;
}

/** w·Φ(t) − 1/γ(t). */
function residual(tab: ButcherTableau, weights: number[], t: Tree): number {
  return phi(tab, t).reduce((sum, p, i) => sum + weights[i] * p, 0) - 1 / t.gamma;
}

/** The largest |residual| over the trees of orders 1..p, and where. */
function worstUpTo(tab: ButcherTableau, weights: number[], p: number): { value: number; where: string } {
  let worst = { value: 0, where: 'none' };
  for (const t of TREES.slice(1, p + 1).flat()) {
    const r = Math.abs(residual(tab, weights, t));
    if (r > worst.value || Number.isNaN(r)) worst = { value: r, where: `order ${t.order} tree ${t.label}` };
  }
  return worst;
}

/** The largest |residual| among the trees of exactly order p. */
function worstAt(tab: ButcherTableau, weights: number[], p: number): number {
  return Math.max(...TREES[p].map((t) => Math.abs(residual(tab, weights, t))));
}

const explicit = METHOD_NAMES.filter((m) => EXPLICIT_TABLEAUS[m]).map((m) => [m, EXPLICIT_TABLEAUS[m]!] as const);

/**
 * How closely the float64 coefficients meet the conditions. The rational tableaus leave rounding only (≤ 5e-16
 * measured); Tsitouras's are 16-digit decimals (≤ 1.2e-14 measured, on the order-5 bushy tree). Typos move a
 * residual by far more: −6.3594 for tsit5's a[3][1] (−6.359448489975075) moves its row sum by 5e-5, 64448/6562 for
 * dopri5's a[4][2] (64448/6561) by 1.5e-3.
 */
const TOL: Record<string, number> = { tsit5: 1e-12 };
const tolOf = (m: MethodName) => TOL[m] ?? 1e-13;

describe('rooted trees', () => {
  it('are counted 1, 1, 2, 4, 9, 20 for orders 1..6 with the known densities', () => {
    expect(TREES.slice(1).map((ts) => ts.length)).toEqual([1, 1, 2, 4, 9, 20]);
    expect(TREES[4].map((t) => t.gamma).sort((x, y) => x - y)).toEqual([4, 8, 12, 24]);
    expect(TREES[5].map((t) => t.gamma).sort((x, y) => x - y)).toEqual([5, 10, 15, 20, 20, 30, 40, 60, 120]);
  });
});

describe.each(explicit)('%s tableau', (method, tab) => {
  const info = solverInfo(method);
  const s = tab.c.length;
  const tol = tolOf(method);

  it('has the shape of an explicit s-stage method with stage times the row sums of a', () => {
    // The evaluations a step costs: an FSAL method's last stage is the next step's first.
    expect(info.stages).toBe(tab.fsal ? s - 1 : s);
    expect(tab.a.length).toBe(s);
    expect(tab.b.length).toBe(s);
    if (tab.e) expect(tab.e.length).toBe(s);
    tab.a.forEach((row, i) => {
      expect(row.length, `row ${i}`).toBe(i);
      expect(Math.abs(row.reduce((x, y) => x + y, 0) - tab.c[i]), `Σ a[${i}] − c[${i}]`).toBeLessThan(tol);
    });
    expect(tab.c[0]).toBe(0);
  });

  it(`meets every order condition up to its order ${info.order}, and not all of the next order`, () => {
    const worst = worstUpTo(tab, tab.b, info.order);
    expect(worst.value, worst.where).toBeLessThan(tol);
    // The claimed order is the order: some tree of the next order is missed (by far more than rounding).
    expect(worstAt(tab, tab.b, info.order + 1)).toBeGreaterThan(1e-6);
  });

  it('meets the bushy conditions Σ bᵢcᵢ^(k−1) = 1/k with the stored stage times c', () => {
    // With the row sums checked above this is implied, but it reads the c the solver uses for t + cᵢh.
    for (let k = 1; k <= info.order; k++) {
      const sum = tab.b.reduce((acc, bi, i) => acc + bi * tab.c[i] ** (k - 1), 0);
      expect(Math.abs(sum - 1 / k), `k=${k}`).toBeLessThan(tol);
    }
  });

  if (tab.fsal) {
    it('FSAL: the last stage is evaluated at the solution, so its row of a is b and its time the step end', () => {
      // explicit-rk.ts takes the last stage's argument as y1, never combining b itself.
      expect(tab.c[s - 1]).toBe(1);
      expect(tab.a[s - 1]).toEqual(tab.b.slice(0, s - 1));
      expect(tab.b[s - 1]).toBe(0);
    });
  }

  if (info.adaptive) {
    it(`has an embedded pair b̂ = b − e of order ${info.embeddedOrder}, exactly`, () => {
      expect(tab.e, 'error weights').toBeDefined();
      const p = info.embeddedOrder!;
      expect(p).toBe(info.order - 1);
      const bHat = tab.b.map((bi, i) => bi - tab.e![i]);
      const worst = worstUpTo(tab, bHat, p);
      expect(worst.value, worst.where).toBeLessThan(tol);
      // Of order p and no more: e = b − b̂ is then an O(h^(p+1)) estimate of the local error, not zero.
      expect(worstAt(tab, bHat, p + 1)).toBeGreaterThan(1e-6);
    });
  } else {
    it('is a fixed-step method without error weights', () => {
      expect(tab.e).toBeUndefined();
    });
  }
});
