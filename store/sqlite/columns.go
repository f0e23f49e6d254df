package sqlite

import (
	"fmt"
	"time"
)

// us is a time as the store keeps it: microseconds since the Unix epoch.
func us(t time.Time) int64 { return t.UnixMicro() }

// usp is us for an optional time: nil is SQL NULL.
func usp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// micros scans an INTEGER of microseconds into a time.Time (UTC).
type micros struct{ t *time.Time }

func (m micros) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("store: time column holds %T, not an integer", src)
	}
	*m.t = time.UnixMicro(v).UTC()
	return nil
}

// optMicros scans a nullable INTEGER of microseconds into a *time.Time.
type optMicros struct{ t **time.Time }

func (m optMicros) Scan(src any) error {
	if src == nil {
		*m.t = nil
		return nil
	}
	var t time.Time
	if err := (micros{&t}).Scan(src); err != nil {
		return err
	}
	*m.t = &t
	return nil
}

// jsonArg is a JSON document as the store keeps it: TEXT, or NULL for none.
func jsonArg(raw []byte) any {
	if raw == nil {
		return nil
	}
	return string(raw)
}
