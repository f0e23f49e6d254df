// Command wasmflow is the one binary of the platform: the server in each of
// its roles, the migrations, and the tools for operators and node authors.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// Schedules name IANA time zones: the binary carries the database, so
	// a container without /usr/share/zoneinfo reads them too.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmflow:", err)
		os.Exit(1)
	}
}
