package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

var (
	errTooBig  = errors.New("value is too large")
	errTooDeep = fmt.Errorf("value is nested deeper than %d levels", MaxParamsDepth)
)

// normalize turns an expression's value into the JSON data model: nil,
// bool, string, int, float64, []any and map[string]any. Times become RFC 3339
// strings and durations strings such as "1h30m0s"; other lists and maps are
// converted; a non-finite number, a function or any other Go value is an
// error. *left is the JSON size still allowed: each value costs its
// approximate encoded size, so a list that holds the same list many times
// costs what it encodes to, and normalize stops as soon as it is over.
// changed reports that the result is not v itself.
func normalize(v any, depth int, left *int) (out any, changed bool, err error) {
	if depth > MaxParamsDepth {
		return nil, false, errTooDeep
	}
	charge := func(n int) error {
		*left -= n
		if *left < 0 {
			return errTooBig
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
		return nil, false, charge(4)
	case bool:
		return x, false, charge(5)
	case string:
		return x, false, charge(len(x) + 2)
	case int:
		return x, false, charge(20)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false, fmt.Errorf("the number %v has no JSON form", x)
		}
		return x, false, charge(24)
	case json.Number:
		return x, false, charge(len(x))
	case time.Time:
		s := x.Format(time.RFC3339Nano)
		return s, true, charge(len(s) + 2)
	case time.Duration:
		s := x.String()
		return s, true, charge(len(s) + 2)
	case []any:
		if x == nil {
			return nil, true, charge(4)
		}
		if err := charge(2 + len(x)); err != nil {
			return nil, false, err
		}
		var copied []any
		for i, e := range x {
			ne, ch, err := normalize(e, depth+1, left)
			if err != nil {
				return nil, false, err
			}
			if ch && copied == nil {
				copied = make([]any, len(x))
				copy(copied, x[:i])
			}
			if copied != nil {
				copied[i] = ne
			}
		}
		if copied == nil {
			return x, false, nil
		}
		return copied, true, nil
	case map[string]any:
		if x == nil {
			return nil, true, charge(4)
		}
		if err := charge(2 + len(x)); err != nil {
			return nil, false, err
		}
		var copied map[string]any
		for k, e := range x {
			if err := charge(len(k) + 3); err != nil {
				return nil, false, err
			}
			ne, ch, err := normalize(e, depth+1, left)
			if err != nil {
				return nil, false, err
			}
			if ch && copied == nil {
				copied = make(map[string]any, len(x))
				for k2, e2 := range x {
					copied[k2] = e2
				}
			}
			if copied != nil {
				copied[k] = ne
			}
		}
		if copied == nil {
			return x, false, nil
		}
		return copied, true, nil
	case nodeVars:
		var first any = x.JSON
		if x.JSON == nil {
			first = nil
		}
		return normalizeMap(map[string]any{"items": x.Items, "json": first}, depth, left)
	case executionVars:
		return normalizeMap(map[string]any{"id": x.ID, "workflow_id": x.WorkflowID, "attempt": x.Attempt}, depth, left)
	}
	return normalizeReflect(reflect.ValueOf(v), depth, left, charge)
}

func normalizeMap(m map[string]any, depth int, left *int) (any, bool, error) {
	out, _, err := normalize(m, depth, left)
	return out, true, err
}

// normalizeReflect handles the other kinds: named numbers (time.Month),
// typed lists ([]int, []Item, [2]any), maps with other keys (groupBy).
func normalizeReflect(rv reflect.Value, depth int, left *int, charge func(int) error) (any, bool, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), true, charge(5)
	case reflect.String:
		return rv.String(), true, charge(rv.Len() + 2)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(rv.Int()), true, charge(20)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := rv.Uint(); u <= math.MaxInt {
			return int(u), true, charge(20)
		}
		return rv.Uint(), true, charge(20)
	case reflect.Float32:
		return normalize(rv.Float(), depth, left)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, true, charge(4)
		}
		n := rv.Len()
		if err := charge(2 + n); err != nil {
			return nil, false, err
		}
		out := make([]any, n)
		for i := range n {
			e, _, err := normalize(rv.Index(i).Interface(), depth+1, left)
			if err != nil {
				return nil, false, err
			}
			out[i] = e
		}
		return out, true, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, true, charge(4)
		}
		if err := charge(2 + rv.Len()); err != nil {
			return nil, false, err
		}
		out := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k, err := mapKey(it.Key(), left)
			if err != nil {
				return nil, false, err
			}
			if err := charge(len(k) + 3); err != nil {
				return nil, false, err
			}
			e, _, err := normalize(it.Value().Interface(), depth+1, left)
			if err != nil {
				return nil, false, err
			}
			out[k] = e
		}
		return out, true, nil
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return nil, true, charge(4)
		}
	}
	return nil, false, fmt.Errorf("a value of type %s has no JSON form", rv.Type())
}

// mapKey turns a map key into a JSON object key: strings as they are,
// other values as their JSON (1, true, null).
func mapKey(k reflect.Value, left *int) (string, error) {
	if k.Kind() == reflect.String {
		return k.String(), nil
	}
	if k.Kind() == reflect.Interface {
		if k.IsNil() {
			return "null", nil
		}
		k = k.Elem()
		if k.Kind() == reflect.String {
			return k.String(), nil
		}
	}
	v, _, err := normalize(k.Interface(), MaxParamsDepth, left)
	if err != nil {
		return "", err
	}
	return encodeCompact(v)
}

// encodeCompact encodes a normalized value as compact JSON, without
// escaping <, > and &.
func encodeCompact(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// formatValue formats a normalized value inside a string template.
func formatValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return encodeCompact(v)
}
