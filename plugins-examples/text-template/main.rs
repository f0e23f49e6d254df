//! wasmflow/text-template: renders a text template once per item.
//!
//! A WASI command (abi wasi-command-v1): the input document on stdin, the
//! output document on stdout, logs and the error message on stderr, exit
//! status 1 on failure. Standard library only (no crates), so it carries its
//! own small JSON parser and serializer.
//!
//! Params:
//!   template    required; "Hello {{name}}!" with {{field}} or {{a.b.0.c}} paths
//!               (object keys and array indexes; spaces inside the braces are
//!               ignored)
//!   target      field that receives the text (default "text"; replaced if present)
//!   delimiters  optional [open, close], default ["{{", "}}"]
//!   on_missing  "empty" (default: a missing path renders as ""), "keep" (the
//!               placeholder stays as written) or "error" (fails the run)
//! A string renders as itself, a number as written, true/false as words, null
//! as "", an object or array as compact JSON. An unclosed placeholder is text.

use std::io::{Read, Write};

// ---------------------------------------------------------------- JSON values

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(String), // the text as written, so no digit is ever lost
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>), // in document order; a repeated key keeps its last value
}

const MAX_DEPTH: usize = 1000;

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

impl<'a> Parser<'a> {
    // skip validates one value without building it.
    fn skip(&mut self, depth: usize) -> Result<(), String> {
        self.ws();
        match self.peek() {
            Some(b'{') | Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return self.err("nesting too deep");
                }
                let close = if self.s[self.p] == b'{' { b'}' } else { b']' };
                self.p += 1;
                self.ws();
                if self.peek() == Some(close) {
                    self.p += 1;
                    return Ok(());
                }
                loop {
                    if close == b'}' {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return self.err("expected a string");
                        }
                        self.skip_string()?;
                        self.ws();
                        if self.peek() != Some(b':') {
                            return self.err("expected ':'");
                        }
                        self.p += 1;
                    }
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.p += 1,
                        Some(c) if c == close => {
                            self.p += 1;
                            return Ok(());
                        }
                        _ if close == b'}' => return self.err("expected ',' or '}'"),
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'"') => self.skip_string(),
            _ => self.value(depth).map(|_| ()), // scalars: cheap to build
        }
    }

    // skip_string validates a string at '"' without decoding it.
    fn skip_string(&mut self) -> Result<(), String> {
        self.p += 1;
        loop {
            match self.peek() {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.p += 1;
                    return Ok(());
                }
                Some(0..=0x1f) => return self.err("control character in string"),
                Some(b'\\') => {
                    self.p += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.p += 1,
                        Some(b'u') => {
                            self.p += 1;
                            self.hex4()?;
                        }
                        None => return self.err("unterminated string"),
                        _ => {
                            self.p -= 1;
                            return self.err("invalid escape in string");
                        }
                    }
                }
                Some(_) => self.p += 1,
            }
        }
    }
}

// parse_document parses the input document, building only items and params
// (the other members, such as inputs, which repeats items, are validated and
// skipped). A repeated member keeps its last value.
fn parse_document(s: &[u8]) -> Result<(Option<Value>, Option<Value>), String> {
    let mut p = Parser { s, p: 0 };
    let (mut items, mut params) = (None, None);
    p.ws();
    if p.peek() != Some(b'{') {
        return p.err("expected an object");
    }
    p.p += 1;
    p.ws();
    if p.peek() == Some(b'}') {
        p.p += 1;
    } else {
        loop {
            p.ws();
            if p.peek() != Some(b'"') {
                return p.err("expected a string");
            }
            let key = p.string()?;
            p.ws();
            if p.peek() != Some(b':') {
                return p.err("expected ':'");
            }
            p.p += 1;
            match key.as_str() {
                "items" => items = Some(p.value(1)?),
                "params" => params = Some(p.value(1)?),
                _ => p.skip(1)?,
            }
            p.ws();
            match p.peek() {
                Some(b',') => p.p += 1,
                Some(b'}') => {
                    p.p += 1;
                    break;
                }
                _ => return p.err("expected ',' or '}'"),
            }
        }
    }
    p.ws();
    if p.p != s.len() {
        return p.err("unexpected data after the document");
    }
    Ok((items, params))
}

#[cfg(test)]
fn parse(s: &[u8]) -> Result<Value, String> {
    let mut p = Parser { s, p: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.p != s.len() {
        return p.err("unexpected data after the document");
    }
    Ok(v)
}

fn write_string(out: &mut String, s: &str) {
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

fn write_value(out: &mut String, v: &Value) {
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

fn get<'v>(obj: &'v [(String, Value)], key: &str) -> Option<&'v Value> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

// ------------------------------------------------------------------- template

enum Piece {
    Text(String),
    Path { raw: String, path: Vec<String> },
}

fn compile(template: &str, open: &str, close: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(open) {
        let after = &rest[i + open.len()..];
        let j = match after.find(close) {
            Some(j) => j,
            None => break, // unclosed: the rest is text
        };
        if i > 0 {
            pieces.push(Piece::Text(rest[..i].to_string()));
        }
        let expr = after[..j].trim();
        pieces.push(Piece::Path {
            raw: rest[i..i + open.len() + j + close.len()].to_string(),
            path: if expr.is_empty() { Vec::new() } else { expr.split('.').map(|s| s.trim().to_string()).collect() },
        });
        rest = &after[j + close.len()..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    pieces
}

fn lookup<'v>(item: &'v Value, path: &[String]) -> Option<&'v Value> {
    if path.is_empty() {
        return None;
    }
    let mut cur = item;
    for seg in path {
        cur = match cur {
            Value::Object(m) => get(m, seg)?,
            Value::Array(a) => {
                if seg.is_empty() || !seg.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                a.get(seg.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

#[derive(PartialEq)]
enum OnMissing {
    Empty,
    Keep,
    Error,
}

struct Params {
    template: Vec<Piece>,
    target: String,
    on_missing: OnMissing,
}

fn read_params(v: Option<&Value>) -> Result<Params, String> {
    let m = match v {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => return Err("invalid params: template is required".into()),
        Some(_) => return Err("invalid params: params must be an object".into()),
    };
    let mut template = None;
    let mut target = "text".to_string();
    let mut delims = ("{{".to_string(), "}}".to_string());
    let mut on_missing = OnMissing::Empty;
    for (k, v) in m {
        match (k.as_str(), v) {
            ("template", Value::Str(s)) => template = Some(s.clone()),
            ("template", _) => return Err("invalid params: template must be a string".into()),
            ("target", Value::Str(s)) if !s.is_empty() => target = s.clone(),
            ("target", _) => return Err("invalid params: target must be a non-empty string".into()),
            ("delimiters", Value::Array(a)) => match a.as_slice() {
                [Value::Str(o), Value::Str(c)] if !o.is_empty() && !c.is_empty() => delims = (o.clone(), c.clone()),
                _ => return Err("invalid params: delimiters must be two non-empty strings".into()),
            },
            ("delimiters", _) => return Err("invalid params: delimiters must be two non-empty strings".into()),
            ("on_missing", Value::Str(s)) => {
                on_missing = match s.as_str() {
                    "empty" => OnMissing::Empty,
                    "keep" => OnMissing::Keep,
                    "error" => OnMissing::Error,
                    _ => return Err("invalid params: on_missing must be \"empty\", \"keep\" or \"error\"".into()),
                }
            }
            ("on_missing", _) => {
                return Err("invalid params: on_missing must be \"empty\", \"keep\" or \"error\"".into())
            }
            (other, _) => {
                return Err(format!(
                    "invalid params: unknown param {:?} (allowed: template, target, delimiters, on_missing)",
                    other
                ))
            }
        }
    }
    let template = template.ok_or_else(|| "invalid params: template is required".to_string())?;
    Ok(Params { template: compile(&template, &delims.0, &delims.1), target, on_missing })
}

fn render(p: &Params, item: &Value, index: usize) -> Result<String, String> {
    let mut out = String::new();
    for piece in &p.template {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Path { raw, path } => match lookup(item, path) {
                Some(Value::Str(s)) => out.push_str(s),
                Some(Value::Number(n)) => out.push_str(n),
                Some(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
                Some(Value::Null) => {}
                Some(v) => write_value(&mut out, v),
                None => match p.on_missing {
                    OnMissing::Empty => {}
                    OnMissing::Keep => out.push_str(raw),
                    OnMissing::Error => return Err(format!("items[{}]: no value for {}", index, raw)),
                },
            },
        }
    }
    Ok(out)
}

fn run(input: &[u8]) -> Result<(String, usize), String> {
    let (items, params) = parse_document(input).map_err(|e| format!("invalid input document: {}", e))?;
    let params = read_params(params.as_ref())?;
    let items = match items {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("invalid input document: items must be an array".into()),
    };
    let n = items.len();
    let mut out = String::from("{\"items\":[");
    for (i, item) in items.into_iter().enumerate() {
        let text = match &item {
            Value::Object(_) => render(&params, &item, i)?,
            _ => return Err(format!("invalid input document: items[{}] is not an object", i)),
        };
        let mut m = match item {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        match m.iter_mut().find(|(k, _)| *k == params.target) {
            Some(e) => e.1 = Value::Str(text),
            None => m.push((params.target.clone(), Value::Str(text))),
        }
        if i > 0 {
            out.push(',');
        }
        write_value(&mut out, &Value::Object(m));
    }
    out.push_str("]}");
    Ok((out, n))
}

fn main() {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("error: reading stdin: {}", e);
        std::process::exit(1);
    }
    match run(&input) {
        Ok((out, n)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()).is_err() {
                eprintln!("error: writing stdout");
                std::process::exit(1);
            }
            eprintln!("rendered {} item(s)", n);
        }
        Err(e) => {
            eprintln!("{}", e);
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let mut out = String::new();
        write_value(&mut out, &parse(s.as_bytes()).unwrap());
        out
    }

    #[test]
    fn json_roundtrip() {
        assert_eq!(roundtrip(r#" {"a": [1, -0.5e+3, true, null, "x\"\n\u00e9\ud83d\ude00\u0001"], "b": {}} "#),
                   "{\"a\":[1,-0.5e+3,true,null,\"x\\\"\\né\u{1F600}\\u0001\"],\"b\":{}}");
        assert_eq!(roundtrip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(roundtrip(r#""\ud800x""#), "\"\u{FFFD}x\"");
        for bad in ["", "01", "1.", "[1,]", "{\"a\":1,}", "tru", "\"\\x\"", "\"a", "[", "{\"a\"}", "1 2", "\"\u{1}\""] {
            assert!(parse(bad.as_bytes()).is_err(), "{:?} must fail", bad);
        }
        let deep = "[".repeat(2000) + &"]".repeat(2000);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("nesting too deep"));
        let doc = format!(r#"{{"inputs":{{"main":[{{"a":"\u00e9\n"}}]}},"x":{},"items":[],"params":{{"template":"t"}}}}"#, "[1]");
        let (items, params) = parse_document(doc.as_bytes()).unwrap();
        assert_eq!(items, Some(Value::Array(vec![])));
        assert!(params.is_some());
        for bad in [r#"{"x":[1,]}"#, r#"{"x":"\q"}"#, r#"{"x":{"a" 1}}"#, r#"{"x":tru}"#, r#"{"items":[]"#, r#"{"x":"\u12"}"#] {
            assert!(parse_document(bad.as_bytes()).is_err(), "{:?} must fail", bad);
        }
    }

    #[test]
    fn templates() {
        let item = parse(br#"{"name":"Ada","n":1.50,"a":{"b":[10,{"c":"deep"}]},"z":null,"t":true}"#).unwrap();
        let p = |t: &str, m| Params { template: compile(t, "{{", "}}"), target: "x".into(), on_missing: m };
        assert_eq!(render(&p("Hi {{name}}, {{ n }} {{a.b.1.c}} [{{z}}] {{t}} {{a.b.0}}", OnMissing::Empty), &item, 0).unwrap(),
                   "Hi Ada, 1.50 deep [] true 10");
        assert_eq!(render(&p("{{a}}", OnMissing::Empty), &item, 0).unwrap(), r#"{"b":[10,{"c":"deep"}]}"#);
        assert_eq!(render(&p("{{nope}}|{{}}|{{name", OnMissing::Keep), &item, 0).unwrap(), "{{nope}}|{{}}|{{name");
        assert!(render(&p("{{nope}}", OnMissing::Error), &item, 3).unwrap_err().contains("items[3]"));
    }
}
