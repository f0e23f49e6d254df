package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// idEncoding is lower-case Crockford base32: ids sort as text in creation order.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new id such as "wf_01jd…": 48 bits of milliseconds, so ids
// sort by creation time and keyset pagination can use them, then 80 random
// bits, so no id can be guessed from another.
func NewID(prefix string) string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}
