module github.com/wasmflow/wasmflow/plugins-examples

go 1.26
