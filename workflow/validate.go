package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Bounds a workflow must stay within.
const (
	MaxNodes          = 500
	MaxConnections    = 2000
	MaxNameLength     = 200
	MaxNodeNameLength = 128
	MaxRetryAttempts  = 10
	MaxBackoffMS      = 3_600_000  // one hour
	MaxTimeoutMS      = 86_400_000 // one day
)

// Problem is one thing wrong with a workflow, at a JSON path such as
// "nodes[2].name" or "connections[0].to".
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every problem found, in document order.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflow: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", p.Path, p.Message)
	}
	return b.String()
}

// ValidateOptions supplies what validation cannot know on its own.
type ValidateOptions struct {
	// ModulePorts returns the input and output ports of a module reference
	// ("owner/name@range"). When nil, or when it reports ok=false, a module
	// node's ports are not checked.
	ModulePorts func(module string) (inputs, outputs []string, ok bool)
	// Cron checks a trigger.schedule node's cron spec. When nil, specs are
	// checked only for presence.
	Cron func(spec string) error
}

var (
	// modulePattern is "owner/name", lower case, as in the registry.
	modulePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?/[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
	// rangePattern admits semver versions and constraints ("1.2.0", "^1", ">=1.2 <2", "1.x");
	// the registry parses them for real.
	rangePattern = regexp.MustCompile(`^[0-9A-Za-z.*^~<>=!|, +-]{1,64}$`)
)

// Parse decodes a workflow strictly (unknown fields and trailing data are
// errors) and validates it. Every problem comes back in one *ValidationError.
func Parse(data []byte) (*Workflow, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w Workflow
	if err := dec.Decode(&w); err != nil {
		return nil, decodeProblem(err)
	}
	if dec.More() {
		return nil, &ValidationError{Problems: []Problem{{Path: "", Message: "unexpected data after the workflow object"}}}
	}
	w.Normalize()
	if err := w.Validate(nil); err != nil {
		return nil, err
	}
	return &w, nil
}

// Normalize gives equal workflows one representation: empty maps are nil,
// and the node and connection lists are never nil (they encode as []).
func (w *Workflow) Normalize() {
	if w.Nodes == nil {
		w.Nodes = []Node{}
	}
	if w.Connections == nil {
		w.Connections = []Connection{}
	}
	for i := range w.Nodes {
		if len(w.Nodes[i].Params) == 0 {
			w.Nodes[i].Params = nil
		}
		if len(w.Nodes[i].Secrets) == 0 {
			w.Nodes[i].Secrets = nil
		}
	}
}

// decodeProblem turns a JSON decoding error into a problem with a path where
// the decoder tells one.
func decodeProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &ValidationError{Problems: []Problem{{
			Path:    typeErr.Field,
			Message: fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value),
		}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ValidationError{Problems: []Problem{{Path: strings.Trim(name, `"`), Message: "unknown field"}}}
	}
	return &ValidationError{Problems: []Problem{{Path: "", Message: "malformed JSON: " + err.Error()}}}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	}
	return "an object"
}

// Validate checks the workflow and returns a *ValidationError listing every
// problem, or nil. opts may be nil.
func (w *Workflow) Validate(opts *ValidateOptions) error {
	v := validator{w: w, byName: make(map[string]int, len(w.Nodes)), webhooks: map[string]int{}}
	if opts != nil {
		v.opts = *opts
	}
	v.workflow()
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	w        *Workflow
	opts     ValidateOptions
	byName   map[string]int // node name → index of its first occurrence
	webhooks map[string]int // "METHOD path" → index of the webhook node that has it
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) workflow() {
	w := v.w
	switch {
	case strings.TrimSpace(w.Name) == "":
		v.add("name", "is required")
	case len(w.Name) > MaxNameLength:
		v.add("name", "is longer than %d characters", MaxNameLength)
	}
	switch {
	case len(w.Nodes) == 0:
		v.add("nodes", "a workflow needs at least one node")
	case len(w.Nodes) > MaxNodes:
		v.add("nodes", "has %d nodes, more than the %d allowed", len(w.Nodes), MaxNodes)
		return
	}
	if len(w.Connections) > MaxConnections {
		v.add("connections", "has %d connections, more than the %d allowed", len(w.Connections), MaxConnections)
		return
	}
	triggers := 0
	for i := range w.Nodes {
		v.node(i)
		v.triggerParams(i)
		if w.Nodes[i].IsTrigger() {
			triggers++
		}
	}
	if len(w.Nodes) > 0 && triggers == 0 {
		v.add("nodes", "a workflow needs a trigger node (%s, %s, %s or %s)",
			TypeManualTrigger, TypeWebhookTrigger, TypeScheduleTrigger, TypeErrorTrigger)
	}
	edgesOK := v.connections()
	if edgesOK {
		v.cycles()
	}
	if s := w.Settings; s != nil && (s.TimeoutMS < 0 || s.TimeoutMS > MaxTimeoutMS) {
		v.add("settings.timeout_ms", "must be between 0 and %d", MaxTimeoutMS)
	}
	if s := w.Settings; s != nil && s.ErrorWorkflow != "" && !workflowIDPattern.MatchString(s.ErrorWorkflow) {
		v.add("settings.error_workflow", "%q is not a workflow id (wf_…)", s.ErrorWorkflow)
	}
}

// workflowIDPattern is the form of a workflow id.
var workflowIDPattern = regexp.MustCompile(`^wf_[0-9a-z]{1,60}$`)

// triggerParams checks the params of webhook and schedule triggers, and
// that no two webhook nodes of the workflow answer the same method and path.
func (v *validator) triggerParams(i int) {
	n := &v.w.Nodes[i]
	at := fmt.Sprintf("nodes[%d].", i)
	switch n.Type {
	case TypeWebhookTrigger:
		hook, problems := WebhookOf(n)
		for _, p := range problems {
			v.add(at+p.Path, "%s", p.Message)
		}
		if hook.ResponseNode != "" && v.w.Node(hook.ResponseNode) == nil {
			v.add(at+"params.response_node", "names no node of the workflow: %q", hook.ResponseNode)
		}
		if len(problems) > 0 {
			return
		}
		key := hook.Method + " " + hook.Path
		if first, dup := v.webhooks[key]; dup {
			v.add(at+"params.path", "%s %s is also the webhook of nodes[%d]", hook.Method, hook.Path, first)
			return
		}
		v.webhooks[key] = i
	case TypeScheduleTrigger:
		s, problems := ScheduleOf(n)
		for _, p := range problems {
			v.add(at+p.Path, "%s", p.Message)
		}
		if s.Cron != "" && v.opts.Cron != nil && !hasProblemAt(problems, "params.cron") {
			if err := v.opts.Cron(s.Cron); err != nil {
				v.add(at+"params.cron", "%s", err.Error())
			}
		}
	}
}

func hasProblemAt(problems []Problem, path string) bool {
	for _, p := range problems {
		if p.Path == path {
			return true
		}
	}
	return false
}

func (v *validator) node(i int) {
	n := &v.w.Nodes[i]
	at := func(field string) string { return fmt.Sprintf("nodes[%d]%s", i, field) }

	switch {
	case strings.TrimSpace(n.Name) == "":
		v.add(at(".name"), "is required")
	case len(n.Name) > MaxNodeNameLength:
		v.add(at(".name"), "is longer than %d characters", MaxNodeNameLength)
	case strings.IndexFunc(n.Name, unicode.IsControl) >= 0:
		v.add(at(".name"), "must not contain control characters")
	default:
		if first, dup := v.byName[n.Name]; dup {
			v.add(at(".name"), "duplicates the name of nodes[%d]: %q", first, n.Name)
		} else {
			v.byName[n.Name] = i
		}
	}

	switch {
	case n.Type != "" && n.Module != "":
		v.add(at(""), "has both type and module; a node is one or the other")
	case n.Type == "" && n.Module == "":
		v.add(at(".type"), "type or module is required")
	case n.Type != "":
		if _, _, ok := corePorts(n); !ok {
			v.add(at(".type"), "unknown node type %q", n.Type)
		}
		if len(n.Secrets) > 0 {
			v.add(at(".secrets"), "only module nodes use secrets")
		}
		v.coreParams(n, at)
	default:
		v.moduleRef(n, at(".module"))
		for name, bound := range n.Secrets {
			if name == "" || bound == "" {
				v.add(at(".secrets"), "binds %q to %q: both names are required", name, bound)
			}
		}
	}
	v.expressions(n, at)

	if r := n.Retry; r != nil {
		if r.MaxAttempts < 1 || r.MaxAttempts > MaxRetryAttempts {
			v.add(at(".retry.max_attempts"), "must be between 1 and %d", MaxRetryAttempts)
		}
		if r.BackoffMS < 0 || r.BackoffMS > MaxBackoffMS {
			v.add(at(".retry.backoff_ms"), "must be between 0 and %d", MaxBackoffMS)
		}
	}
	if n.TimeoutMS < 0 || n.TimeoutMS > MaxTimeoutMS {
		v.add(at(".timeout_ms"), "must be between 0 and %d", MaxTimeoutMS)
	}
	if n.OnError != "" && n.OnError != OnErrorStop && n.OnError != OnErrorContinue {
		v.add(at(".on_error"), "must be %q or %q", OnErrorStop, OnErrorContinue)
	}
}

func (v *validator) moduleRef(n *Node, path string) {
	name, versionRange := n.ModuleRef()
	if !modulePattern.MatchString(name) {
		v.add(path, "%q is not a module name of the form owner/name (lower case)", name)
	}
	if strings.Contains(n.Module, "@") && !rangePattern.MatchString(versionRange) {
		v.add(path, "%q is not a version or version range", versionRange)
	}
}

// coreParams checks the params a core type cannot run without.
func (v *validator) coreParams(n *Node, at func(string) string) {
	switch n.Type {
	case TypeIf:
		if _, ok := n.Params["condition"].(string); !ok {
			v.add(at(".params.condition"), "is required: an expression such as {{ $json.total > 100 }}")
		}
	case TypeSwitch:
		cases, ok := n.Params["cases"].([]any)
		if !ok || len(cases) == 0 {
			v.add(at(".params.cases"), `is required: a list of {"port": "name", "condition": "{{ … }}"}`)
			return
		}
		seen := map[string]bool{SwitchDefaultPort: true}
		for j, c := range cases {
			obj, _ := c.(map[string]any)
			port, _ := obj["port"].(string)
			if _, ok := obj["condition"].(string); !ok {
				v.add(at(fmt.Sprintf(".params.cases[%d].condition", j)), "is required")
			}
			switch {
			case port == "":
				v.add(at(fmt.Sprintf(".params.cases[%d].port", j)), "is required")
			case seen[port]:
				v.add(at(fmt.Sprintf(".params.cases[%d].port", j)), "%q is used twice (or is the reserved %q)", port, SwitchDefaultPort)
			}
			seen[port] = true
		}
	}
}

// expressions compiles every {{ expression }} in the node's params (the
// conditions of core.if and core.switch included) and reports each problem
// at its param's path, and each $node["name"] that names no node.
func (v *validator) expressions(n *Node, at func(string) string) {
	if len(n.Params) == 0 {
		return
	}
	c, err := CompileParams(n.Params)
	if err != nil {
		errs, _ := errors.AsType[ExpressionErrors](err)
		for _, e := range errs {
			v.add(at("."+paramsPath(e.Path)), "%s", e.message())
		}
		return
	}
	for _, ref := range c.NodeRefs() {
		if v.w.Node(ref.Node) == nil {
			v.add(at("."+paramsPath(ref.Path)), "expression %s refers to unknown node %q", quoteExpr(ref.Expr), ref.Node)
		}
	}
}

// SwitchDefaultPort receives the items no case of a core.switch matched.
const SwitchDefaultPort = "default"

// corePorts returns a core node's input and output ports.
func corePorts(n *Node) (inputs, outputs []string, ok bool) {
	main := []string{PortMain}
	switch n.Type {
	case TypeManualTrigger, TypeWebhookTrigger, TypeScheduleTrigger, TypeErrorTrigger:
		return nil, main, true
	case TypeIf:
		return main, []string{"true", "false"}, true
	case TypeSwitch:
		cases, _ := n.Params["cases"].([]any)
		for _, c := range cases {
			if obj, ok := c.(map[string]any); ok {
				if port, ok := obj["port"].(string); ok && port != "" {
					outputs = append(outputs, port)
				}
			}
		}
		return main, append(outputs, SwitchDefaultPort), true
	case TypeMerge, TypeNoop:
		return main, main, true
	}
	return nil, nil, false
}

// Ports returns the node's input and output ports; ok is false when they are
// not known (an unknown core type, or a module without opts.ModulePorts).
func (n *Node) Ports(opts *ValidateOptions) (inputs, outputs []string, ok bool) {
	if n.Type != "" {
		return corePorts(n)
	}
	if opts == nil || opts.ModulePorts == nil {
		return nil, nil, false
	}
	return opts.ModulePorts(n.Module)
}

// connections checks every connection; it reports whether they are sound
// enough to look for cycles.
func (v *validator) connections() bool {
	ok := true
	type edge struct{ from, fromPort, to, toPort string }
	seen := make(map[edge]int, len(v.w.Connections))
	for i, c := range v.w.Connections {
		at := func(field string) string { return fmt.Sprintf("connections[%d].%s", i, field) }
		from, fromOK := v.byName[c.From]
		to, toOK := v.byName[c.To]
		if !fromOK {
			v.add(at("from"), "unknown node %q", c.From)
			ok = false
		}
		if !toOK {
			v.add(at("to"), "unknown node %q", c.To)
			ok = false
		}
		if !fromOK || !toOK {
			continue
		}
		if _, outputs, known := v.w.Nodes[from].Ports(&v.opts); known && !slices.Contains(outputs, c.SourcePort()) {
			v.add(at("from_port"), "node %q has no output port %q (it has %s)", c.From, c.SourcePort(), strings.Join(outputs, ", "))
		}
		if v.w.Nodes[to].IsTrigger() {
			v.add(at("to"), "node %q is a trigger and takes no input", c.To)
		} else if inputs, _, known := v.w.Nodes[to].Ports(&v.opts); known && !slices.Contains(inputs, c.TargetPort()) {
			v.add(at("to_port"), "node %q has no input port %q (it has %s)", c.To, c.TargetPort(), strings.Join(inputs, ", "))
		}
		e := edge{c.From, c.SourcePort(), c.To, c.TargetPort()}
		if first, dup := seen[e]; dup {
			v.add(fmt.Sprintf("connections[%d]", i), "duplicates connections[%d]", first)
		} else {
			seen[e] = i
		}
	}
	return ok
}

// cycles reports the first cycle a depth-first search meets, naming the
// connection that closes it and the path around it.
func (v *validator) cycles() {
	n := len(v.w.Nodes)
	type out struct{ to, conn int }
	children := make([][]out, n)
	for i, c := range v.w.Connections {
		from := v.byName[c.From]
		children[from] = append(children[from], out{v.byName[c.To], i})
	}
	const (
		unseen = iota
		onStack
		done
	)
	state := make([]int, n)
	var stack []int
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = onStack
		stack = append(stack, i)
		for _, o := range children[i] {
			switch state[o.to] {
			case onStack:
				start := slices.Index(stack, o.to)
				names := make([]string, 0, len(stack)-start+1)
				for _, j := range stack[start:] {
					names = append(names, fmt.Sprintf("%q", v.w.Nodes[j].Name))
				}
				names = append(names, fmt.Sprintf("%q", v.w.Nodes[o.to].Name))
				v.add(fmt.Sprintf("connections[%d]", o.conn), "closes a cycle %s; a workflow must be acyclic", strings.Join(names, " → "))
				return true
			case unseen:
				if visit(o.to) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		return false
	}
	for i := range n {
		if state[i] == unseen && visit(i) {
			return
		}
	}
}
