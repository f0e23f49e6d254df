package api

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// HeaderRequestID carries the request id in both directions: a well-formed
// incoming one is kept (a proxy's), otherwise the server makes one.
const HeaderRequestID = "X-Request-Id"

// requestInfo is what one request learns on its way through, for its log
// line: request-scoped data only.
type requestInfo struct {
	id        string
	start     time.Time
	method    string
	path      string
	principal *auth.Principal // set by authorize
	err       error           // the cause of a 5xx
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// requestID returns the id a request will be known by.
func requestID(incoming string) string {
	if len(incoming) == 0 || len(incoming) > 128 {
		return store.NewID("req")
	}
	for i := 0; i < len(incoming); i++ {
		if c := incoming[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return store.NewID("req")
		}
	}
	return incoming
}

// beginRequest gives the request its id and the context that carries it.
func (s *Server) beginRequest(c *fiber.Ctx) *requestInfo {
	info := &requestInfo{
		id:     requestID(c.Get(HeaderRequestID)),
		start:  time.Now(),
		method: c.Method(),
		path:   c.Path(),
	}
	c.Set(HeaderRequestID, info.id)
	c.SetUserContext(context.WithValue(c.UserContext(), requestInfoKey{}, info))
	return info
}

// serveRequest wraps every request: id, panic recovery, error mapping for
// whatever the chain returns, and one log line.
func (s *Server) serveRequest(c *fiber.Ctx) error {
	info := s.beginRequest(c)
	defer s.logRequest(c, info)
	defer func() {
		if r := recover(); r != nil {
			c.Response().ResetBody()
			c.Response().Header.Del(fiber.HeaderETag)
			_ = s.fiberError(c, fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := refuseContentEncoding(c); err != nil {
		return s.fiberError(c, err)
	}
	if err := c.Next(); err != nil {
		return s.fiberError(c, err)
	}
	return nil
}

// refuseContentEncoding refuses a compressed request body before anything
// reads it: Fiber's Ctx.Body decompresses without a bound, so a few KiB of
// gzip could become gigabytes in memory.
func refuseContentEncoding(c *fiber.Ctx) error {
	ce := strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))
	if ce == "" || strings.EqualFold(ce, "identity") {
		return nil
	}
	return newProblem(CodeUnsupportedMediaType, "request bodies are not compressed: send no Content-Encoding",
		FieldProblem{Location: "header.Content-Encoding", Message: "not supported"})
}

// logRequest writes the request's line. The Authorization header is never
// logged; the tenant comes from the authenticated principal.
func (s *Server) logRequest(c *fiber.Ctx, info *requestInfo) {
	status := c.Response().StatusCode()
	attrs := []slog.Attr{
		slog.String("method", info.method),
		slog.String("path", info.path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(info.start)),
		slog.String("request_id", info.id),
	}
	if p := info.principal; p != nil {
		attrs = append(attrs, slog.String("tenant", p.TenantID), slog.String("actor", p.Actor))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
		if info.err != nil {
			attrs = append(attrs, slog.String("err", info.err.Error()))
		}
	}
	s.logger.LogAttrs(c.UserContext(), level, "request", attrs...)
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
