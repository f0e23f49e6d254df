// wasmflow guest SDK for AssemblyScript: a node built as an Extism plugin
// (manifest "abi": "extism-v1", no WASI) on @extism/as-pdk.
//
//   import { Input, ItemWriter, run } from "./wasmflow/wasmflow";
//
//   function node(input: Input, out: ItemWriter): string | null {
//     for (let i = 0; i < input.items.length; i++) out.copy(input.items[i]);
//     return null; // or an error message, which fails the run
//   }
//
//   export function run_(): i32 { return run(node); }  // exported as "run"
//
// Build with asc, wiring aborts to this file so that a failed assertion
// fails the run with its message:
//
//   asc assembly/index.ts --outFile node.wasm --use abort=assembly/wasmflow/wasmflow/abort --optimize --noAssert
//
// The input document is parsed strictly (json.ts: RFC 8259, byte offsets in
// errors); items are copied to the output byte for byte unless the node
// rewrites them. AssemblyScript has no exceptions: a node returns its error.

import { Host, LogLevel } from "@extism/as-pdk";
import { alloc, error_set, output_set, store_u64, store_u8 } from "@extism/as-pdk/lib/env";
import { ByteBuf, JValue, KIND_ARRAY, KIND_NULL, KIND_OBJECT, KIND_STRING, Parser } from "./json";

export { ByteBuf, JValue, KIND_ARRAY, KIND_FALSE, KIND_NULL, KIND_NUMBER, KIND_OBJECT, KIND_STRING, KIND_TRUE, Parser } from "./json";
export { LogLevel } from "@extism/as-pdk";

// Input is the decoded input document of a node run.
export class Input {
  // text is the document's bytes: every JValue's [start, end) indexes it.
  text: Uint8Array;
  // doc is the whole document ("inputs", "node", "execution" are in it).
  doc: JValue;
  // items are the main input's items, each an object.
  items: JValue[];
  // params is the params object (empty when the document has none).
  params: JValue;

  constructor(text: Uint8Array, doc: JValue, items: JValue[], params: JValue) {
    this.text = text;
    this.doc = doc;
    this.items = items;
    this.params = params;
  }

  // param returns the param named key, or null.
  param(key: string): JValue | null {
    return this.params.get(key);
  }

  // stringParam returns a string param, def when it is absent or null, and
  // sets error when it is something else.
  stringParam(key: string, def: string): string {
    const v = this.params.get(key);
    if (v === null || v.kind == KIND_NULL) return def;
    if (v.kind != KIND_STRING) {
      this.error = "invalid params: " + key + " must be a string";
      return def;
    }
    return v.str;
  }

  // checkParams returns a message naming the first param not in allowed, or
  // null: a misspelt param then fails the run instead of being ignored.
  checkParams(allowed: string[]): string | null {
    for (let i = 0; i < this.params.keys.length; i++) {
      const k = this.params.keys[i];
      if (!allowed.includes(k)) return 'invalid params: unknown param "' + k + '" (allowed: ' + allowed.join(", ") + ")";
    }
    return null;
  }

  // error is the first problem a typed getter met ("" when none).
  error: string = "";
}

// decodeInput parses an input document: an object whose "items" (absent or
// null: none) is an array of objects and whose "params" (absent or null:
// none) is an object. It returns the Input, or sets message and returns null.
export function decodeInput(text: Uint8Array, message: string[]): Input | null {
  const p = new Parser(text);
  const doc = p.parseDocument();
  if (doc === null) {
    message.push("invalid input document: " + p.message());
    return null;
  }
  if (doc.kind != KIND_OBJECT) {
    message.push("invalid input document: expected an object");
    return null;
  }
  let items: JValue[] = [];
  const iv = doc.get("items");
  if (iv !== null && iv.kind != KIND_NULL) {
    if (iv.kind != KIND_ARRAY) {
      message.push("invalid input document: items must be an array");
      return null;
    }
    items = iv.elems;
    for (let i = 0; i < items.length; i++) {
      if (items[i].kind != KIND_OBJECT) {
        message.push("invalid input document: items[" + i.toString() + "] is not an object");
        return null;
      }
    }
  }
  let params = new JValue(KIND_OBJECT, 0);
  params.keys = [];
  params.elems = [];
  const pv = doc.get("params");
  if (pv !== null && pv.kind != KIND_NULL) {
    if (pv.kind != KIND_OBJECT) {
      message.push("invalid input document: params must be an object");
      return null;
    }
    params = pv;
  }
  return new Input(text, doc, items, params);
}

// ItemWriter builds the output document {"items": [...]}, one item at a time.
export class ItemWriter {
  text: Uint8Array;
  buf: ByteBuf = new ByteBuf();
  count: i32 = 0;
  members: i32 = 0;

  constructor(text: Uint8Array) {
    this.text = text;
    this.buf.ascii('{"items":[');
  }

  // copy writes v (a value of the input) as an item, byte for byte.
  copy(v: JValue): void {
    if (this.count++ > 0) this.buf.ascii(",");
    this.buf.bytes(this.text, v.start, v.end);
  }

  // begin starts an object item; add its members, then call end.
  begin(): void {
    if (this.count++ > 0) this.buf.ascii(",");
    this.buf.ascii("{");
    this.members = 0;
  }

  // member writes key with v (a value of the input), byte for byte.
  member(key: string, v: JValue): void {
    this.key(key);
    this.buf.bytes(this.text, v.start, v.end);
  }

  // memberString writes key with the string s.
  memberString(key: string, s: string): void {
    this.key(key);
    writeString(this.buf, s);
  }

  end(): void {
    this.buf.ascii("}");
  }

  key(key: string): void {
    if (this.members++ > 0) this.buf.ascii(",");
    writeString(this.buf, key);
    this.buf.ascii(":");
  }

  // finish closes the document and returns its bytes.
  finish(): Uint8Array {
    this.buf.ascii("]}");
    return this.buf.view();
  }
}

// writeString appends s as a JSON string (UTF-8).
export function writeString(buf: ByteBuf, s: string): void {
  const hex = "0123456789abcdef";
  buf.ascii('"');
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    appendUTF8(buf, s.substring(run, i));
    if (c == 0x22) buf.ascii('\\"');
    else if (c == 0x5c) buf.ascii("\\\\");
    else if (c == 0x0a) buf.ascii("\\n");
    else if (c == 0x0d) buf.ascii("\\r");
    else if (c == 0x09) buf.ascii("\\t");
    else buf.ascii("\\u00" + hex.charAt(c >> 4) + hex.charAt(c & 15));
    run = i + 1;
  }
  appendUTF8(buf, s.substring(run));
  buf.ascii('"');
}

function appendUTF8(buf: ByteBuf, s: string): void {
  if (s.length == 0) return;
  const b = Uint8Array.wrap(String.UTF8.encode(s));
  buf.bytes(b, 0, b.length);
}

// setOutput hands the output bytes to the host.
export function setOutput(b: Uint8Array): void {
  const n = b.length;
  const off = alloc(<u64>n);
  let j = 0;
  for (; j + 8 <= n; j += 8) store_u64(off + <u64>j, load<u64>(b.dataStart + <usize>j));
  for (; j < n; j++) store_u8(off + <u64>j, b[j]);
  output_set(off, <u64>n);
}

// fail sets the run's error and returns 1, the entrypoint's failure code.
export function fail(msg: string): i32 {
  const b = Uint8Array.wrap(String.UTF8.encode(msg));
  const off = alloc(<u64>b.length);
  for (let j = 0; j < b.length; j++) store_u8(off + <u64>j, b[j]);
  error_set(off);
  return 1;
}

// log logs one line at level (kept with the run).
export function log(level: LogLevel, msg: string): void {
  Host.log(level, msg);
}

// run decodes the input, calls node with it and an ItemWriter, and sets the
// output; a message from node (or a bad input document) fails the run.
export function run(node: (input: Input, out: ItemWriter) => string | null): i32 {
  const message: string[] = [];
  const input = decodeInput(Host.input(), message);
  if (input === null) return fail(message[0]);
  const out = new ItemWriter(input.text);
  const err = node(input, out);
  if (err !== null) return fail(err);
  if (input.error.length > 0) return fail(input.error);
  setOutput(out.finish());
  return 0;
}

// abort (wired with --use abort=assembly/wasmflow/wasmflow/abort) turns an
// AssemblyScript abort into the run's error before trapping.
export function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let msg = "aborted";
  if (message !== null) msg += ": " + message;
  if (fileName !== null) msg += " (" + fileName + ":" + line.toString() + ":" + column.toString() + ")";
  fail(msg);
  unreachable();
}
