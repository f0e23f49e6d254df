//! wasmflow guest SDK for Rust: a node built as a WASI command (manifest
//! "abi": "wasi-command-v1") with the standard library only, no crates.
//!
//! The input document arrives on stdin, the output document leaves on
//! stdout, and every line on stderr becomes a log line of the run; a
//! non-zero exit fails it. [`run`] does all of that around one function:
//!
//! ```ignore
//! mod wasmflow;
//! use wasmflow::{Input, Output};
//!
//! fn node(input: Input) -> Result<Output, String> {
//!     Ok(Output::Items(input.items))
//! }
//!
//! fn main() {
//!     wasmflow::run(node)
//! }
//! ```
//!
//! Build: `/usr/bin/rustc --edition 2021 --target wasm32-wasi -O main.rs`
//! (Debian's rustc with libstd-rust-dev-wasm32). JSON is parsed strictly
//! (RFC 8259), numbers keep their text so no digit is lost, and a repeated
//! key keeps its last value. WASI commands cannot import host functions: a
//! node that needs HTTP or secrets is an Extism plugin (Go, C or
//! AssemblyScript SDK).
#![allow(dead_code)]

use std::io::{Read, Write};

/// A JSON value. Objects keep their members in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number's text as written, so no digit is ever lost.
    Number(String),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member named key of an object; None for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets (or replaces) the member key of an object; false for a non-object.
    pub fn set(&mut self, key: &str, v: Value) -> bool {
        match self {
            Value::Object(m) => {
                match m.iter_mut().find(|(k, _)| k == key) {
                    Some(e) => e.1 = v,
                    None => m.push((key.to_string(), v)),
                }
                true
            }
            _ => false,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as compact JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self);
        out
    }
}

/// Nesting deeper than this is refused.
pub const MAX_DEPTH: usize = 1000;

/// Parses one JSON document (whitespace around it allowed). Errors name the byte offset.
pub fn parse(s: &[u8]) -> Result<Value, String> {
    let mut p = Parser { s, p: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.p != s.len() {
        return p.err("unexpected data after the document");
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    p: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, msg: &str) -> Result<T, String> {
        Err(format!("{} at byte {}", msg, self.p))
    }

    fn ws(&mut self) {
        while self.p < self.s.len() && matches!(self.s[self.p], b' ' | b'\t' | b'\n' | b'\r') {
            self.p += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.p).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.ws();
        match self.peek() {
            None => self.err("unexpected end of input"),
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return self.err("nesting too deep");
                }
                self.p += 1;
                let mut members: Vec<(String, Value)> = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.p += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return self.err("expected a string");
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return self.err("expected ':'");
                    }
                    self.p += 1;
                    let v = self.value(depth + 1)?;
                    match members.iter_mut().find(|(k, _)| *k == key) {
                        Some(m) => m.1 = v,
                        None => members.push((key, v)),
                    }
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.p += 1,
                        Some(b'}') => {
                            self.p += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return self.err("nesting too deep");
                }
                self.p += 1;
                let mut elems = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.p += 1;
                    return Ok(Value::Array(elems));
                }
                loop {
                    elems.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.p += 1,
                        Some(b']') => {
                            self.p += 1;
                            return Ok(Value::Array(elems));
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.p..].starts_with(word.as_bytes()) {
            self.p += word.len();
            Ok(v)
        } else {
            self.err("invalid literal")
        }
    }

    fn digits(&mut self) -> bool {
        let start = self.p;
        while self.peek().map_or(false, |c| c.is_ascii_digit()) {
            self.p += 1;
        }
        self.p > start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.p;
        if self.peek() == Some(b'-') {
            self.p += 1;
        }
        match self.peek() {
            Some(b'0') => self.p += 1,
            Some(c) if c.is_ascii_digit() => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.p += 1;
            if !self.digits() {
                return self.err("invalid number");
            }
        }
        if matches!(self.peek(), Some(b'e') | Some(b'E')) {
            self.p += 1;
            if matches!(self.peek(), Some(b'+') | Some(b'-')) {
                self.p += 1;
            }
            if !self.digits() {
                return self.err("invalid number");
            }
        }
        // the slice is ASCII: checked above
        Ok(Value::Number(String::from_utf8_lossy(&self.s[start..self.p]).into_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        if self.p + 4 > self.s.len() {
            return self.err("unterminated string");
        }
        let mut v = 0u32;
        for i in 0..4 {
            let d = match (self.s[self.p + i] as char).to_digit(16) {
                Some(d) => d,
                None => return self.err("invalid \\u escape"),
            };
            v = v << 4 | d;
        }
        self.p += 4;
        Ok(v)
    }

    // At a '"': returns the decoded string; a lone surrogate becomes U+FFFD (as in Go).
    fn string(&mut self) -> Result<String, String> {
        self.p += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = match self.peek() {
                None => return self.err("unterminated string"),
                Some(c) => c,
            };
            match c {
                b'"' => {
                    self.p += 1;
                    return match String::from_utf8(out) {
                        Ok(s) => Ok(s),
                        Err(_) => self.err("invalid UTF-8 in string"),
                    };
                }
                0..=0x1f => return self.err("control character in string"),
                b'\\' => {
                    self.p += 1;
                    let e = match self.peek() {
                        None => return self.err("unterminated string"),
                        Some(e) => e,
                    };
                    self.p += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let mut cp = hi;
                            if (0xD800..0xDC00).contains(&hi) {
                                let save = self.p;
                                if self.s[self.p..].starts_with(b"\\u") {
                                    self.p += 2;
                                    match self.hex4() {
                                        Ok(lo) if (0xDC00..0xE000).contains(&lo) => {
                                            cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                        }
                                        _ => {
                                            self.p = save;
                                            cp = 0xFFFD
                                        }
                                    }
                                } else {
                                    cp = 0xFFFD
                                }
                            }
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        _ => {
                            self.p -= 1;
                            return self.err("invalid escape in string");
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => {
                    out.push(c);
                    self.p += 1;
                }
            }
        }
    }
}

/// Appends s as a JSON string.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends v as compact JSON.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::Str(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, e);
            }
            out.push('}');
        }
    }
}

/// The input document of a node run (wasmflow DESIGN §4).
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// The main input's items, each an object.
    pub items: Vec<Value>,
    /// The node's params (an object; empty when the document has none).
    pub params: Vec<(String, Value)>,
    /// The whole document, for "inputs", "node" and "execution".
    pub document: Value,
}

impl Input {
    /// The param named key.
    pub fn param(&self, key: &str) -> Option<&Value> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Fails with a message naming the first param not in allowed: a
    /// misspelt param then fails the run instead of being ignored.
    pub fn check_params(&self, allowed: &[&str]) -> Result<(), String> {
        for (k, _) in &self.params {
            if !allowed.contains(&k.as_str()) {
                return Err(format!("invalid params: unknown param {:?} (allowed: {})", k, allowed.join(", ")));
            }
        }
        Ok(())
    }

    /// A string param, or default when it is absent or null.
    pub fn string_param(&self, key: &str, default: &str) -> Result<String, String> {
        match self.param(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(_) => Err(format!("invalid params: {} must be a string", key)),
        }
    }
}

/// Decodes an input document: an object whose "items" (absent or null: none)
/// is an array of objects and whose "params" (absent or null: none) is an object.
pub fn decode_input(s: &[u8]) -> Result<Input, String> {
    let document = parse(s).map_err(|e| format!("invalid input document: {}", e))?;
    let items = match document.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("invalid input document: items must be an array".into()),
    };
    for (i, item) in items.iter().enumerate() {
        if !matches!(item, Value::Object(_)) {
            return Err(format!("invalid input document: items[{}] is not an object", i));
        }
    }
    let params = match document.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err("invalid input document: params must be an object".into()),
    };
    if !matches!(document, Value::Object(_)) {
        return Err("invalid input document: expected an object".into());
    }
    Ok(Input { items, params, document })
}

/// The output document: the main port's items, or items per named port.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Items(Vec<Value>),
    Outputs(Vec<(String, Vec<Value>)>),
}

/// Encodes an output document: {"items": [...]} or {"outputs": {"port": [...]}}.
pub fn encode_output(o: &Output) -> String {
    let v = match o {
        Output::Items(items) => Value::Object(vec![("items".into(), Value::Array(items.clone()))]),
        Output::Outputs(ports) => Value::Object(vec![(
            "outputs".into(),
            Value::Object(ports.iter().map(|(k, v)| (k.clone(), Value::Array(v.clone()))).collect()),
        )]),
    };
    v.to_json()
}

/// Logs one line (stderr: the host stores it with the run).
pub fn log(msg: &str) {
    eprintln!("{}", msg);
}

/// Calls node with the decoded input from stdin, writes its output to
/// stdout and exits 0; on an error (or a bad input document) logs the
/// message and exits 1, which fails the run.
pub fn run(node: fn(Input) -> Result<Output, String>) -> ! {
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        log(&format!("error: reading stdin: {}", e));
        std::process::exit(1);
    }
    match decode_input(&raw).and_then(node) {
        Ok(out) => {
            let text = encode_output(&out);
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                log("error: writing stdout");
                std::process::exit(1);
            }
            std::process::exit(0)
        }
        Err(e) => {
            log(&e);
            std::process::exit(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        parse(s.as_bytes()).unwrap().to_json()
    }

    #[test]
    fn json_roundtrip() {
        assert_eq!(roundtrip(r#" {"a": [1, -0.5e+3, true, null, "x\"\n\u00e9\ud83d\ude00\u0001"], "b": {}} "#),
                   "{\"a\":[1,-0.5e+3,true,null,\"x\\\"\\né\u{1F600}\\u0001\"],\"b\":{}}");
        assert_eq!(roundtrip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(roundtrip(r#""\ud800x""#), "\"\u{FFFD}x\"");
        assert_eq!(roundtrip("12345678901234567890.10"), "12345678901234567890.10");
        for bad in ["", "01", "1.", "[1,]", "{\"a\":1,}", "tru", "\"\\x\"", "\"a", "[", "{\"a\"}", "1 2", "\"\u{1}\""] {
            assert!(parse(bad.as_bytes()).is_err(), "{:?} must fail", bad);
        }
        let deep = "[".repeat(2000) + &"]".repeat(2000);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("nesting too deep"));
    }

    #[test]
    fn values() {
        let mut v = parse(br#"{"a":1}"#).unwrap();
        assert!(v.set("b", Value::Str("x".into())));
        assert!(v.set("a", Value::Bool(false)));
        assert_eq!(v.to_json(), r#"{"a":false,"b":"x"}"#);
        assert_eq!(v.get("b").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("z"), None);
        assert!(!Value::Null.set("a", Value::Null));
        assert_eq!(Value::Null.get("a"), None);
    }

    #[test]
    fn input_document() {
        let doc = br#"{"items":[{"id":1}],"inputs":{"main":[{"id":1}]},"params":{"greeting":"Hi","n":2},
            "node":{"name":"n"},"execution":{"id":"ex"}}"#;
        let input = decode_input(doc).unwrap();
        assert_eq!(input.items, vec![parse(br#"{"id":1}"#).unwrap()]);
        assert_eq!(input.string_param("greeting", "Hello").unwrap(), "Hi");
        assert_eq!(input.string_param("missing", "Hello").unwrap(), "Hello");
        assert!(input.string_param("n", "").unwrap_err().contains("n must be a string"));
        assert!(input.check_params(&["greeting", "n"]).is_ok());
        assert!(input.check_params(&["greeting"]).unwrap_err().contains("unknown param \"n\""));
        assert_eq!(input.document.get("node").and_then(|n| n.get("name")).and_then(Value::as_str), Some("n"));

        let empty = decode_input(b"{}").unwrap();
        assert!(empty.items.is_empty() && empty.params.is_empty());
        for (bad, msg) in [("[]", "expected an object"), (r#"{"items":{}}"#, "items must be an array"),
                           (r#"{"items":[1]}"#, "items[0] is not an object"), (r#"{"params":[]}"#, "params must be an object"),
                           ("{", "invalid input document")] {
            assert!(decode_input(bad.as_bytes()).unwrap_err().contains(msg), "{}", bad);
        }
    }

    #[test]
    fn output_document() {
        let item = parse(br#"{"a":"\u00e9"}"#).unwrap();
        assert_eq!(encode_output(&Output::Items(vec![item.clone()])), "{\"items\":[{\"a\":\"é\"}]}");
        assert_eq!(encode_output(&Output::Outputs(vec![("kept".into(), vec![item]), ("dropped".into(), vec![])])),
                   "{\"outputs\":{\"kept\":[{\"a\":\"é\"}],\"dropped\":[]}}");
    }
}
