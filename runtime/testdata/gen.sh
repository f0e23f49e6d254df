#!/bin/sh
# gen.sh rebuilds every .wasm fixture here from its .wat source.
# Needs wat2wasm (Debian: apt-get install wabt). Fixtures named crash_*.wat
# are invalid on purpose and are built without validation (--no-check).
set -eu
cd "$(dirname "$0")"
for wat in *.wat; do
	case "$wat" in
	crash_*) wat2wasm --no-check "$wat" -o "${wat%.wat}.wasm" ;;
	*) wat2wasm "$wat" -o "${wat%.wat}.wasm" ;;
	esac
done
