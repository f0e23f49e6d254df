// wasmflow/filter: keeps the items whose field matches a condition.
//
// Params: {"field": "total", "op": "gt", "value": 100}
//   field  required; a top-level name or a dotted path ("order.total",
//          "lines.0.sku": numbers index arrays)
//   op     required; one of
//            eq, ne          JSON equality (numbers by value, objects and arrays deeply)
//            gt, gte, lt, lte  numbers with numbers, strings with strings (by code
//                            point); anything else does not match
//            contains        string contains the string value, or array has an
//                            element equal to value
//            exists          the field is present (any value, null included)
//   value  required for every op except exists
// A missing field matches only ne. No type coercion: "150" is not > 100.
//
// Output: two ports, {"outputs": {"kept": [...], "dropped": [...]}}, each
// item copied byte for byte from the input.
//
// Built with AssemblyScript and @extism/as-pdk, as an Extism plugin without WASI.

import { Host, LogLevel, Memory } from "@extism/as-pdk";
import { alloc, error_set, output_set, store_u64, store_u8 } from "@extism/as-pdk/lib/env";
import {
  ByteBuf,
  compareStrings,
  equal,
  JValue,
  KIND_ARRAY,
  KIND_NULL,
  KIND_NUMBER,
  KIND_OBJECT,
  KIND_STRING,
  Parser,
} from "../../sdk/assemblyscript/json";

const OPS = "eq, ne, gt, gte, lt, lte, contains, exists";

function setError(msg: string): i32 {
  error_set(Memory.allocateString(msg).offset);
  return 1;
}

// abort (wired with --use abort=assembly/index/abort) turns an AssemblyScript
// abort into an Extism error before trapping, so the run fails with a message.
function abort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let msg = "filter aborted";
  if (message !== null) msg += ": " + message;
  if (fileName !== null) msg += " (" + fileName + ":" + line.toString() + ":" + column.toString() + ")";
  setError(msg);
  unreachable();
}

function bytesOf(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

// outputParts sets the output to the concatenation of parts, copied straight
// into Extism memory (8 bytes per call where possible).
function outputParts(parts: Uint8Array[]): void {
  let total: i64 = 0;
  for (let i = 0; i < parts.length; i++) total += parts[i].length;
  const off = alloc(<u64>total);
  let at: u64 = off;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const n = p.length;
    let j = 0;
    for (; j + 8 <= n; j += 8) store_u64(at + <u64>j, load<u64>(p.dataStart + <usize>j));
    for (; j < n; j++) store_u8(at + <u64>j, p[j]);
    at += <u64>n;
  }
  output_set(off, <u64>total);
}

function lookup(item: JValue, path: string[]): JValue | null {
  let cur: JValue = item;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    let next: JValue | null = null;
    if (cur.kind == KIND_OBJECT) {
      next = cur.get(seg);
    } else if (cur.kind == KIND_ARRAY && isIndex(seg)) {
      const idx = I32.parseInt(seg);
      if (idx >= 0 && idx < cur.elems.length) next = cur.elems[idx];
    }
    if (next === null) return null;
    cur = next;
  }
  return cur;
}

function isIndex(s: string): bool {
  if (s.length == 0 || s.length > 9) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function matches(op: string, v: JValue | null, want: JValue | null): bool {
  if (op == "exists") return v !== null;
  if (v === null || want === null) return op == "ne";
  if (op == "eq") return equal(v, want);
  if (op == "ne") return !equal(v, want);
  if (op == "contains") {
    if (v.kind == KIND_STRING && want.kind == KIND_STRING) return v.str.includes(want.str);
    if (v.kind == KIND_ARRAY) {
      for (let i = 0; i < v.elems.length; i++) {
        if (equal(v.elems[i], want)) return true;
      }
    }
    return false;
  }
  let c: i32;
  if (v.kind == KIND_NUMBER && want.kind == KIND_NUMBER) {
    if (isNaN(v.num) || isNaN(want.num)) return false;
    c = v.num < want.num ? -1 : v.num > want.num ? 1 : 0;
  } else if (v.kind == KIND_STRING && want.kind == KIND_STRING) {
    c = compareStrings(v.str, want.str);
  } else {
    return false;
  }
  if (op == "gt") return c > 0;
  if (op == "gte") return c >= 0;
  if (op == "lt") return c < 0;
  return c <= 0; // lte
}

export function run(): i32 {
  const input = Host.input();
  const parser = new Parser(input);
  const doc = parser.parseDocument(["params"]);
  if (doc === null) return setError("invalid input document: " + parser.message());
  if (doc.kind != KIND_OBJECT) return setError("invalid input document: expected an object");

  // params
  const params = doc.get("params");
  if (params === null || params.kind == KIND_NULL) return setError("invalid params: field is required");
  if (params.kind != KIND_OBJECT) return setError("invalid params: params must be an object");
  let field = "";
  let op = "";
  let want: JValue | null = null;
  for (let i = 0; i < params.keys.length; i++) {
    const k = params.keys[i];
    const v = params.elems[i];
    if (k == "field") {
      if (v.kind != KIND_STRING || v.str.length == 0) return setError("invalid params: field must be a non-empty string");
      field = v.str;
    } else if (k == "op") {
      if (v.kind != KIND_STRING) return setError("invalid params: op must be one of " + OPS);
      op = v.str;
    } else if (k == "value") {
      want = v;
    } else {
      return setError('invalid params: unknown param "' + k + '" (allowed: field, op, value)');
    }
  }
  if (field.length == 0) return setError("invalid params: field is required");
  if (op.length == 0) return setError("invalid params: op is required (one of " + OPS + ")");
  if (!OPS.split(", ").includes(op)) return setError('invalid params: op "' + op + '" is not one of ' + OPS);
  if (op != "exists" && want === null) return setError('invalid params: value is required for op "' + op + '"');
  const path = field.split(".");

  // items: parsed one at a time, so only one item's tree is alive at once
  const kept = new ByteBuf();
  const dropped = new ByteBuf();
  let nKept = 0;
  let nDropped = 0;
  if (parser.topStarts.has("items")) {
    const ip = new Parser(input);
    ip.p = parser.topStarts.get("items");
    const c = ip.peek();
    if (c != 0x5b && c != 0x6e) return setError("invalid input document: items must be an array");
    if (c == 0x5b) {
      ip.p++;
      ip.ws();
      let i = 0;
      while (ip.peek() != 0x5d) {
        if (i > 0) {
          ip.p++; // ',' (the document is valid)
        }
        const item = ip.value(1, true);
        if (item === null) return setError("invalid input document: " + ip.message());
        if (item.kind != KIND_OBJECT) {
          return setError("invalid input document: items[" + i.toString() + "] is not an object");
        }
        if (matches(op, lookup(item, path), want)) {
          if (nKept++ > 0) kept.ascii(",");
          kept.bytes(input, item.start, item.end);
        } else {
          if (nDropped++ > 0) dropped.ascii(",");
          dropped.bytes(input, item.start, item.end);
        }
        ip.ws();
        i++;
      }
    }
  }

  outputParts([
    bytesOf('{"outputs":{"kept":['),
    kept.view(),
    bytesOf('],"dropped":['),
    dropped.view(),
    bytesOf("]}}"),
  ]);
  Host.log(LogLevel.Info, "kept " + nKept.toString() + " of " + (nKept + nDropped).toString() + " item(s)");
  return 0;
}
