/**
 * A cheap pass over config text, before the TOML parser sees it, that finds nesting deeper than
 * any real config needs. The parser, the key locator and validation all walk the nesting, some
 * recursively: thousands of levels in a small file would overflow the stack or take time
 * quadratic in the depth. This pass is linear, never recurses, and never throws; it only counts
 * levels and leaves every other judgement about the text to the parser.
 *
 * The depth of a value is the number of tables and arrays around it: the `[table.header]`
 * segments, the dotted key segments, and the arrays and inline tables it sits in.
 */

/** More levels than this is refused; bext's own keys go 4 deep, plugin config rarely 10. */
export const MAX_NESTING = 100;

export interface TooDeep {
  /** 1-based line and column of the first key or bracket past the limit. */
  line: number;
  col: number;
  depth: number;
}

interface Frame {
  kind: '[' | '{';
  /** Depth of the element that contains this array / inline table. */
  outer: number;
  /** Depth its elements (array) or keys (inline table) start from. */
  depth: number;
}

/** The first place where nesting exceeds `max`, or null when the text stays within it. */
export function findTooDeep(src: string, max = MAX_NESTING): TooDeep | null {
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = 0;
  let tableDepth = 0;
  const n = src.length;
  let found: TooDeep | null = null;

  const over = (depth: number, at: number): boolean => {
    if (depth <= max) return false;
    found = { line, col: at - lineStart + 1, depth };
    return true;
  };
  const newline = (): void => {
    line++;
    lineStart = i + 1;
  };
  const skipSpaces = (): void => {
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++;
  };
  const skipToLineEnd = (): void => {
    while (i < n && src[i] !== '\n') i++;
  };
  /** Skips a string starting at i (any of the four forms); stops at the end of the text. */
  const skipString = (): void => {
    const q = src[i]!;
    if (src.startsWith(q.repeat(3), i)) {
      i += 3;
      while (i < n && !src.startsWith(q.repeat(3), i)) {
        if (q === '"' && src[i] === '\\') i++;
        else if (src[i] === '\n') newline();
        i++;
      }
      i += 3;
      while (i < n && src[i] === q) i++;
      return;
    }
    i++;
    while (i < n && src[i] !== q && src[i] !== '\n') {
      if (q === '"' && src[i] === '\\') i++;
      i++;
    }
    if (src[i] === q) i++;
  };
  /** Reads a (dotted) key; returns its segment count, 0 when there is no key here. */
  const readKey = (): number => {
    let segments = 0;
    for (;;) {
      skipSpaces();
      const c = src[i];
      if (c === '"' || c === "'") skipString();
      else {
        const start = i;
        while (i < n && /[A-Za-z0-9_-]/.test(src[i]!)) i++;
        if (i === start) return segments;
      }
      segments++;
      skipSpaces();
      if (src[i] !== '.') return segments;
      i++;
    }
  };
  /** Scans one value whose own depth is `base`, up to the end of its line (or its last bracket). */
  const scanValue = (base: number): void => {
    const stack: Frame[] = [];
    let elem = base;
    let expectKey = false;
    while (i < n) {
      const c = src[i]!;
      const top = stack[stack.length - 1];
      if (expectKey && top?.kind === '{') {
        expectKey = false;
        skipSpaces();
        const at = i;
        const segments = readKey();
        if (segments > 0) {
          elem = top.depth + segments;
          if (over(elem, at)) return;
        }
        continue;
      }
      if (c === '"' || c === "'") {
        skipString();
        continue;
      }
      if (c === '#') {
        skipToLineEnd();
        continue;
      }
      if (c === '\n') {
        if (stack.length === 0) return;
        newline();
      } else if (c === '[') {
        // An array's elements sit one level below the array.
        const frame: Frame = { kind: c, outer: elem, depth: elem + 1 };
        if (over(frame.depth, i)) return;
        stack.push(frame);
        elem = frame.depth;
      } else if (c === '{') {
        // An inline table is the value itself; its keys add their segments.
        stack.push({ kind: c, outer: elem, depth: elem });
        expectKey = true;
      } else if (c === ']' || c === '}') {
        const frame = stack.pop();
        if (frame === undefined) return;
        elem = frame.outer;
      } else if (c === ',' && top !== undefined) {
        elem = top.depth;
        expectKey = top.kind === '{';
      }
      i++;
    }
  };

  while (i < n && found === null) {
    const c = src[i]!;
    if (c === '\n') {
      newline();
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#') {
      skipToLineEnd();
    } else if (c === '[') {
      const at = i;
      i += src[i + 1] === '[' ? 2 : 1;
      tableDepth = readKey();
      if (over(tableDepth, at)) break;
      skipToLineEnd();
    } else {
      const at = i;
      const segments = readKey();
      if (segments === 0) {
        // Not a key: the parser will say what is wrong; move on so this pass stays linear.
        skipToLineEnd();
        continue;
      }
      if (over(tableDepth + segments, at)) break;
      skipSpaces();
      if (src[i] !== '=') {
        skipToLineEnd();
        continue;
      }
      i++;
      scanValue(tableDepth + segments);
    }
  }
  return found;
}
