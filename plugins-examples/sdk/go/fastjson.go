package wasmflow

// A reflection-free JSON decoder and encoder for the document types (maps,
// slices, strings, json.Number, bools, null). Go compiled to Wasm runs
// encoding/json's reflection and allocation-heavy paths about 18 times slower
// than natively; this path does the same work several times faster. The
// results match encoding/json (Decoder.UseNumber, Encoder.SetEscapeHTML(false)),
// which fastjson_test.go checks by fuzzing.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

const maxDepth = 10000

type syntaxError struct {
	msg string
	pos int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.pos) }

type decoder struct {
	s []byte
	p int
}

func (d *decoder) fail(msg string) error { return &syntaxError{msg, d.p} }

func (d *decoder) ws() {
	for d.p < len(d.s) {
		switch d.s[d.p] {
		case ' ', '\t', '\n', '\r':
			d.p++
		default:
			return
		}
	}
}

// value decodes one value; keep=false only validates and skips it.
func (d *decoder) value(depth int, keep bool) (any, error) {
	d.ws()
	if d.p >= len(d.s) {
		return nil, d.fail("unexpected end of input")
	}
	switch c := d.s[d.p]; {
	case c == '{':
		return d.object(depth, keep)
	case c == '[':
		return d.array(depth, keep)
	case c == '"':
		return d.string(keep)
	case c == 't':
		return d.literal("true", true)
	case c == 'f':
		return d.literal("false", false)
	case c == 'n':
		return d.literal("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number(keep)
	}
	return nil, d.fail("unexpected character")
}

func (d *decoder) literal(word string, v any) (any, error) {
	if len(d.s)-d.p < len(word) || string(d.s[d.p:d.p+len(word)]) != word {
		return nil, d.fail("invalid literal")
	}
	d.p += len(word)
	return v, nil
}

func (d *decoder) digits() bool {
	start := d.p
	for d.p < len(d.s) && d.s[d.p] >= '0' && d.s[d.p] <= '9' {
		d.p++
	}
	return d.p > start
}

func (d *decoder) number(keep bool) (any, error) {
	start := d.p
	if d.s[d.p] == '-' {
		d.p++
	}
	switch {
	case d.p < len(d.s) && d.s[d.p] == '0':
		d.p++
	case d.p < len(d.s) && d.s[d.p] >= '1' && d.s[d.p] <= '9':
		d.digits()
	default:
		return nil, d.fail("invalid number")
	}
	if d.p < len(d.s) && d.s[d.p] == '.' {
		d.p++
		if !d.digits() {
			return nil, d.fail("invalid number")
		}
	}
	if d.p < len(d.s) && (d.s[d.p] == 'e' || d.s[d.p] == 'E') {
		d.p++
		if d.p < len(d.s) && (d.s[d.p] == '+' || d.s[d.p] == '-') {
			d.p++
		}
		if !d.digits() {
			return nil, d.fail("invalid number")
		}
	}
	if !keep {
		return nil, nil
	}
	return json.Number(d.s[start:d.p]), nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// string decodes a string at '"' as encoding/json does: escapes resolved, a
// lone surrogate or invalid UTF-8 byte becomes U+FFFD.
func (d *decoder) string(keep bool) (any, error) {
	d.p++
	start := d.p
	// fast path: no escapes, valid UTF-8
	for d.p < len(d.s) {
		c := d.s[d.p]
		if c == '"' {
			if utf8.Valid(d.s[start:d.p]) {
				d.p++
				if !keep {
					return nil, nil
				}
				return string(d.s[start : d.p-1]), nil
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.p++
	}
	d.p = start
	var out []byte
	if keep {
		out = make([]byte, 0, 16)
	}
	for {
		if d.p >= len(d.s) {
			return nil, d.fail("unterminated string")
		}
		c := d.s[d.p]
		switch {
		case c == '"':
			d.p++
			if !keep {
				return nil, nil
			}
			return string(out), nil
		case c < 0x20:
			return nil, d.fail("control character in string")
		case c == '\\':
			if d.p+1 >= len(d.s) {
				return nil, d.fail("unterminated string")
			}
			e := d.s[d.p+1]
			d.p += 2
			var r rune
			switch e {
			case '"', '\\', '/':
				r = rune(e)
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			case 'u':
				var ok bool
				r, ok = hex4(d.s[d.p:])
				if !ok {
					d.p -= 2
					return nil, d.fail("invalid \\u escape")
				}
				d.p += 4
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if d.p+6 <= len(d.s) && d.s[d.p] == '\\' && d.s[d.p+1] == 'u' {
						if lo, ok := hex4(d.s[d.p+2:]); ok {
							if dec := utf16.DecodeRune(r, lo); dec != utf8.RuneError {
								r2 = dec
								d.p += 6
							}
						}
					}
					r = r2
				}
			default:
				d.p -= 2
				return nil, d.fail("invalid escape in string")
			}
			if keep {
				out = utf8.AppendRune(out, r)
			}
		case c < utf8.RuneSelf:
			if keep {
				out = append(out, c)
			}
			d.p++
		default:
			r, size := utf8.DecodeRune(d.s[d.p:])
			if keep {
				out = utf8.AppendRune(out, r) // RuneError for an invalid byte, as encoding/json
			}
			d.p += size
		}
	}
}

func (d *decoder) object(depth int, keep bool) (any, error) {
	if depth >= maxDepth {
		return nil, d.fail("nesting too deep")
	}
	d.p++
	var m map[string]any
	if keep {
		m = make(map[string]any)
	}
	d.ws()
	if d.p < len(d.s) && d.s[d.p] == '}' {
		d.p++
		return nilIfSkip(m, keep), nil
	}
	for {
		d.ws()
		if d.p >= len(d.s) || d.s[d.p] != '"' {
			return nil, d.fail("expected a string")
		}
		k, err := d.string(keep)
		if err != nil {
			return nil, err
		}
		d.ws()
		if d.p >= len(d.s) || d.s[d.p] != ':' {
			return nil, d.fail("expected ':'")
		}
		d.p++
		v, err := d.value(depth+1, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			m[k.(string)] = v
		}
		d.ws()
		if d.p < len(d.s) && d.s[d.p] == ',' {
			d.p++
			continue
		}
		if d.p < len(d.s) && d.s[d.p] == '}' {
			d.p++
			return nilIfSkip(m, keep), nil
		}
		return nil, d.fail("expected ',' or '}'")
	}
}

func nilIfSkip[T any](v T, keep bool) any {
	if !keep {
		return nil
	}
	return v
}

func (d *decoder) array(depth int, keep bool) (any, error) {
	if depth >= maxDepth {
		return nil, d.fail("nesting too deep")
	}
	d.p++
	var a []any
	if keep {
		a = []any{}
	}
	d.ws()
	if d.p < len(d.s) && d.s[d.p] == ']' {
		d.p++
		return nilIfSkip(a, keep), nil
	}
	for {
		v, err := d.value(depth+1, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			a = append(a, v)
		}
		d.ws()
		if d.p < len(d.s) && d.s[d.p] == ',' {
			d.p++
			continue
		}
		if d.p < len(d.s) && d.s[d.p] == ']' {
			d.p++
			return nilIfSkip(a, keep), nil
		}
		return nil, d.fail("expected ',' or ']'")
	}
}

// skipSpan validates the value at d.p and returns its bytes (not copied).
func (d *decoder) skipSpan() ([]byte, error) {
	d.ws()
	start := d.p
	if _, err := d.value(0, false); err != nil {
		return nil, err
	}
	return d.s[start:d.p], nil
}

// decodeValue decodes one whole JSON text into maps, slices, strings,
// json.Number, bools and nil.
func decodeValue(b []byte) (any, error) {
	d := &decoder{s: b}
	v, err := d.value(0, true)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.p != len(d.s) {
		return nil, d.fail("unexpected data after the document")
	}
	return v, nil
}

// decodeDocument parses an input document: items decoded, inputs kept raw per
// port, params raw, node and execution through encoding/json (they are small).
func decodeDocument(b []byte) (*Input, error) {
	d := &decoder{s: b}
	in := &Input{}
	d.ws()
	if d.p >= len(d.s) || d.s[d.p] != '{' {
		return nil, d.fail("expected an object")
	}
	d.p++
	d.ws()
	if d.p < len(d.s) && d.s[d.p] == '}' {
		d.p++
	} else {
		for {
			d.ws()
			if d.p >= len(d.s) || d.s[d.p] != '"' {
				return nil, d.fail("expected a string")
			}
			k, err := d.string(true)
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.p >= len(d.s) || d.s[d.p] != ':' {
				return nil, d.fail("expected ':'")
			}
			d.p++
			d.ws()
			valuePos := d.p
			switch k.(string) {
			case "items":
				v, err := d.value(1, true)
				if err != nil {
					return nil, err
				}
				if in.Items, err = itemsOf(v, "items"); err != nil {
					return nil, &syntaxError{err.Error(), valuePos}
				}
			case "inputs":
				span, err := d.skipSpan()
				if err != nil {
					return nil, err
				}
				in.Inputs, err = portsOf(span, valuePos)
				if err != nil {
					return nil, err
				}
			case "params":
				span, err := d.skipSpan()
				if err != nil {
					return nil, err
				}
				in.Params = json.RawMessage(span)
			case "node", "execution":
				span, err := d.skipSpan()
				if err != nil {
					return nil, err
				}
				var dst any = &in.Node
				if k.(string) == "execution" {
					dst = &in.Execution
				}
				if err := json.Unmarshal(span, dst); err != nil {
					return nil, &syntaxError{k.(string) + ": " + err.Error(), valuePos}
				}
			default:
				if _, err := d.skipSpan(); err != nil {
					return nil, err
				}
			}
			d.ws()
			if d.p < len(d.s) && d.s[d.p] == ',' {
				d.p++
				continue
			}
			if d.p < len(d.s) && d.s[d.p] == '}' {
				d.p++
				break
			}
			return nil, d.fail("expected ',' or '}'")
		}
	}
	d.ws()
	if d.p != len(d.s) {
		return nil, d.fail("unexpected data after the document")
	}
	return in, nil
}

func itemsOf(v any, where string) ([]Item, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New(where + " must be an array")
	}
	items := make([]Item, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is not an object", where, i)
		}
		items[i] = m
	}
	return items, nil
}

// portsOf splits the validated inputs object into raw spans per port.
func portsOf(span []byte, pos int) (map[string]json.RawMessage, error) {
	d := &decoder{s: span}
	if span[0] == 'n' {
		return nil, nil
	}
	if span[0] != '{' {
		return nil, &syntaxError{"inputs must be an object", pos}
	}
	ports := map[string]json.RawMessage{}
	d.p++
	d.ws()
	if d.s[d.p] == '}' {
		return ports, nil
	}
	for {
		d.ws()
		k, _ := d.string(true) // validated already
		d.ws()
		d.p++ // ':'
		v, _ := d.skipSpan()
		ports[k.(string)] = json.RawMessage(v)
		d.ws()
		if d.s[d.p] == '}' {
			return ports, nil
		}
		d.p++ // ','
	}
}

// ---- encoding ----

const hexDigits = "0123456789abcdef"

// appendString writes s as encoding/json does with HTML escaping off.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendValue encodes v; types outside the decoded set go through encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		if t {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case string:
		return appendString(b, t), nil
	case json.Number:
		if t == "" {
			return append(b, '0'), nil // as encoding/json
		}
		d := &decoder{s: []byte(t)}
		if _, err := d.number(false); err != nil || d.p != len(d.s) {
			return nil, fmt.Errorf("json: invalid number literal %q", string(t))
		}
		return append(b, t...), nil
	case int:
		return strconv.AppendInt(b, int64(t), 10), nil
	case int64:
		return strconv.AppendInt(b, t, 10), nil
	case map[string]any:
		if t == nil {
			return append(b, "null"...), nil
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, t[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if t == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []Item:
		return appendItems(b, t)
	case json.RawMessage:
		return appendRaw(b, t)
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// appendRaw writes raw JSON as encoding/json does: nil as null, otherwise
// validated and compacted (whitespace outside strings removed, every other
// byte as written).
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if raw == nil {
		return append(b, "null"...), nil
	}
	span, err := oneValue(raw)
	if err != nil {
		return nil, fmt.Errorf("json: invalid json.RawMessage: %w", err)
	}
	return appendCompact(b, span), nil
}

// oneValue validates b as one JSON value with optional surrounding
// whitespace, and returns the value's bytes (not copied).
func oneValue(b []byte) ([]byte, error) {
	d := &decoder{s: b}
	span, err := d.skipSpan()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.p != len(d.s) {
		return nil, d.fail("unexpected data after the value")
	}
	return span, nil
}

// appendCompact appends s, valid JSON, without the whitespace outside strings.
func appendCompact(b, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case ' ', '\t', '\n', '\r':
			b = append(b, s[start:i]...)
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

// appendItems writes a list of items; a nil list as [].
func appendItems(b []byte, items []Item) ([]byte, error) {
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, map[string]any(it)); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}
