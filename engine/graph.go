package engine

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// graph is a workflow's connections by node.
type graph struct {
	def *workflow.Workflow
	// parents and children are distinct node names, in connection order.
	parents  map[string][]string
	children map[string][]string
	// incoming are the connections into each node.
	incoming map[string][]workflow.Connection
}

func newGraph(def *workflow.Workflow) *graph {
	g := &graph{def: def, parents: map[string][]string{}, children: map[string][]string{}, incoming: map[string][]workflow.Connection{}}
	for _, c := range def.Connections {
		g.incoming[c.To] = append(g.incoming[c.To], c)
		if !slices.Contains(g.parents[c.To], c.From) {
			g.parents[c.To] = append(g.parents[c.To], c.From)
		}
		if !slices.Contains(g.children[c.From], c.To) {
			g.children[c.From] = append(g.children[c.From], c.To)
		}
	}
	return g
}

// latestRuns returns each node's latest attempt.
func latestRuns(runs []*store.NodeRun) map[string]*store.NodeRun {
	latest := make(map[string]*store.NodeRun, len(runs))
	for _, r := range runs {
		if cur, ok := latest[r.Node]; !ok || r.Attempt > cur.Attempt {
			latest[r.Node] = r
		}
	}
	return latest
}

// output is a stored output document decoded.
type output struct {
	Items   []workflow.Item            `json:"items,omitempty"`
	Outputs map[string][]workflow.Item `json:"outputs,omitempty"`
}

func decodeOutput(raw json.RawMessage) (*output, error) {
	var o output
	if len(raw) == 0 {
		return &o, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// port returns the items of one output port.
func (o *output) port(name string) []workflow.Item {
	if o.Outputs != nil {
		return o.Outputs[name]
	}
	if name == workflow.PortMain {
		return o.Items
	}
	return nil
}

// all returns every item the node output, ports in name order: what
// $node["name"].items shows.
func (o *output) all() []workflow.Item {
	if o.Outputs == nil {
		return o.Items
	}
	ports := make([]string, 0, len(o.Outputs))
	for p := range o.Outputs {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	var items []workflow.Item
	for _, p := range ports {
		items = append(items, o.Outputs[p]...)
	}
	return items
}
