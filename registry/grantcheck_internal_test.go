package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmflow/wasmflow/workflow"
)

func TestHostCovered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host     string
		patterns []string
		want     bool
	}{
		{"api.example.com", []string{"api.example.com"}, true},
		{"API.example.com", []string{"api.EXAMPLE.com"}, true},
		{"api.example.com", []string{"*.example.com"}, true},
		{"*.eu.example.com", []string{"*.example.com"}, true},
		{"*.example.com", []string{"*.example.com"}, true},
		{"example.com", []string{"*.example.com"}, false},
		{"*.example.com", []string{"api.example.com"}, false},
		{"evilexample.com", []string{"*.example.com"}, false},
		{"*", []string{"*.example.com", "api.example.com"}, false},
		{"*", []string{"*"}, true},
		{"anything.at.all", []string{"*"}, true},
		{"a.example.com", nil, false},
	} {
		require.Equal(t, tc.want, hostCovered(tc.host, tc.patterns), "%s in %v", tc.host, tc.patterns)
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	asked := workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"*.example.com"}, Methods: []string{"GET"}}, Secrets: []string{"token"}}
	for _, tc := range []struct {
		name string
		want workflow.Capabilities
		ok   bool
		what string
	}{
		{"nothing", workflow.Capabilities{}, true, ""},
		{"the same", asked, true, ""},
		{"a narrower host", workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.example.com"}, Methods: []string{"get"}}}, true, ""},
		{"another host", workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"example.org"}, Methods: []string{"GET"}}}, false, `HTTP to "example.org"`},
		{"every method", workflow.Capabilities{HTTP: &workflow.HTTPCapability{Hosts: []string{"a.example.com"}}}, false, "more HTTP methods"},
		{"another secret", workflow.Capabilities{Secrets: []string{"token", "password"}}, false, `secret "password"`},
	} {
		what, ok := covers(asked, tc.want)
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.what, what, tc.name)
	}
	what, ok := covers(workflow.Capabilities{}, asked)
	require.False(t, ok)
	require.Equal(t, "HTTP", what)
}

// FuzzCheckGrant: a grant that checkGrant accepts for a request is always
// covered by that request (what a run checks), and checking never panics.
func FuzzCheckGrant(f *testing.F) {
	f.Add("*.example.com,api.example.com", "GET,POST", "token", "api.example.com", "GET", "token")
	f.Add("*", "", "", "*.x.y", "", "")
	f.Add("a.b", "GET", "s", "*.b", "get", "")
	f.Fuzz(func(t *testing.T, askedHosts, askedMethods, askedSecrets, hosts, methods, secrets string) {
		list := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		caps := func(h, m, s string) workflow.Capabilities {
			c := workflow.Capabilities{Secrets: list(s)}
			if h != "" {
				c.HTTP = &workflow.HTTPCapability{Hosts: list(h), Methods: list(m)}
			}
			return c
		}
		asked, grant := caps(askedHosts, askedMethods, askedSecrets), caps(hosts, methods, secrets)
		if checkGrant(grant, asked) != nil {
			return
		}
		_, ok := covers(asked, grant)
		require.True(t, ok, "granted %+v for %+v, which does not cover it", grant, asked)
		_, self := covers(asked, asked)
		require.True(t, self)
	})
}
