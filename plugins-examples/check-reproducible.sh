#!/usr/bin/env bash
# Rebuilds every example node from scratch in a temporary copy of
# plugins-examples (another path, no build outputs, fresh node_modules) and
# fails if any <node>/<node>.wasm differs from the one in this tree.
#
# Byte-identical results need the same toolchain versions as the committed
# build: Go 1.26.x (the version string is embedded), Debian 12's clang 14 +
# wasi-libc 0.0~git20220510 + lld 14, Debian's rustc 1.63.0 with
# libstd-rust-dev-wasm32, and the npm lockfile (AssemblyScript 0.28.20, binaryen
# 131.0.0-nightly.20260721). The script prints them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasmflow-repro.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
nodes=(set-fields filter hash text-template http-request)

echo "toolchains:"
echo "  $(go version)"
echo "  $(clang --version | head -n1)"
echo "  wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo '?')"
echo "  $(/usr/bin/rustc --version)"
echo "  node $(node --version), npm $(npm --version)"

mkdir -p "$tmp/plugins-examples"
tar -C "$here" --exclude=node_modules --exclude='*.wasm' -cf - . | tar -C "$tmp/plugins-examples" -xf -

echo "building in $tmp/plugins-examples"
if ! make -C "$tmp/plugins-examples" all >"$tmp/build.log" 2>&1; then
	cat "$tmp/build.log"
	echo "FAIL: build failed" >&2
	exit 1
fi

fail=0
for n in "${nodes[@]}"; do
	want="$here/$n/$n.wasm"
	got="$tmp/plugins-examples/$n/$n.wasm"
	if [ ! -f "$want" ]; then
		echo "FAIL $n: $want is missing (run make all)"
		fail=1
		continue
	fi
	w=$(sha256sum "$want" | cut -d' ' -f1)
	g=$(sha256sum "$got" | cut -d' ' -f1)
	if [ "$w" = "$g" ]; then
		printf 'ok   %-14s %8d bytes  sha256 %s\n' "$n" "$(stat -c %s "$got")" "$g"
	else
		printf 'FAIL %-14s tree %s, rebuilt %s\n' "$n" "$w" "$g"
		fail=1
	fi
done
if [ "$fail" != 0 ]; then
	echo "not reproducible: a rebuilt module differs from the tree" >&2
	exit 1
fi
echo "all modules reproducible"
