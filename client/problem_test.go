package client

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzNewProblem: whatever an error answer holds, reading it never panics,
// keeps the status, and a body that is not a problem document is quoted as
// one short line of valid UTF-8.
func FuzzNewProblem(f *testing.F) {
	f.Add("application/problem+json", []byte(`{"code": "not_found", "title": "resource not found", "errors": [{"location": "path.name", "message": "x"}]}`))
	f.Add("application/json", []byte(`{"code": 1}`))
	f.Add("text/html; charset=utf-8", []byte("<html>\n\xff\xfe</html>"))
	f.Add("", []byte(strings.Repeat("é", 200)))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		resp := &http.Response{StatusCode: 418, Header: http.Header{"Content-Type": {contentType}}}
		p := newProblem(resp, body)
		require.Equal(t, 418, p.Status)
		_ = p.Error()
		if p.Code == "" && p.Title == "i'm a teapot" {
			require.True(t, utf8.ValidString(p.Detail))
			require.NotContains(t, p.Detail, "\n")
			require.LessOrEqual(t, len(p.Detail), maxDetailBytes+len("…"))
		}
	})
}
