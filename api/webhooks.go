package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/wasmflow/wasmflow/engine"
	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// hooksPrefix is where webhooks answer: /hooks/{tenant id}/{path}.
const hooksPrefix = "/hooks"

// Webhook headers.
const (
	// HeaderSignature carries an HMAC webhook's signature:
	// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">" (several v1
	// entries allowed, for a key being rotated).
	HeaderSignature = "X-Wasmflow-Signature"
	// HeaderExecutionID names the execution a webhook request started.
	HeaderExecutionID = "X-Wasmflow-Execution-Id"
	// webhookResponseKey, in the one item a last_node webhook answers with,
	// holds the response the workflow sets: {"status", "headers", "body"}.
	webhookResponseKey = "webhook_response"
)

// registerWebhooks adds the webhook routes. They are public URLs, outside
// the API and its OpenAPI document: no API key, any body. Each request
// finds its workflow in the store (store.Triggers.WebhookRouteGet), so
// every API process answers every active webhook, and only those.
func (s *Server) registerWebhooks() {
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		s.app.Add(m, hooksPrefix+"/:tenant/*", s.serveWebhook)
	}
}

// serveWebhook answers a webhook request: it finds the active workflow,
// checks the body's size and the request's authentication, starts the
// execution with the request as its one item, and answers at once (202)
// or with the last node's items.
func (s *Server) serveWebhook(c *fiber.Ctx) error {
	ctx := c.UserContext()
	tenantID, method := c.Params("tenant"), c.Method()
	path, err := workflow.NormalizeWebhookPath(c.Params("*"))
	if err != nil {
		return newProblem(CodeNotFound, "no active webhook "+method+" "+c.Path())
	}
	route, err := s.store.WebhookRouteGet(ctx, tenantID, method, path)
	if errors.Is(err, store.ErrNotFound) {
		return newProblem(CodeNotFound, "no active webhook "+method+" "+c.Path())
	}
	if err != nil {
		return err
	}
	if err := s.rates.check(tenantID); err != nil { // the budget its API requests use too
		return err
	}
	w, err := s.store.WorkflowGet(ctx, tenantID, route.WorkflowID)
	if err != nil {
		return err
	}
	node := w.Definition.Node(route.Node)
	if node == nil {
		return fmt.Errorf("api: webhook route %s %s names node %q, which workflow %s lacks", method, path, route.Node, w.ID)
	}
	hook, problems := workflow.WebhookOf(node)
	if len(problems) > 0 {
		return fmt.Errorf("api: webhook node %q of workflow %s: %s", node.Name, w.ID, problems[0].Message)
	}

	body := c.Request().Body()
	limit := s.hookBodyLimit
	if hook.MaxBodyBytes > 0 {
		limit = min(limit, hook.MaxBodyBytes)
	}
	if len(body) > limit {
		return newProblem(CodeBodyTooLarge, fmt.Sprintf("this webhook takes at most %d bytes", limit))
	}
	if err := s.authenticateWebhook(ctx, c, tenantID, hook, body); err != nil {
		return err
	}
	item, err := webhookItem(c, hook, path, body)
	if err != nil {
		return err
	}
	ex, err := s.engine.Start(ctx, tenantID, w.ID, engine.StartParams{
		Trigger: engine.TriggerWebhook, Node: hook.Node, Input: []workflow.Item{item}, Workflow: w})
	if err != nil {
		return err
	}
	c.Set(HeaderExecutionID, ex.ID)
	if hook.Respond != workflow.RespondLastNode {
		c.Status(http.StatusAccepted)
		return c.JSON(fiber.Map{"execution_id": ex.ID})
	}
	return s.respondLastNode(c, tenantID, ex.ID, hook, &w.Definition)
}

// authenticateWebhook checks the request against the webhook's auth: the
// token header holds the secret's value, or the signature is the secret's
// HMAC of the body, recent, and not used before.
func (s *Server) authenticateWebhook(ctx context.Context, c *fiber.Ctx, tenantID string, hook *workflow.Webhook, body []byte) error {
	if hook.Auth == workflow.WebhookAuthNone {
		return nil
	}
	if s.secrets == nil {
		return errors.New("api: a webhook needs its secret, and this server has no master key")
	}
	key, err := s.secrets.ReadSecret(ctx, tenantID, hook.Secret)
	if err != nil {
		return fmt.Errorf("api: webhook secret %q: %w", hook.Secret, err)
	}
	if hook.Auth == workflow.WebhookAuthHeader {
		got := c.Get(hook.Header)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			return newProblem(CodeWebhookTokenInvalid, "header "+hook.Header+" does not hold this webhook's token")
		}
		return nil
	}
	now := time.Now()
	window := time.Duration(hook.ReplayWindowS) * time.Second
	sig, ts, err := verifySignature([]byte(key), c.Get(HeaderSignature), body, now, window)
	switch {
	case errors.Is(err, errSignatureExpired):
		return newProblem(CodeWebhookSignatureExpired, fmt.Sprintf("the signature's time is more than %d s from the server's", hook.ReplayWindowS),
			FieldProblem{Location: "header." + HeaderSignature, Message: err.Error()})
	case err != nil:
		return newProblem(CodeWebhookSignatureInvalid, "the request is not signed with this webhook's key",
			FieldProblem{Location: "header." + HeaderSignature, Message: err.Error()})
	}
	err = s.store.WebhookSignatureUse(ctx, tenantID, sig, now, ts.Add(window))
	if errors.Is(err, store.ErrConflict) {
		return newProblem(CodeWebhookReplayed, "this signature was used before: sign each request anew")
	}
	return err
}

// Why a signature is refused.
var (
	errSignatureMissing = errors.New("missing: want t=<unix seconds>,v1=<hex hmac-sha256>")
	errSignatureExpired = errors.New("the timestamp is outside the replay window")
	errSignatureWrong   = errors.New("no v1 signature matches the body")
)

// maxSignatures bounds the v1 entries one header may carry.
const maxSignatures = 8

// parseSignature reads an X-Wasmflow-Signature header: "t=<unix
// seconds>,v1=<64 hex digits>", v1 repeatable, other keys ignored (room
// for later schemes), spaces around entries allowed.
func parseSignature(h string) (ts int64, sigs [][]byte, err error) {
	if strings.TrimSpace(h) == "" {
		return 0, nil, errSignatureMissing
	}
	seenT := false
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%q is not key=value", part)
		}
		switch k {
		case "t":
			if seenT {
				return 0, nil, errors.New("t is given twice")
			}
			seenT = true
			ts, err = strconv.ParseInt(v, 10, 64)
			if err != nil || ts <= 0 {
				return 0, nil, fmt.Errorf("t=%q is not a positive unix time in seconds", v)
			}
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return 0, nil, errors.New("v1 is not 64 hex digits")
			}
			if len(sigs) == maxSignatures {
				return 0, nil, fmt.Errorf("more than %d v1 signatures", maxSignatures)
			}
			sigs = append(sigs, sig)
		}
	}
	if !seenT || len(sigs) == 0 {
		return 0, nil, errSignatureMissing
	}
	return ts, sigs, nil
}

// verifySignature checks header against key and body at now: the
// timestamp within window of now and a v1 signature equal to the HMAC of
// "<t>.<body>". It returns the matching signature (hex) and the timestamp.
func verifySignature(key []byte, header string, body []byte, now time.Time, window time.Duration) (string, time.Time, error) {
	ts, sigs, err := parseSignature(header)
	if err != nil {
		return "", time.Time{}, err
	}
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > window || d < -window {
		return "", time.Time{}, errSignatureExpired
	}
	want := SignWebhook(key, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return hex.EncodeToString(sig), at, nil
		}
	}
	return "", time.Time{}, errSignatureWrong
}

// SignWebhook returns the HMAC-SHA256 with key of "<ts>.<body>": what the
// v1 entry of an X-Wasmflow-Signature header holds, hex-encoded.
func SignWebhook(key []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// webhookItem is the execution's one input item: the request's method,
// path, headers (lower-case names; the token header of a header-auth
// webhook left out), query and body (parsed when JSON, text when UTF-8,
// else body_base64).
func webhookItem(c *fiber.Ctx, hook *workflow.Webhook, path string, body []byte) (workflow.Item, error) {
	headers := map[string]any{}
	for k, v := range c.Request().Header.All() {
		name := strings.ToLower(string(k))
		if hook.Auth == workflow.WebhookAuthHeader && strings.EqualFold(name, hook.Header) {
			continue
		}
		if prev, ok := headers[name].(string); ok {
			headers[name] = prev + ", " + string(v)
			continue
		}
		headers[name] = string(v)
	}
	query := map[string]any{}
	for k, v := range c.Request().URI().QueryArgs().All() {
		name, value := string(k), string(v)
		switch prev := query[name].(type) {
		case nil:
			query[name] = value
		case string:
			query[name] = []any{prev, value}
		case []any:
			query[name] = append(prev, value)
		}
	}
	item := workflow.Item{"method": c.Method(), "path": path, "headers": headers, "query": query, "body": nil}
	switch {
	case len(body) == 0:
	case isJSON(c.Get(fiber.HeaderContentType)):
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, newProblem(CodeInvalidJSON, "the body is sent as JSON and is not: "+err.Error(),
				FieldProblem{Location: "body", Message: "not JSON"})
		}
		item["body"] = v
	case utf8.Valid(body):
		item["body"] = string(body)
	default:
		item["body_base64"] = base64.StdEncoding.EncodeToString(body)
	}
	return item, nil
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json type).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// respondLastNode waits for the execution, then answers with the items of
// the webhook's response node (or the node that finished last); 504 when
// it has not finished within the webhook's wait, 502 when it failed.
func (s *Server) respondLastNode(c *fiber.Ctx, tenantID, id string, hook *workflow.Webhook, def *workflow.Workflow) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Duration(hook.ResponseTimeoutMS)*time.Millisecond)
	defer cancel()
	ex, err := s.engine.Wait(ctx, tenantID, id)
	if err != nil {
		return err
	}
	switch ex.Status {
	case store.ExecutionSucceeded:
	case store.ExecutionFailed, store.ExecutionCancelled:
		// The caller is not the workflow's owner: no node error goes out.
		return newProblem(CodeExecutionFailed, fmt.Sprintf("execution %s %s", id, ex.Status))
	default:
		return newProblem(CodeWebhookTimeout, fmt.Sprintf("execution %s did not finish within %d ms; it goes on", id, hook.ResponseTimeoutMS))
	}
	runs, err := s.store.NodeRunList(c.UserContext(), tenantID, id)
	if err != nil {
		return err
	}
	items := responseItems(runs, def, hook.ResponseNode)
	if len(items) == 1 {
		if r, ok := items[0][webhookResponseKey].(map[string]any); ok {
			return writeWorkflowResponse(c, r)
		}
	}
	return c.JSON(items)
}

// responseItems are the output items of the response node's latest run,
// or, with no response node, of the succeeded run that finished last,
// trigger nodes aside unless only they ran. Items of several output ports
// are joined in port order.
func responseItems(runs []*store.NodeRun, def *workflow.Workflow, responseNode string) []workflow.Item {
	var last, lastTrigger *store.NodeRun
	later := func(r, than *store.NodeRun) bool { return than == nil || !r.FinishedAt.Before(*than.FinishedAt) }
	for _, r := range runs {
		switch {
		case responseNode != "":
			if r.Node == responseNode {
				last = r
			}
		case r.Status != store.RunSucceeded || r.FinishedAt == nil:
		case isTrigger(def, r.Node):
			if later(r, lastTrigger) {
				lastTrigger = r
			}
		case later(r, last):
			last = r
		}
	}
	if last == nil && responseNode == "" {
		last = lastTrigger
	}
	items := []workflow.Item{}
	if last == nil || last.Status != store.RunSucceeded || len(last.Output) == 0 {
		return items
	}
	var doc workflow.OutputDocument
	if json.Unmarshal(last.Output, &doc) != nil {
		return items
	}
	items = append(items, doc.Items...)
	ports := make([]string, 0, len(doc.Outputs))
	for p := range doc.Outputs {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	for _, p := range ports {
		items = append(items, doc.Outputs[p]...)
	}
	return items
}

func isTrigger(def *workflow.Workflow, name string) bool {
	n := def.Node(name)
	return n != nil && n.IsTrigger()
}

// reservedResponseHeaders are headers a workflow may not set: the server
// frames the response and numbers the request.
var reservedResponseHeaders = []string{"connection", "content-length", "date", "keep-alive", "proxy-authenticate",
	"server", "te", "trailer", "transfer-encoding", "upgrade", strings.ToLower(HeaderRequestID), strings.ToLower(HeaderExecutionID)}

// writeWorkflowResponse sends the response a workflow set: status (100 to
// 599, default 200), headers (string values; reserved ones and values
// with line breaks are dropped) and body (a string as text, anything else
// as JSON).
func writeWorkflowResponse(c *fiber.Ctx, r map[string]any) error {
	status := http.StatusOK
	if f, ok := r["status"].(float64); ok && f == math.Trunc(f) && f >= 200 && f <= 599 {
		status = int(f)
	}
	headers, _ := r["headers"].(map[string]any)
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names)
	contentType := ""
	for _, name := range names {
		v, ok := headers[name].(string)
		lower := strings.ToLower(name)
		if !ok || slices.Contains(reservedResponseHeaders, lower) || strings.ContainsAny(v, "\r\n\x00") || !validHeaderToken(name) {
			continue
		}
		if lower == "content-type" {
			contentType = v
			continue
		}
		c.Set(name, v)
	}
	c.Status(status)
	switch b := r["body"].(type) {
	case nil:
		return nil
	case string:
		c.Set(fiber.HeaderContentType, cmp.Or(contentType, fiber.MIMETextPlainCharsetUTF8))
		return c.SendString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("api: encode the workflow's response: %w", err)
		}
		c.Set(fiber.HeaderContentType, cmp.Or(contentType, fiber.MIMEApplicationJSON))
		return c.Send(data)
	}
}

func validHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		ch := s[i]
		if ch <= ' ' || ch >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), ch) >= 0 {
			return false
		}
	}
	return true
}
