/**
 * What a fuel profile says, in the forms people read it: a per-function table (self and inclusive
 * fuel, calls), speedscope JSON and folded stacks for flame graphs. Pure functions of a
 * CallProfile (see profiler.ts); nothing here runs guest code or touches files.
 */
import type { CallProfile } from './profiler.js';

export interface FunctionRow {
  func: number;
  name: string;
  /** Fuel spent in the function's own operators and entry cost. */
  self: number;
  /** Fuel spent from its entry to its exit, callees included; a recursive call is counted once, at its outermost frame. */
  inclusive: number;
  calls: number;
}

export function functionName(p: CallProfile, func: number): string {
  return p.names[func] ?? `func[${func}]`;
}

/** Self fuel of every node: its inclusive fuel minus its children's. */
export function selfFuel(p: CallProfile): number[] {
  const self = p.total.slice();
  for (let n = 1; n < p.func.length; n++) self[p.parent[n]!]! -= p.total[n]!;
  return self;
}

/** The call's fuel: the root's inclusive fuel (the sum of every node's self fuel). */
export function profileTotal(p: CallProfile): number {
  return p.total[0] ?? 0;
}

/** Per function, sorted by self fuel (largest first), then by name. */
export function functionTable(p: CallProfile): FunctionRow[] {
  const self = selfFuel(p);
  const rows = new Map<number, FunctionRow>();
  for (let n = 1; n < p.func.length; n++) {
    const f = p.func[n]!;
    let row = rows.get(f);
    if (!row) {
      row = { func: f, name: functionName(p, f), self: 0, inclusive: 0, calls: 0 };
      rows.set(f, row);
    }
    row.self += self[n]!;
    row.calls += p.calls[n]!;
    // A node whose ancestors include the same function is already inside that one's inclusive figure.
    let nested = false;
    for (let a = p.parent[n]!; a > 0 && !nested; a = p.parent[a]!) nested = p.func[a] === f;
    if (!nested) row.inclusive += p.total[n]!;
  }
  return [...rows.values()].sort((a, b) => b.self - a.self || a.name.localeCompare(b.name));
}

/** Sums profiles path by path (the same call path in two profiles is one node). */
export function mergeProfiles(list: readonly CallProfile[]): CallProfile {
  const out: CallProfile = { func: [-1], parent: [-1], total: [0], calls: [0], names: {}, partial: false, hookCalls: 0 };
  const kids: Map<number, number>[] = [new Map()];
  for (const p of list) {
    out.hookCalls += p.hookCalls;
    out.partial ||= p.partial;
    Object.assign(out.names, p.names);
    out.total[0]! += p.total[0]!;
    out.calls[0]! += p.calls[0]!;
    const map = [0];
    for (let n = 1; n < p.func.length; n++) {
      const parent = map[p.parent[n]!]!;
      const f = p.func[n]!;
      let m = kids[parent]!.get(f);
      if (m === undefined) {
        m = out.func.length;
        out.func.push(f);
        out.parent.push(parent);
        out.total.push(0);
        out.calls.push(0);
        kids.push(new Map());
        kids[parent]!.set(f, m);
      }
      out.total[m]! += p.total[n]!;
      out.calls[m]! += p.calls[n]!;
      map[n] = m;
    }
  }
  return out;
}

/** Node indices in depth-first order, children by function index (a stable, readable order). */
function depthFirst(p: CallProfile): number[] {
  const kids: number[][] = p.func.map(() => []);
  for (let n = 1; n < p.func.length; n++) kids[p.parent[n]!]!.push(n);
  const order: number[] = [];
  const todo = [0];
  while (todo.length > 0) {
    const n = todo.pop()!;
    order.push(n);
    const k = kids[n]!.slice().sort((a, b) => p.func[a]! - p.func[b]!);
    for (let i = k.length - 1; i >= 0; i--) todo.push(k[i]!);
  }
  return order;
}

function stackOf(p: CallProfile, n: number): number[] {
  const s: number[] = [];
  for (let a = n; a > 0; a = p.parent[a]!) s.push(a);
  return s.reverse();
}

/**
 * Folded stacks (`outer;inner;leaf SELF`, one line per call path with self fuel), the input of
 * flamegraph.pl and inferno. Frame names have `;` and spaces replaced, which those tools split on.
 */
export function toFolded(p: CallProfile): string {
  const self = selfFuel(p);
  const clean = (name: string): string => name.replace(/[;\s]/g, '_');
  const lines: string[] = [];
  for (const n of depthFirst(p)) {
    if (n === 0 || self[n]! <= 0) continue;
    lines.push(`${stackOf(p, n).map((a) => clean(functionName(p, p.func[a]!))).join(';')} ${self[n]}`);
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/**
 * A speedscope file (https://www.speedscope.app/file-format-schema.json): one "sampled" profile
 * whose samples are the call paths and whose weights are their self fuel, so its total weight is
 * the call's fuel and every frame's width its inclusive fuel.
 */
export function toSpeedscope(p: CallProfile, title: string, exporter: string): object {
  const self = selfFuel(p);
  const frameOf = new Map<number, number>();
  const frames: { name: string }[] = [];
  const frame = (func: number): number => {
    let i = frameOf.get(func);
    if (i === undefined) {
      i = frames.length;
      frames.push({ name: functionName(p, func) });
      frameOf.set(func, i);
    }
    return i;
  };
  const samples: number[][] = [];
  const weights: number[] = [];
  for (const n of depthFirst(p)) {
    if (n === 0 || self[n]! <= 0) continue;
    samples.push(stackOf(p, n).map((a) => frame(p.func[a]!)));
    weights.push(self[n]!);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    name: title,
    exporter,
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [{ type: 'sampled', name: `${title} (fuel)`, unit: 'none', startValue: 0, endValue: total, samples, weights }],
  };
}
