// Package storetest is the conformance suite of [store.Store]: every
// backend's tests run it, so that the backends behave alike. Only _test.go
// files import it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
//	}
//
// Each case runs in parallel on a store of its own, which open must return
// migrated and empty, and close in t.Cleanup.
package storetest

import (
	"testing"

	"github.com/wasmflow/wasmflow/store"
)

// testCase is one behaviour of the contract, checked on a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// Run runs every case of the suite, each in parallel on a store of its own
// returned by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := [][]testCase{
		tenantCases(), apiKeyCases(), userCases(), refreshTokenCases(), workflowCases(), triggerCases(), moduleCases(),
		executionCases(), runCases(), admissionCases(), secretCases(), secretBindingCases(),
		auditCases(), paginationCases(), lifecycleCases(), signingCases(),
	}
	for _, cases := range groups {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.run(t, open(t))
			})
		}
	}
}
