package workflow

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Webhook response modes (param "respond" of a trigger.webhook node).
const (
	// RespondImmediately answers 202 with the execution id once it is started.
	RespondImmediately = "immediately"
	// RespondLastNode waits for the execution and answers with the items of
	// its last node (or the node named by "response_node").
	RespondLastNode = "last_node"
)

// Webhook authentication modes (param "auth" of a trigger.webhook node).
const (
	WebhookAuthNone   = "none"
	WebhookAuthHeader = "header" // a header must hold the value of a tenant secret
	WebhookAuthHMAC   = "hmac"   // X-Wasmflow-Signature: t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">
)

// Missed-tick policies of a trigger.schedule node (param "missed").
const (
	// MissedSkip drops the ticks missed while no scheduler ran.
	MissedSkip = "skip"
	// MissedRunOnce runs once for all the ticks missed while no scheduler ran.
	MissedRunOnce = "run_once"
)

// Webhook bounds and defaults.
const (
	DefaultWebhookHeader       = "X-Wasmflow-Token"
	DefaultReplayWindowS       = 300
	MaxReplayWindowS           = 3600
	DefaultResponseTimeoutMS   = 30_000
	MaxResponseTimeoutMS       = 300_000
	MaxWebhookPathLength       = 200
	maxWebhookPathSegments     = 16
	maxWebhookPathSegmentBytes = 64
)

// Webhook is a trigger.webhook node's configuration, read from its params.
type Webhook struct {
	// Node is the trigger node's name.
	Node string
	// Method is the HTTP method it answers (upper case); default POST.
	Method string
	// Path is the part of the URL after /hooks/{tenant}/, without leading or
	// trailing slashes: one or more segments of [A-Za-z0-9._~-].
	Path string
	// Respond is RespondImmediately (default) or RespondLastNode.
	Respond string
	// ResponseNode names the node whose items answer a last_node webhook;
	// empty means the node that finished last.
	ResponseNode string
	// ResponseTimeoutMS bounds how long a last_node webhook waits before it
	// answers 504; default 30 s, at most 5 min.
	ResponseTimeoutMS int
	// Auth is WebhookAuthNone (default), WebhookAuthHeader or WebhookAuthHMAC.
	Auth string
	// Header is the header that holds the token for WebhookAuthHeader.
	Header string
	// Secret names the tenant secret holding the token or the HMAC key.
	Secret string
	// ReplayWindowS is how far an HMAC signature's timestamp may be from
	// now, in seconds, and how long a used signature is remembered.
	ReplayWindowS int
	// MaxBodyBytes caps the request body; 0 is the server's cap, which also
	// caps any larger value.
	MaxBodyBytes int
}

// Schedule is a trigger.schedule node's configuration, read from its params.
type Schedule struct {
	// Node is the trigger node's name.
	Node string
	// Cron is the cron spec: five fields, or six with seconds first, or a
	// descriptor such as @hourly or @every 10s.
	Cron string
	// Timezone is the IANA zone the spec is read in; default UTC.
	Timezone string
	// Missed is MissedSkip (default) or MissedRunOnce.
	Missed string
}

// webhookMethods are the methods a webhook may answer.
var webhookMethods = []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete}

var pathSegment = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// NormalizeWebhookPath returns path without leading and trailing slashes,
// or an error saying why it is not a webhook path.
func NormalizeWebhookPath(path string) (string, error) {
	p := strings.Trim(path, "/")
	switch {
	case p == "":
		return "", fmt.Errorf("is required: a path such as orders/new")
	case len(p) > MaxWebhookPathLength:
		return "", fmt.Errorf("is longer than %d characters", MaxWebhookPathLength)
	}
	segs := strings.Split(p, "/")
	if len(segs) > maxWebhookPathSegments {
		return "", fmt.Errorf("has more than %d segments", maxWebhookPathSegments)
	}
	for _, s := range segs {
		switch {
		case s == "":
			return "", fmt.Errorf("%q has an empty segment (//)", path)
		case s == "." || s == "..":
			return "", fmt.Errorf("%q has a %q segment", path, s)
		case len(s) > maxWebhookPathSegmentBytes:
			return "", fmt.Errorf("has a segment longer than %d characters", maxWebhookPathSegmentBytes)
		case !pathSegment.MatchString(s):
			return "", fmt.Errorf("%q may hold only letters, digits, '.', '_', '~', '-' and '/'", path)
		}
	}
	return p, nil
}

// WebhookOf reads a trigger.webhook node's params, filling in defaults. The
// problems are at paths relative to the node ("params.path").
func WebhookOf(n *Node) (*Webhook, []Problem) {
	var problems []Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Path: "params." + field, Message: fmt.Sprintf(format, args...)})
	}
	w := &Webhook{Node: n.Name}
	p := n.Params

	path, _ := p["path"].(string)
	if norm, err := NormalizeWebhookPath(path); err != nil {
		add("path", "%s", err.Error())
	} else {
		w.Path = norm
	}
	w.Method = strings.ToUpper(stringParam(p, "method", http.MethodPost))
	if !slices.Contains(webhookMethods, w.Method) {
		add("method", "must be one of %s", strings.Join(webhookMethods, ", "))
	}
	w.Respond = stringParam(p, "respond", RespondImmediately)
	if w.Respond != RespondImmediately && w.Respond != RespondLastNode {
		add("respond", "must be %q or %q", RespondImmediately, RespondLastNode)
	}
	w.ResponseNode = stringParam(p, "response_node", "")
	w.ResponseTimeoutMS = intParam(p, "response_timeout_ms", DefaultResponseTimeoutMS)
	if w.ResponseTimeoutMS < 1 || w.ResponseTimeoutMS > MaxResponseTimeoutMS {
		add("response_timeout_ms", "must be between 1 and %d", MaxResponseTimeoutMS)
	}
	w.Auth = stringParam(p, "auth", WebhookAuthNone)
	w.Header = stringParam(p, "header", DefaultWebhookHeader)
	w.Secret = stringParam(p, "secret", "")
	w.ReplayWindowS = intParam(p, "replay_window_s", DefaultReplayWindowS)
	switch w.Auth {
	case WebhookAuthNone:
	case WebhookAuthHeader, WebhookAuthHMAC:
		if w.Secret == "" {
			add("secret", "is required with auth %q: the name of the tenant secret that holds the key", w.Auth)
		}
		if w.Auth == WebhookAuthHeader && !validHeaderName(w.Header) {
			add("header", "%q is not a header name", w.Header)
		}
		if w.ReplayWindowS < 1 || w.ReplayWindowS > MaxReplayWindowS {
			add("replay_window_s", "must be between 1 and %d", MaxReplayWindowS)
		}
	default:
		add("auth", "must be %q, %q or %q", WebhookAuthNone, WebhookAuthHeader, WebhookAuthHMAC)
	}
	w.MaxBodyBytes = intParam(p, "max_body_bytes", 0)
	if w.MaxBodyBytes < 0 {
		add("max_body_bytes", "must not be negative")
	}
	for _, key := range []string{"method", "respond", "response_node", "auth", "header", "secret", "path"} {
		if v, ok := p[key]; ok {
			if _, isString := v.(string); !isString {
				add(key, "must be a string")
			}
		}
	}
	return w, problems
}

// ScheduleOf reads a trigger.schedule node's params, filling in defaults.
// The cron spec's syntax is checked by whoever parses it (the engine); the
// time zone is checked here.
func ScheduleOf(n *Node) (*Schedule, []Problem) {
	var problems []Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Path: "params." + field, Message: fmt.Sprintf(format, args...)})
	}
	p := n.Params
	s := &Schedule{Node: n.Name, Cron: strings.TrimSpace(stringParam(p, "cron", "")),
		Timezone: stringParam(p, "timezone", "UTC"), Missed: stringParam(p, "missed", MissedSkip)}
	if s.Cron == "" {
		add("cron", "is required: a cron spec such as \"*/5 * * * *\" or \"@hourly\"")
	}
	if strings.HasPrefix(s.Cron, "TZ=") || strings.HasPrefix(s.Cron, "CRON_TZ=") {
		add("cron", "names its time zone in the timezone param, not in the spec")
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		add("timezone", "%q is not an IANA time zone such as Europe/Berlin", s.Timezone)
	}
	if s.Missed != MissedSkip && s.Missed != MissedRunOnce {
		add("missed", "must be %q or %q", MissedSkip, MissedRunOnce)
	}
	for _, key := range []string{"cron", "timezone", "missed"} {
		if v, ok := p[key]; ok {
			if _, isString := v.(string); !isString {
				add(key, "must be a string")
			}
		}
	}
	return s, problems
}

// Webhooks lists the workflow's webhook triggers whose params are valid.
func (w *Workflow) Webhooks() []*Webhook {
	var out []*Webhook
	for i := range w.Nodes {
		if w.Nodes[i].Type != TypeWebhookTrigger {
			continue
		}
		if hook, problems := WebhookOf(&w.Nodes[i]); len(problems) == 0 {
			out = append(out, hook)
		}
	}
	return out
}

// Schedules lists the workflow's schedule triggers whose params are valid.
func (w *Workflow) Schedules() []*Schedule {
	var out []*Schedule
	for i := range w.Nodes {
		if w.Nodes[i].Type != TypeScheduleTrigger {
			continue
		}
		if s, problems := ScheduleOf(&w.Nodes[i]); len(problems) == 0 {
			out = append(out, s)
		}
	}
	return out
}

func stringParam(p map[string]any, key, def string) string {
	if s, ok := p[key].(string); ok && s != "" {
		return s
	}
	return def
}

// intParam reads a whole number (JSON numbers decode as float64); def when
// absent, -1 when not a whole number, so that range checks refuse it.
func intParam(p map[string]any, key string, def int) int {
	v, ok := p[key]
	if !ok || v == nil {
		return def
	}
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) || n > 1<<40 || n < -(1<<40) {
			return -1
		}
		return int(n)
	case int:
		return n
	}
	return -1
}

func validHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}
