/**
 * The worker's side of a fuel profile: a profiling build (docs/fuel.md, "Profiling builds")
 * reports `bext_fuel` at every function entry and exit, and this collector turns those reports
 * into a call tree. A node is one call path (root → … → function); its inclusive fuel is the sum,
 * over its calls, of fuel at entry minus fuel at exit. Both readings are the exact counter the
 * budget uses, so the tree's total is the call's fuel used, and a node's self fuel (inclusive
 * minus its children's) is exactly what its own operators and entry cost.
 */

/**
 * One profiled call (or several merged), as plain arrays so it crosses postMessage cheaply.
 * Node 0 is the host (function -1); every other node's parent has a lower index.
 */
export interface CallProfile {
  /** Guest function index of each node (-1 for the root). */
  func: number[];
  parent: number[];
  /** Inclusive fuel of each node. The root's is the whole call's. */
  total: number[];
  /** Times each node was entered. */
  calls: number[];
  /** Display name of every function in the tree (filled on the main thread). */
  names: Record<number, string>;
  /** The call trapped or ran out of fuel: frames still open were closed at the fuel the trap left. */
  partial: boolean;
  /** Number of hook calls merged into this profile. */
  hookCalls: number;
}

export class ProfileCollector {
  private func: number[] = [];
  private parent: number[] = [];
  private total: number[] = [];
  private calls: number[] = [];
  private children: Map<number, number>[] = [];
  /** Open frames: their node and the fuel at their entry. */
  private readonly stack: number[] = [];
  private readonly entryFuel: number[] = [];
  private cur = 0;

  constructor() {
    this.reset();
  }

  /** Forgets everything collected (called before each profiled hook call). */
  reset(): void {
    this.func = [-1];
    this.parent = [-1];
    this.total = [0];
    this.calls = [0];
    this.children = [new Map()];
    this.stack.length = 0;
    this.entryFuel.length = 0;
    this.cur = 0;
  }

  // Arrow properties: the profiling build calls these through a table, unbound.
  readonly enter = (func: number, fuel: number): void => {
    const kids = this.children[this.cur]!;
    let node = kids.get(func);
    if (node === undefined) {
      node = this.func.length;
      this.func.push(func);
      this.parent.push(this.cur);
      this.total.push(0);
      this.calls.push(0);
      this.children.push(new Map());
      kids.set(func, node);
    }
    this.calls[node]! += 1;
    this.stack.push(this.cur);
    this.entryFuel.push(fuel);
    this.cur = node;
  };

  readonly exit = (func: number, fuel: number): void => {
    // A frame the host abandoned (a guest call made from inside a host import that trapped and
    // was caught there) never reports its exit: close it along with this one.
    if (this.func[this.cur] !== func && !this.isOpen(func)) return;
    while (this.stack.length > 0) {
      const node = this.cur;
      this.close(fuel);
      if (this.func[node] === func) return;
    }
  };

  private isOpen(func: number): boolean {
    for (let n = this.cur; n > 0; n = this.parent[n]!) if (this.func[n] === func) return true;
    return false;
  }

  private close(fuel: number): void {
    this.total[this.cur]! += this.entryFuel.pop()! - fuel;
    this.cur = this.stack.pop()!;
  }

  /**
   * The profile of the call that just ended. `remaining` is `bext_fuel` after it: frames still open
   * (the call trapped or ran out of fuel) are closed there, which is the fuel the host reports.
   */
  finish(remaining: number): CallProfile {
    const partial = this.stack.length > 0;
    while (this.stack.length > 0) this.close(remaining);
    let root = 0;
    for (let n = 1; n < this.func.length; n++) if (this.parent[n] === 0) root += this.total[n]!;
    this.total[0] = root;
    return { func: this.func, parent: this.parent, total: this.total, calls: this.calls, names: {}, partial, hookCalls: 1 };
  }
}
