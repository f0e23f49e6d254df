#!/bin/sh
# gen.sh rebuilds every .wasm fixture here from its .wat source.
# Needs wat2wasm (Debian: apt-get install wabt).
set -eu
cd "$(dirname "$0")"
for wat in *.wat; do
	wat2wasm "$wat" -o "${wat%.wat}.wasm"
done
