// The JSON parser of the wasmflow AssemblyScript SDK (the filter node's, shared).
//
// A small JSON parser for the filter node, over UTF-8 bytes.
//
// It builds a tree whose every node remembers its byte span [start, end) in
// the text, so the node can copy an item out exactly as it came in (numbers
// keep every digit). Strict RFC 8259 grammar; errors carry the byte position.
// AssemblyScript has no exceptions: a failed parse returns null and leaves the
// message in Parser.error. Nesting is limited to MAX_DEPTH.

export const MAX_DEPTH: i32 = 1000;

export const KIND_NULL: i32 = 1;
export const KIND_FALSE: i32 = 2;
export const KIND_TRUE: i32 = 3;
export const KIND_NUMBER: i32 = 4;
export const KIND_STRING: i32 = 5;
export const KIND_ARRAY: i32 = 6;
export const KIND_OBJECT: i32 = 7;

// Shared, never-modified empty lists for scalars (objects and arrays get their own).
const NO_VALUES: JValue[] = [];
const NO_KEYS: string[] = [];

export class JValue {
  kind: i32;
  start: i32;
  end: i32;
  num: f64 = 0; // numbers
  str: string = ""; // strings, decoded
  elems: JValue[] = NO_VALUES; // arrays; for objects, the values
  keys: string[] = NO_KEYS; // objects: keys in document order, a repeated key keeps its last value

  constructor(kind: i32, start: i32) {
    this.kind = kind;
    this.start = start;
    this.end = start;
  }

  // get returns the member named key of an object, or null.
  get(key: string): JValue | null {
    if (this.kind != KIND_OBJECT) return null;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.elems[i];
    }
    return null;
  }
}

export class Parser {
  s: Uint8Array;
  p: i32 = 0;
  error: string = "";
  errorPos: i32 = 0;
  topKeep: string[] | null = null;
  // byte offset of each top-level member's value (filled when keep is given)
  topStarts: Map<string, i32> = new Map<string, i32>();
  // returned for a value that was skipped (not built)
  skipped: JValue = new JValue(KIND_NULL, 0);

  constructor(s: Uint8Array) {
    this.s = s;
  }

  // parseDocument parses the whole text: one value and nothing after it. When
  // keep is given, the text must be an object and only the members named in
  // keep are built; the others are validated and skipped without allocating.
  parseDocument(keep: string[] | null = null): JValue | null {
    this.topKeep = keep;
    const v = this.value(0, true);
    if (v === null) return null;
    this.ws();
    if (this.p != this.s.length) return this.fail("unexpected data after the document");
    return v;
  }

  fail(msg: string): JValue | null {
    if (this.error.length == 0) {
      this.error = msg;
      this.errorPos = this.p;
    }
    return null;
  }

  message(): string {
    return this.error + " at byte " + this.errorPos.toString();
  }

  ws(): void {
    const s = this.s;
    while (this.p < s.length) {
      const c = s[this.p];
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.p++;
    }
  }

  peek(): i32 {
    return this.p < this.s.length ? <i32>this.s[this.p] : -1;
  }

  // value parses one value; keep=false validates and skips it.
  value(depth: i32, keep: bool): JValue | null {
    this.ws();
    const c = this.peek();
    if (c < 0) return this.fail("unexpected end of input");
    if (c == 0x7b) return this.object(depth, keep); // {
    if (c == 0x5b) return this.array(depth, keep); // [
    if (c == 0x22) return this.string(keep);
    if (c == 0x74) return this.literal("true", KIND_TRUE, keep);
    if (c == 0x66) return this.literal("false", KIND_FALSE, keep);
    if (c == 0x6e) return this.literal("null", KIND_NULL, keep);
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number(keep);
    return this.fail("unexpected character");
  }

  object(depth: i32, keep: bool): JValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting too deep");
    const v = keep ? new JValue(KIND_OBJECT, this.p) : this.skipped;
    if (keep) {
      v.elems = [];
      v.keys = [];
    }
    const top = depth == 0 ? this.topKeep : null;
    this.p++;
    this.ws();
    if (this.peek() == 0x7d) {
      this.p++;
      v.end = this.p;
      return v;
    }
    for (;;) {
      this.ws();
      if (this.peek() != 0x22) return this.fail("expected a string");
      const k = this.string(keep);
      if (k === null) return null;
      this.ws();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.p++;
      const key = k.str;
      const keepValue = keep && (top === null || top.includes(key));
      if (top !== null) {
        this.ws();
        this.topStarts.set(key, this.p);
      }
      const e = this.value(depth + 1, keepValue);
      if (e === null) return null;
      if (!keepValue) {
        this.ws();
        const c = this.peek();
        if (c == 0x2c) {
          this.p++;
          continue;
        } else if (c == 0x7d) {
          this.p++;
          v.end = this.p;
          return v;
        }
        return this.fail("expected ',' or '}'");
      }
      let found = -1;
      for (let i = 0; i < v.keys.length; i++) {
        if (v.keys[i] == key) {
          found = i;
          break;
        }
      }
      if (found >= 0) {
        v.elems[found] = e;
      } else {
        v.keys.push(key);
        v.elems.push(e);
      }
      this.ws();
      const c = this.peek();
      if (c == 0x2c) {
        this.p++;
      } else if (c == 0x7d) {
        this.p++;
        v.end = this.p;
        return v;
      } else {
        return this.fail("expected ',' or '}'");
      }
    }
    return null; // not reached
  }

  array(depth: i32, keep: bool): JValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nesting too deep");
    const v = keep ? new JValue(KIND_ARRAY, this.p) : this.skipped;
    if (keep) v.elems = [];
    this.p++;
    this.ws();
    if (this.peek() == 0x5d) {
      this.p++;
      v.end = this.p;
      return v;
    }
    for (;;) {
      const e = this.value(depth + 1, keep);
      if (e === null) return null;
      if (keep) v.elems.push(e);
      this.ws();
      const c = this.peek();
      if (c == 0x2c) {
        this.p++;
      } else if (c == 0x5d) {
        this.p++;
        v.end = this.p;
        return v;
      } else {
        return this.fail("expected ',' or ']'");
      }
    }
    return null; // not reached
  }

  literal(word: string, kind: i32, keep: bool): JValue | null {
    const start = this.p;
    if (this.p + word.length > this.s.length) return this.fail("invalid literal");
    for (let i = 0; i < word.length; i++) {
      if (<i32>this.s[this.p + i] != word.charCodeAt(i)) return this.fail("invalid literal");
    }
    this.p += word.length;
    if (!keep) return this.skipped;
    const v = new JValue(kind, start);
    v.end = this.p;
    return v;
  }

  digits(): bool {
    const start = this.p;
    while (this.p < this.s.length && this.s[this.p] >= 0x30 && this.s[this.p] <= 0x39) this.p++;
    return this.p > start;
  }

  number(keep: bool): JValue | null {
    const start = this.p;
    if (this.peek() == 0x2d) this.p++;
    const c = this.peek();
    if (c == 0x30) {
      this.p++;
    } else if (c >= 0x31 && c <= 0x39) {
      this.digits();
    } else {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2e) {
      this.p++;
      if (!this.digits()) return this.fail("invalid number");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.p++;
      const sign = this.peek();
      if (sign == 0x2b || sign == 0x2d) this.p++;
      if (!this.digits()) return this.fail("invalid number");
    }
    if (!keep) return this.skipped;
    const v = new JValue(KIND_NUMBER, start);
    v.end = this.p;
    // the span is ASCII
    v.num = parseFloat(String.UTF8.decodeUnsafe(this.s.dataStart + <usize>start, <usize>(this.p - start)));
    return v;
  }

  hex4(): i32 {
    if (this.p + 4 > this.s.length) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>this.s[this.p + i];
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      v = (v << 4) | d;
    }
    this.p += 4;
    return v;
  }

  // string decodes the string at a '"'. Raw bytes are copied as UTF-8; escapes
  // become UTF-16 code units; a lone surrogate becomes U+FFFD, as in Go.
  string(keep: bool): JValue | null {
    const v = keep ? new JValue(KIND_STRING, this.p) : this.skipped;
    this.p++;
    let out = "";
    let run = this.p; // start of a run of plain bytes
    for (;;) {
      const c = this.peek();
      if (c < 0) return this.fail("unterminated string");
      if (c == 0x22) {
        this.p++;
        if (!keep) return v;
        out += String.UTF8.decodeUnsafe(this.s.dataStart + <usize>run, <usize>(this.p - 1 - run));
        v.end = this.p;
        v.str = out;
        return v;
      }
      if (c < 0x20) return this.fail("control character in string");
      if (c != 0x5c) {
        this.p++;
        continue;
      }
      if (keep) out += String.UTF8.decodeUnsafe(this.s.dataStart + <usize>run, <usize>(this.p - run));
      this.p++;
      const e = this.peek();
      if (e < 0) return this.fail("unterminated string");
      this.p++;
      let cp: i32 = -1;
      if (e == 0x22) cp = 0x22;
      else if (e == 0x5c) cp = 0x5c;
      else if (e == 0x2f) cp = 0x2f;
      else if (e == 0x62) cp = 0x08;
      else if (e == 0x66) cp = 0x0c;
      else if (e == 0x6e) cp = 0x0a;
      else if (e == 0x72) cp = 0x0d;
      else if (e == 0x74) cp = 0x09;
      else if (e == 0x75) {
        const hi = this.hex4();
        if (hi < 0) return this.fail("invalid \\u escape");
        cp = hi;
        if (hi >= 0xd800 && hi < 0xdc00) {
          const save = this.p;
          let lo = -1;
          if (this.p + 1 < this.s.length && this.s[this.p] == 0x5c && this.s[this.p + 1] == 0x75) {
            this.p += 2;
            lo = this.hex4();
          }
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
          } else {
            this.p = save;
            cp = 0xfffd;
          }
        } else if (hi >= 0xdc00 && hi < 0xe000) {
          cp = 0xfffd;
        }
      }
      if (cp < 0) {
        this.p -= 2;
        return this.fail("invalid escape in string");
      }
      if (keep) out += String.fromCodePoint(cp);
      run = this.p;
    }
    return null; // not reached
  }
}

// equal is JSON equality: same kind, numbers by value, strings by content,
// arrays element-wise, objects by key set and values.
export function equal(a: JValue, b: JValue): bool {
  if (a.kind != b.kind) return false;
  if (a.kind == KIND_NUMBER) return a.num == b.num;
  if (a.kind == KIND_STRING) return a.str == b.str;
  if (a.kind == KIND_ARRAY) {
    if (a.elems.length != b.elems.length) return false;
    for (let i = 0; i < a.elems.length; i++) {
      if (!equal(a.elems[i], b.elems[i])) return false;
    }
    return true;
  }
  if (a.kind == KIND_OBJECT) {
    if (a.keys.length != b.keys.length) return false;
    for (let i = 0; i < a.keys.length; i++) {
      const other = b.get(a.keys[i]);
      if (other === null || !equal(a.elems[i], other)) return false;
    }
    return true;
  }
  return true; // null, true, false
}

// compareStrings orders two strings by Unicode code point (as UTF-8 bytes
// would sort); UTF-16 code unit order differs for characters above U+FFFF.
export function compareStrings(a: string, b: string): i32 {
  const n = min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x != y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length == b.length ? 0 : a.length < b.length ? -1 : 1;
}

// ByteBuf is a growable byte buffer for the output document.
export class ByteBuf {
  buf: Uint8Array = new Uint8Array(1024);
  len: i32 = 0;

  grow(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    memory.copy(b.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = b;
  }

  bytes(src: Uint8Array, start: i32, end: i32): void {
    const n = end - start;
    this.grow(n);
    memory.copy(this.buf.dataStart + <usize>this.len, src.dataStart + <usize>start, <usize>n);
    this.len += n;
  }

  // ascii appends a string of ASCII characters.
  ascii(s: string): void {
    this.grow(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len + i] = <u8>s.charCodeAt(i);
    this.len += s.length;
  }

  // view returns the content without copying.
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
