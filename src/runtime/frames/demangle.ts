/**
 * Readable names for trap frames: Rust (legacy `_ZN…E` and v0 `_R…`) and C++ (Itanium `_Z…`)
 * symbols as wasm name sections carry them. A focused demangler: it covers what rustc and clang
 * emit for ordinary code (paths, generics, impls, closures, the common C++ types, templates and
 * substitutions). A name it cannot read whole is returned unchanged, never half-demangled.
 */

/** The demangled name, or `name` itself when it is not mangled or not understood. */
export function demangle(name: string): string {
  try {
    if (name.startsWith('_ZN') || name.startsWith('__ZN')) {
      const rust = rustLegacy(name.startsWith('__') ? name.slice(1) : name);
      if (rust !== undefined) return rust;
    }
    if (name.startsWith('_R') || name.startsWith('__R')) {
      const v0 = rustV0(name.startsWith('__') ? name.slice(3) : name.slice(2));
      if (v0 !== undefined) return v0;
    }
    if (name.startsWith('_Z')) {
      const cxx = itanium(name);
      if (cxx !== undefined) return cxx;
    }
  } catch {
    // A malformed symbol is shown as it is.
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// Rust legacy: _ZN <len ident>* E, the last ident being the hash `h<16 hex>`.

const RUST_ESCAPES: Record<string, string> = { SP: '@', BP: '*', RF: '&', LT: '<', GT: '>', LP: '(', RP: ')', C: ',' };

function rustIdent(raw: string): string | undefined {
  let s = raw.startsWith('_$') ? raw.slice(1) : raw;
  let out = '';
  while (s.length > 0) {
    if (s.startsWith('..')) {
      out += '::';
      s = s.slice(2);
    } else if (s[0] === '$') {
      const end = s.indexOf('$', 1);
      if (end < 0) return undefined;
      const code = s.slice(1, end);
      const known = RUST_ESCAPES[code];
      if (known !== undefined) out += known;
      else if (/^u[0-9a-f]+$/.test(code)) out += String.fromCodePoint(parseInt(code.slice(1), 16));
      else return undefined;
      s = s.slice(end + 1);
    } else if (s[0] === '.') {
      out += '.';
      s = s.slice(1);
    } else {
      const m = /^[^$.]+/.exec(s)!;
      out += m[0];
      s = s.slice(m[0].length);
    }
  }
  return out;
}

function rustLegacy(name: string): string | undefined {
  let i = 3;
  const parts: string[] = [];
  while (i < name.length && name[i] !== 'E') {
    const m = /^\d+/.exec(name.slice(i));
    if (!m) return undefined;
    const len = Number(m[0]);
    i += m[0].length;
    if (len === 0 || i + len > name.length) return undefined;
    parts.push(name.slice(i, i + len));
    i += len;
  }
  if (name[i] !== 'E' || parts.length === 0) return undefined;
  // Anything after the E is an LLVM suffix (`.llvm.123`), not part of the name.
  const last = parts[parts.length - 1]!;
  const rest = name.slice(i + 1);
  if (/^h[0-9a-f]{16}$/.test(last)) parts.pop();
  // Without the hash, only a name that ends at the E reads the same as Rust; C++ goes on with
  // parameter types.
  else if (rest !== '' && !rest.startsWith('.')) return undefined;
  const idents = parts.map(rustIdent);
  if (idents.some((p) => p === undefined)) return undefined;
  return idents.join('::');
}

// ---------------------------------------------------------------------------------------------
// Rust v0 (RFC 2603).

class V0Error extends Error {}

const V0_BASIC: Record<string, string> = {
  a: 'i8', b: 'bool', c: 'char', d: 'f64', e: 'str', f: 'f32', h: 'u8', i: 'isize', j: 'usize', l: 'i32',
  m: 'u32', n: 'i128', o: 'u128', s: 'i16', t: 'u16', u: '()', v: '...', x: 'i64', y: 'u64', z: '!', p: '_',
};

function rustV0(sym: string): string | undefined {
  // Optional encoding version digits, then the path; an instantiating crate may follow.
  let pos = 0;
  while (pos < sym.length && sym[pos]! >= '0' && sym[pos]! <= '9') pos++;
  const p = new V0Parser(sym, pos);
  const out = p.path(false);
  return out;
}

class V0Parser {
  private depth = 0;
  constructor(
    private readonly s: string,
    private pos: number,
  ) {}

  private peek(): string {
    return this.s[this.pos] ?? '';
  }
  private next(): string {
    const c = this.s[this.pos];
    if (c === undefined) throw new V0Error('end');
    this.pos++;
    return c;
  }
  private eat(c: string): boolean {
    if (this.s[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }
  /** base-62 number terminated by `_` ("_" alone is 0). */
  private base62(): number {
    if (this.eat('_')) return 0;
    let n = 0;
    for (;;) {
      const c = this.next();
      if (c === '_') return n + 1;
      const d = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 87 : c >= 'A' && c <= 'Z' ? c.charCodeAt(0) - 29 : -1;
      if (d < 0) throw new V0Error('base62');
      n = n * 62 + d;
    }
  }
  private disambiguator(): number {
    return this.eat('s') ? this.base62() + 1 : 0;
  }
  private ident(): string {
    const punycode = this.eat('u');
    const m = /^\d+/.exec(this.s.slice(this.pos));
    if (!m) throw new V0Error('ident');
    this.pos += m[0].length;
    const len = Number(m[0]);
    this.eat('_');
    const id = this.s.slice(this.pos, this.pos + len);
    if (id.length !== len) throw new V0Error('ident length');
    this.pos += len;
    if (punycode) throw new V0Error('punycode identifiers are not supported');
    return id;
  }
  /** Runs `f` at the position a back-reference points to, then comes back. */
  private backref<T>(f: () => T): T {
    const start = this.pos - 1;
    const target = this.base62();
    if (target >= start) throw new V0Error('forward backref');
    if (++this.depth > 64) throw new V0Error('backref depth');
    const save = this.pos;
    this.pos = target; // offsets count from after the `_R`, where this string starts
    try {
      return f();
    } finally {
      this.pos = save;
      this.depth--;
    }
  }

  path(inType: boolean): string {
    const tag = this.next();
    switch (tag) {
      case 'C': {
        this.disambiguator();
        return this.ident();
      }
      case 'N': {
        const ns = this.next();
        const parent = this.path(inType);
        const dis = this.disambiguator();
        const name = this.ident();
        if (ns === 'C') return `${parent}::{closure${name ? `:${name}` : ''}#${dis}}`;
        if (ns === 'S') return name ? `${parent}::${name}` : `${parent}::{shim}`;
        if (ns >= 'A' && ns <= 'Z') return `${parent}::{${ns}${name ? `:${name}` : ''}}`;
        return `${parent}::${name}`;
      }
      case 'M': {
        this.disambiguator();
        this.path(inType); // impl path (crate and module), not shown
        return `<${this.type()}>`;
      }
      case 'X': {
        this.disambiguator();
        this.path(inType);
        const self = this.type();
        return `<${self} as ${this.path(true)}>`;
      }
      case 'Y': {
        const self = this.type();
        return `<${self} as ${this.path(true)}>`;
      }
      case 'I': {
        const base = this.path(inType);
        const args: string[] = [];
        while (!this.eat('E')) args.push(this.genericArg());
        return `${base}${inType ? '' : '::'}<${args.join(', ')}>`;
      }
      case 'B':
        return this.backref(() => this.path(inType));
      default:
        throw new V0Error(`path tag ${tag}`);
    }
  }

  private genericArg(): string {
    if (this.eat('L')) {
      this.base62();
      return "'_";
    }
    if (this.eat('K')) return this.constValue();
    return this.type();
  }

  private constValue(): string {
    if (this.eat('p')) return '_';
    if (this.eat('B')) return this.backref(() => this.constValue());
    const t = this.next();
    let neg = false;
    if (t !== 'b' && t !== 'c' && !V0_BASIC[t]) throw new V0Error('const type');
    if (this.eat('n')) neg = true;
    let hex = '';
    while (this.peek() !== '_') hex += this.next();
    this.next();
    const v = hex === '' ? 0n : BigInt(`0x${hex}`);
    if (t === 'b') return v === 0n ? 'false' : 'true';
    if (t === 'c') return `'${String.fromCodePoint(Number(v))}'`;
    return `${neg ? '-' : ''}${v}`;
  }

  type(): string {
    const c = this.peek();
    const basic = V0_BASIC[c];
    if (basic !== undefined) {
      this.pos++;
      return basic;
    }
    switch (c) {
      case 'R':
      case 'Q': {
        this.pos++;
        if (this.eat('L')) this.base62();
        return `&${c === 'Q' ? 'mut ' : ''}${this.type()}`;
      }
      case 'P':
      case 'O':
        this.pos++;
        return `*${c === 'O' ? 'mut' : 'const'} ${this.type()}`;
      case 'A': {
        this.pos++;
        const t = this.type();
        this.next(); // K
        return `[${t}; ${this.constValue()}]`;
      }
      case 'S':
        this.pos++;
        return `[${this.type()}]`;
      case 'T': {
        this.pos++;
        const ts: string[] = [];
        while (!this.eat('E')) ts.push(this.type());
        return ts.length === 1 ? `(${ts[0]},)` : `(${ts.join(', ')})`;
      }
      case 'F': {
        this.pos++;
        if (this.eat('G')) this.base62();
        const unsafe = this.eat('U');
        let abi = '';
        if (this.eat('K')) abi = this.eat('C') ? 'extern "C" ' : `extern "${this.ident().replace(/_/g, '-')}" `;
        const args: string[] = [];
        while (!this.eat('E')) args.push(this.type());
        const ret = this.type();
        return `${unsafe ? 'unsafe ' : ''}${abi}fn(${args.join(', ')})${ret === '()' ? '' : ` -> ${ret}`}`;
      }
      case 'D': {
        this.pos++;
        if (this.eat('G')) this.base62();
        const traits: string[] = [];
        while (!this.eat('E')) {
          let t = this.path(true);
          while (this.eat('p')) t += `<${this.ident()} = ${this.type()}>`;
          traits.push(t);
        }
        this.next(); // lifetime L
        this.base62();
        return `dyn ${traits.join(' + ')}`;
      }
      case 'B':
        this.pos++;
        return this.backref(() => this.type());
      default:
        return this.path(true);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// C++ Itanium: functions and data in (nested) names, the common builtin and compound types,
// templates, and substitutions.

class CxxError extends Error {}

const CXX_BUILTIN: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short', t: 'unsigned short',
  i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long', y: 'unsigned long long', n: '__int128',
  o: 'unsigned __int128', f: 'float', d: 'double', e: 'long double', g: '__float128', z: '...',
};

const CXX_STD_SUBS: Record<string, string> = {
  a: 'std::allocator', b: 'std::basic_string', s: 'std::string', i: 'std::istream', o: 'std::ostream', d: 'std::iostream',
};

const CXX_OPERATORS: Record<string, string> = {
  nw: 'new', na: 'new[]', dl: 'delete', da: 'delete[]', ps: '+', ng: '-', ad: '&', de: '*', co: '~', pl: '+', mi: '-',
  ml: '*', dv: '/', rm: '%', an: '&', or: '|', eo: '^', aS: '=', pL: '+=', mI: '-=', mL: '*=', dV: '/=', rM: '%=',
  aN: '&=', oR: '|=', eO: '^=', ls: '<<', rs: '>>', lS: '<<=', rS: '>>=', eq: '==', ne: '!=', lt: '<', gt: '>',
  le: '<=', ge: '>=', ss: '<=>', nt: '!', aa: '&&', oo: '||', pp: '++', mm: '--', cm: ',', pm: '->*', pt: '->',
  cl: '()', ix: '[]',
};

function itanium(sym: string): string | undefined {
  const p = new CxxParser(sym);
  const out = p.encoding();
  // Clone suffixes (`.cold`, `.llvm.123`) are not part of the name.
  return out;
}

class CxxParser {
  private pos = 2;
  private subs: string[] = [];
  private templateArgs: string[] = [];
  constructor(private readonly s: string) {}

  private peek(n = 0): string {
    return this.s[this.pos + n] ?? '';
  }
  private eat(t: string): boolean {
    if (this.s.startsWith(t, this.pos)) {
      this.pos += t.length;
      return true;
    }
    return false;
  }
  private fail(what: string): never {
    throw new CxxError(what);
  }
  private number(): number {
    const m = /^\d+/.exec(this.s.slice(this.pos));
    if (!m) this.fail('number');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  encoding(): string {
    const { name, templated, cv } = this.name();
    if (this.pos >= this.s.length || this.peek() === '.') return name;
    // A template function's encoding starts with its return type.
    if (templated) this.type();
    const params: string[] = [];
    while (this.pos < this.s.length && this.peek() !== '.' && this.peek() !== 'E') params.push(this.type());
    if (this.pos < this.s.length && this.peek() !== '.') this.fail('trailing');
    const list = params.length === 1 && params[0] === 'void' ? '' : params.join(', ');
    return `${name}(${list})${cv ?? ''}`;
  }

  private name(): { name: string; templated: boolean; cv?: string } {
    if (this.eat('N')) return this.nested();
    if (this.eat('Z')) {
      const outer = this.encoding();
      if (!this.eat('E')) this.fail('local name');
      if (this.eat('s')) return { name: `${outer}::string literal`, templated: false };
      const inner = this.name();
      if (this.eat('_')) this.number();
      return { name: `${outer}::${inner.name}`, templated: inner.templated };
    }
    let n: string;
    if (this.peek() === 'S' && this.peek(1) === 't') {
      this.pos += 2;
      n = `std::${this.unqualified(undefined)}`;
      this.subs.push(n);
    } else if (this.peek() === 'S') {
      n = this.substitution();
    } else {
      n = this.unqualified(undefined);
      if (this.peek() === 'I') this.subs.push(n);
    }
    if (this.peek() === 'I') {
      n += this.templateArgList();
      this.subs.push(n);
      return { name: n, templated: true };
    }
    return { name: n, templated: false };
  }

  /** A nested name; `cv` holds a member function's qualifiers (shown after its parameters). */
  private nested(): { name: string; templated: boolean; cv: string } {
    let cv = '';
    while ('rVK'.includes(this.peek()) && this.peek() !== '') {
      const q = this.s[this.pos++];
      cv += q === 'K' ? ' const' : q === 'V' ? ' volatile' : ' restrict';
    }
    // A ref-qualifier (& or &&) is accepted and not shown.
    if (!this.eat('R')) this.eat('O');
    let prefix: string | undefined;
    let templated = false;
    let last = '';
    while (!this.eat('E')) {
      templated = false;
      if (this.peek() === 'S' && this.peek(1) !== 't') {
        prefix = this.substitution();
        continue;
      }
      if (this.eat('St')) {
        prefix = 'std';
        continue;
      }
      if (this.peek() === 'I') {
        if (prefix === undefined) this.fail('template args without a name');
        prefix += this.templateArgList();
        templated = true;
        this.subs.push(prefix);
        continue;
      }
      if (this.peek() === 'T') {
        prefix = this.templateParam();
        this.subs.push(prefix);
        continue;
      }
      if (this.pos >= this.s.length) this.fail('unterminated nested name');
      last = this.unqualified(last);
      prefix = prefix === undefined ? last : `${prefix}::${last}`;
      if (this.peek() !== 'E') this.subs.push(prefix);
    }
    if (prefix === undefined) this.fail('empty nested name');
    return { name: prefix, templated, cv };
  }

  private unqualified(enclosing: string | undefined): string {
    const c = this.peek();
    if (c >= '0' && c <= '9') {
      const len = this.number();
      const id = this.s.slice(this.pos, this.pos + len);
      if (id.length !== len) this.fail('identifier');
      this.pos += len;
      return id.startsWith('_GLOBAL__N') ? '(anonymous namespace)' : id;
    }
    if (c === 'C' && '1235'.includes(this.peek(1))) {
      this.pos += 2;
      return baseName(enclosing);
    }
    if (c === 'D' && '0125'.includes(this.peek(1))) {
      this.pos += 2;
      return `~${baseName(enclosing)}`;
    }
    if (c === 'U' && this.peek(1) === 'l') {
      this.pos += 2;
      const params: string[] = [];
      while (!this.eat('E')) params.push(this.type());
      const n = this.peek() === '_' ? 0 : this.number() + 1;
      this.eat('_');
      return `{lambda(${params.length === 1 && params[0] === 'void' ? '' : params.join(', ')})#${n + 1}}`;
    }
    if (c === 'c' && this.peek(1) === 'v') {
      this.pos += 2;
      return `operator ${this.type()}`;
    }
    const op = CXX_OPERATORS[this.s.slice(this.pos, this.pos + 2)];
    if (op !== undefined) {
      this.pos += 2;
      return `operator${/^[a-z]/.test(op) ? ' ' : ''}${op}`;
    }
    if (c === 'L') {
      this.pos++;
      return this.unqualified(enclosing);
    }
    return this.fail(`unqualified name at ${this.pos}`);
  }

  private substitution(): string {
    if (!this.eat('S')) this.fail('substitution');
    const c = this.peek();
    const std = CXX_STD_SUBS[c];
    if (std !== undefined) {
      this.pos++;
      return std;
    }
    let idx = 0;
    if (c !== '_') {
      const m = /^[0-9A-Z]+/.exec(this.s.slice(this.pos));
      if (!m) this.fail('substitution');
      this.pos += m[0].length;
      idx = parseInt(m[0], 36) + 1;
    }
    if (!this.eat('_')) this.fail('substitution end');
    const sub = this.subs[idx];
    if (sub === undefined) this.fail('substitution out of range');
    return sub;
  }

  private templateParam(): string {
    this.eat('T');
    let idx = 0;
    if (this.peek() !== '_') idx = this.number() + 1;
    if (!this.eat('_')) this.fail('template param');
    return this.templateArgs[idx] ?? `T${idx}`;
  }

  private templateArgList(): string {
    if (!this.eat('I')) this.fail('template args');
    const args: string[] = [];
    while (!this.eat('E')) {
      if (this.eat('L')) {
        args.push(this.literal());
      } else if (this.eat('X')) {
        this.fail('template expressions are not supported');
      } else if (this.eat('J')) {
        const pack: string[] = [];
        while (!this.eat('E')) pack.push(this.type());
        args.push(pack.join(', '));
      } else args.push(this.type());
    }
    this.templateArgs = args;
    const list = args.join(', ');
    return `<${list}${list.endsWith('>') ? ' ' : ''}>`;
  }

  private literal(): string {
    if (this.eat('_Z')) {
      const n = this.encoding();
      this.eat('E');
      return n;
    }
    const t = this.type();
    const neg = this.eat('n');
    const m = /^[0-9a-f]*/.exec(this.s.slice(this.pos))!;
    this.pos += m[0].length;
    if (!this.eat('E')) this.fail('literal');
    if (t === 'bool') return m[0] === '0' ? 'false' : 'true';
    const v = `${neg ? '-' : ''}${m[0]}`;
    return t === 'int' ? v : `(${t})${v}`;
  }

  type(): string {
    const c = this.peek();
    const builtin = CXX_BUILTIN[c];
    if (builtin !== undefined) {
      this.pos++;
      return builtin;
    }
    let t: string;
    switch (c) {
      case 'P':
        this.pos++;
        t = `${this.type()}*`;
        break;
      case 'R':
        this.pos++;
        t = `${this.type()}&`;
        break;
      case 'O':
        this.pos++;
        t = `${this.type()}&&`;
        break;
      case 'K':
        this.pos++;
        t = `${this.type()} const`;
        break;
      case 'V':
        this.pos++;
        t = `${this.type()} volatile`;
        break;
      case 'T':
        t = this.templateParam();
        if (this.peek() === 'I') t += this.templateArgList();
        break;
      case 'S':
        if (this.peek(1) === 't') {
          this.pos += 2;
          t = `std::${this.unqualified(undefined)}`;
          if (this.peek() === 'I') {
            this.subs.push(t);
            t += this.templateArgList();
          }
          break;
        }
        t = this.substitution();
        if (this.peek() === 'I') {
          t += this.templateArgList();
          break;
        }
        return t; // a substitution is not added again
      case 'N':
        this.pos++;
        return this.pushed(this.nested().name);
      case 'F': {
        this.pos++;
        this.eat('Y');
        const ret = this.type();
        const params: string[] = [];
        while (!this.eat('E')) {
          if (this.eat('R') || this.eat('O')) continue;
          params.push(this.type());
        }
        t = `${ret} (${params.length === 1 && params[0] === 'void' ? '' : params.join(', ')})`;
        break;
      }
      case 'A': {
        this.pos++;
        const n = this.peek() === '_' ? '' : String(this.number());
        if (!this.eat('_')) this.fail('array');
        t = `${this.type()} [${n}]`;
        break;
      }
      case 'D': {
        const d = this.peek(1);
        const map: Record<string, string> = { n: 'decltype(nullptr)', i: 'char32_t', s: 'char16_t', u: 'char8_t', a: 'auto', c: 'decltype(auto)', f: 'decimal32', d: 'decimal64', h: 'half' };
        if (map[d] !== undefined) {
          this.pos += 2;
          return map[d]!;
        }
        if (d === 'p') {
          this.pos += 2;
          t = `${this.type()}...`;
          break;
        }
        return this.fail('D type');
      }
      default:
        if ((c >= '0' && c <= '9') || c === 'Z') {
          t = c === 'Z' ? this.name().name : this.unqualified(undefined);
          if (this.peek() === 'I') {
            this.subs.push(t);
            t += this.templateArgList();
          }
          break;
        }
        return this.fail(`type ${c}`);
    }
    return this.pushed(t);
  }

  private pushed(t: string): string {
    this.subs.push(t);
    return t;
  }
}

/** The class name a constructor or destructor is named after (its template arguments dropped). */
function baseName(enclosing: string | undefined): string {
  if (!enclosing) throw new CxxError('constructor without a class');
  const i = enclosing.indexOf('<');
  return i < 0 ? enclosing : enclosing.slice(0, i);
}
