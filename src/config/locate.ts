/**
 * Maps key paths of a TOML document to where they are written.
 *
 * @iarna/toml returns plain values without positions, so error messages would have no line
 * numbers. This scanner re-reads the (already successfully parsed) source and records, for
 * every key path, the position of the key and of its value. It understands table headers,
 * arrays of tables (paths get an index: `plugins.0.path`), dotted and quoted keys, inline
 * tables, arrays (each element gets an index) and all four string forms, so none of them
 * shift the positions of what follows. It never throws: on anything unexpected it skips to
 * the next line, since a wrong line number is better than no error report at all.
 */

export type PathSegment = string | number;

/** 1-based line and column (column counts UTF-16 code units, tabs count 1). */
export interface Pos {
  line: number;
  col: number;
}

export interface Loc {
  /** Where the key (or the `[table]` header) is written. */
  key: Pos;
  /** Where the value starts (absent for tables declared by a header or implied by a dotted key). */
  value?: Pos;
  /** Source text of a scalar value (numbers, booleans, dates), e.g. `200_000_000` or `3.0`. */
  raw?: string;
}

export class Locations {
  private readonly map = new Map<string, Loc>();

  static keyOf(path: readonly PathSegment[]): string {
    return path.map((s) => (typeof s === 'number' ? `#${s}` : `.${s}`)).join('\u0000');
  }

  /**
   * The key of `parent`'s child `segment`, from the parent's key: the scanner builds keys one
   * segment at a time, so the work per key path stays linear in its length, not quadratic.
   */
  static childKey(parentKey: string, segment: PathSegment): string {
    const s = typeof segment === 'number' ? `#${segment}` : `.${segment}`;
    return parentKey === '' ? s : `${parentKey}\u0000${s}`;
  }

  /** Records a location unless the path already has one (the first mention wins). */
  add(path: readonly PathSegment[], loc: Loc): void {
    this.addKey(Locations.keyOf(path), loc);
  }

  /** As add, by key (see childKey). */
  addKey(key: string, loc: Loc): void {
    if (!this.map.has(key)) this.map.set(key, loc);
  }

  getKey(key: string): Loc | undefined {
    return this.map.get(key);
  }

  get(path: readonly PathSegment[]): Loc | undefined {
    return this.map.get(Locations.keyOf(path));
  }

  /** The location of the path, or of its nearest ancestor that has one. */
  nearest(path: readonly PathSegment[]): Loc | undefined {
    for (let n = path.length; n > 0; n--) {
      const loc = this.get(path.slice(0, n));
      if (loc) return loc;
    }
    return undefined;
  }

  get size(): number {
    return this.map.size;
  }
}

const BARE_KEY = /[A-Za-z0-9_-]/;

/** Scans TOML source text; see the module comment. */
export function locate(src: string): Locations {
  return new Scanner(src).run();
}

class Scanner {
  private i = 0;
  private line = 1;
  private col = 1;
  private readonly out = new Locations();
  /** Key (Locations.keyOf) of the current table: its concrete path, with array-of-tables indices. */
  private table = '';
  /** How many `[[x]]` entries each concrete array-of-tables path has so far. */
  private readonly aotCount = new Map<string, number>();

  constructor(private readonly src: string) {
    // A byte-order mark is not part of the first line's columns.
    if (src.charCodeAt(0) === 0xfeff) this.i = 1;
  }

  run(): Locations {
    while (this.i < this.src.length) {
      const before = this.i;
      try {
        this.statement();
      } catch {
        this.skipLine();
      }
      if (this.i === before) this.advance();
    }
    return this.out;
  }

  // ---- character movement -------------------------------------------------------------

  private peek(off = 0): string {
    return this.src[this.i + off] ?? '';
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.i);
  }

  private pos(): Pos {
    return { line: this.line, col: this.col };
  }

  private advance(n = 1): void {
    for (let k = 0; k < n && this.i < this.src.length; k++) {
      if (this.src[this.i] === '\n') {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
      this.i++;
    }
  }

  private skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.advance();
  }

  private skipComment(): void {
    if (this.peek() !== '#') return;
    while (this.i < this.src.length && this.peek() !== '\n') this.advance();
  }

  /** Whitespace, newlines and comments (inside arrays, and between statements). */
  private skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance();
      else if (c === '#') this.skipComment();
      else return;
    }
  }

  private skipLine(): void {
    while (this.i < this.src.length && this.peek() !== '\n') this.advance();
    this.advance();
  }

  // ---- statements ---------------------------------------------------------------------

  private statement(): void {
    this.skipBlank();
    if (this.i >= this.src.length) return;
    if (this.peek() === '[') this.header();
    else this.keyValue(this.table);
    this.skipSpaces();
    this.skipComment();
  }

  private header(): void {
    const at = this.pos();
    const isArray = this.startsWith('[[');
    this.advance(isArray ? 2 : 1);
    this.skipSpaces();
    const keys = this.keyList();
    this.skipSpaces();
    this.advance(isArray ? 2 : 1);

    // Segments that name an array of tables refer to its latest entry.
    let concrete = '';
    keys.forEach((k, n) => {
      concrete = Locations.childKey(concrete, k.name);
      const last = n === keys.length - 1;
      if (last && isArray) {
        const count = this.aotCount.get(concrete) ?? 0;
        this.aotCount.set(concrete, count + 1);
        // The array itself is located at its first `[[x]]`.
        this.out.addKey(concrete, { key: at });
        concrete = Locations.childKey(concrete, count);
      } else if (this.aotCount.has(concrete)) {
        concrete = Locations.childKey(concrete, (this.aotCount.get(concrete) ?? 1) - 1);
      }
      if (!last) this.out.addKey(concrete, { key: k.pos });
    });
    this.out.addKey(concrete, { key: at });
    this.table = concrete;
  }

  /** `key = value`, where key may be dotted; records every prefix and the value. */
  private keyValue(base: string): void {
    const keys = this.keyList();
    if (keys.length === 0) throw new Error('no key');
    let path = base;
    for (const k of keys) {
      path = Locations.childKey(path, k.name);
      this.out.addKey(path, { key: k.pos });
    }
    this.skipSpaces();
    if (this.peek() !== '=') throw new Error('expected =');
    this.advance();
    this.skipSpaces();
    this.value(path, keys[keys.length - 1]!.pos);
  }

  private keyList(): { name: string; pos: Pos }[] {
    const keys: { name: string; pos: Pos }[] = [];
    for (;;) {
      this.skipSpaces();
      const pos = this.pos();
      const c = this.peek();
      let name: string;
      if (c === '"') name = this.basicString();
      else if (c === "'") name = this.literalString();
      else {
        const start = this.i;
        while (BARE_KEY.test(this.peek())) this.advance();
        if (this.i === start) break;
        name = this.src.slice(start, this.i);
      }
      keys.push({ name, pos });
      this.skipSpaces();
      if (this.peek() !== '.') break;
      this.advance();
    }
    return keys;
  }

  // ---- values -------------------------------------------------------------------------

  private value(path: string, keyPos: Pos): void {
    const at = this.pos();
    const c = this.peek();
    const loc = this.out.getKey(path);
    // The key was recorded by keyValue; attach the value position to that same record.
    const record = (raw?: string): void => {
      if (loc && loc.key === keyPos) {
        loc.value = at;
        if (raw !== undefined) loc.raw = raw;
      } else {
        this.out.addKey(path, raw === undefined ? { key: keyPos, value: at } : { key: keyPos, value: at, raw });
      }
    };
    if (c === '"' || c === "'") {
      record();
      if (this.startsWith('"""')) this.multiline('"""');
      else if (this.startsWith("'''")) this.multiline("'''");
      else if (c === '"') this.basicString();
      else this.literalString();
    } else if (c === '[') {
      record();
      this.array(path);
    } else if (c === '{') {
      record();
      this.inlineTable(path);
    } else {
      record(this.scalar());
    }
  }

  private array(path: string): void {
    this.advance(); // [
    let index = 0;
    for (;;) {
      this.skipBlank();
      if (this.peek() === ']' || this.i >= this.src.length) break;
      const elem = Locations.childKey(path, index);
      const at = this.pos();
      this.out.addKey(elem, { key: at });
      this.value(elem, this.out.getKey(elem)!.key);
      index++;
      this.skipBlank();
      if (this.peek() === ',') this.advance();
      else if (this.peek() !== ']') throw new Error('bad array');
    }
    this.advance(); // ]
  }

  private inlineTable(path: string): void {
    this.advance(); // {
    for (;;) {
      this.skipBlank();
      if (this.peek() === '}' || this.i >= this.src.length) break;
      this.keyValue(path);
      this.skipBlank();
      if (this.peek() === ',') this.advance();
      else if (this.peek() !== '}') throw new Error('bad inline table');
    }
    this.advance(); // }
  }

  /** Numbers, booleans, dates and times: everything up to a delimiter. */
  private scalar(): string {
    const start = this.i;
    const stop = (ch: string): boolean =>
      ch === '' || ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === ',' || ch === ']' || ch === '}' || ch === '#';
    while (!stop(this.peek())) this.advance();
    // A date and a time may be separated by one space (`1979-05-27 07:32:00`).
    if (/^\d{4}-\d{2}-\d{2}$/.test(this.src.slice(start, this.i)) && this.peek() === ' ' && /\d/.test(this.peek(1))) {
      this.advance();
      while (!stop(this.peek())) this.advance();
    }
    return this.src.slice(start, this.i);
  }

  // ---- strings ------------------------------------------------------------------------

  /** A "basic string": returns its decoded value (used for quoted keys). */
  private basicString(): string {
    this.advance(); // "
    let out = '';
    while (this.i < this.src.length) {
      const c = this.peek();
      if (c === '"') {
        this.advance();
        return out;
      }
      if (c === '\n') return out;
      if (c === '\\') {
        const e = this.peek(1);
        const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
        if (e in simple) {
          out += simple[e];
          this.advance(2);
        } else if (e === 'u' || e === 'U') {
          const len = e === 'u' ? 4 : 8;
          const hex = this.src.slice(this.i + 2, this.i + 2 + len);
          const code = Number.parseInt(hex, 16);
          out += Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : '';
          this.advance(2 + len);
        } else {
          this.advance(2);
        }
        continue;
      }
      out += c;
      this.advance();
    }
    return out;
  }

  private literalString(): string {
    this.advance(); // '
    const start = this.i;
    while (this.i < this.src.length && this.peek() !== "'" && this.peek() !== '\n') this.advance();
    const s = this.src.slice(start, this.i);
    if (this.peek() === "'") this.advance();
    return s;
  }

  /** `"""..."""` or `'''...'''`; up to two extra quotes may end the content. */
  private multiline(delim: '"""' | "'''"): void {
    this.advance(3);
    while (this.i < this.src.length) {
      if (delim === '"""' && this.peek() === '\\') {
        this.advance(2);
        continue;
      }
      if (this.startsWith(delim)) {
        this.advance(3);
        while (this.peek() === delim[0]) this.advance();
        return;
      }
      this.advance();
    }
  }
}
