//go:build wasip1

package wasmflow

// Copying between Go memory and Extism kernel memory.

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func put64(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	b[4], b[5], b[6], b[7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
}

// InputBytes returns the raw input of the current call (the input document).
func InputBytes() []byte {
	n := extismInputLength()
	b := make([]byte, n)
	var i uint64
	for ; i+8 <= n; i += 8 {
		put64(b[i:], extismInputLoadU64(i))
	}
	for ; i < n; i++ {
		b[i] = byte(extismInputLoadU8(i))
	}
	return b
}

// allocBytes copies b into a new block of kernel memory and returns its handle.
// The caller owns the block: pass it to the host, then free it (except blocks
// given to output_set, which the host keeps).
func allocBytes(b []byte) uint64 {
	n := uint64(len(b))
	off := extismAlloc(n)
	var i uint64
	for ; i+8 <= n; i += 8 {
		extismStoreU64(off+i, le64(b[i:]))
	}
	for ; i < n; i++ {
		extismStoreU8(off+i, uint32(b[i]))
	}
	return off
}

// readBytes copies the kernel memory block at handle off into Go memory.
func readBytes(off uint64) []byte {
	n := extismLength(off)
	b := make([]byte, n)
	var i uint64
	for ; i+8 <= n; i += 8 {
		put64(b[i:], extismLoadU64(off+i))
	}
	for ; i < n; i++ {
		b[i] = byte(extismLoadU8(off + i))
	}
	return b
}

// SetOutput sets the raw output of the current call. A node's output must be an
// output document; Run does this for you.
func SetOutput(b []byte) {
	off := allocBytes(b)
	extismOutputSet(off, uint64(len(b)))
}

// SetError sets the error message of the current call; the export must then
// return a non-zero code. The run fails with this message.
func SetError(msg string) {
	if msg == "" {
		msg = "error"
	}
	extismErrorSet(allocBytes([]byte(msg)))
}

// ConfigGet returns the Extism config value for key (the host may set none).
func ConfigGet(key string) (string, bool) {
	k := allocBytes([]byte(key))
	defer extismFree(k)
	v := extismConfigGet(k)
	if v == 0 {
		return "", false
	}
	defer extismFree(v)
	return string(readBytes(v)), true
}

// VarGet returns the Extism variable key. wasmflow runs every node in a fresh
// instance, so variables live for one run only.
func VarGet(key string) ([]byte, bool) {
	k := allocBytes([]byte(key))
	defer extismFree(k)
	v := extismVarGet(k)
	if v == 0 {
		return nil, false
	}
	return readBytes(v), true
}

// VarSet sets the Extism variable key; a nil value removes it.
func VarSet(key string, value []byte) {
	k := allocBytes([]byte(key))
	defer extismFree(k)
	if value == nil {
		extismVarSet(k, 0)
		return
	}
	v := allocBytes(value)
	defer extismFree(v)
	extismVarSet(k, v)
}
