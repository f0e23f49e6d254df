// Package record builds the records the two store backends write: it checks
// a write method's arguments, sets ids and timestamps, and brings every value
// to the form a later read returns, so that what a write returns equals what
// a read returns. It runs no SQL.
package record

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Now is the time a write records: UTC, truncated to what the columns keep.
func Now() time.Time { return Norm(time.Now()) }

// Norm returns t as it reads back: UTC, truncated to microseconds.
func Norm(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// NormPtr is Norm for an optional time.
func NormPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := Norm(*t)
	return &n
}

// JSON checks a JSON document a caller hands in and returns it as the store
// keeps it: nil (SQL NULL) when empty. field names it in the error.
func JSON(field string, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("store: %s is not valid JSON", field)
	}
	return raw, nil
}

// EncodeDefinition returns the JSON the store keeps for def and the
// definition as it reads back (JSON numbers in params become float64).
func EncodeDefinition(def *workflow.Workflow) ([]byte, workflow.Workflow, error) {
	var stored workflow.Workflow
	raw, err := def.Encode()
	if err == nil {
		err = json.Unmarshal(raw, &stored)
	}
	if err != nil {
		return nil, stored, fmt.Errorf("store: encode workflow: %w", err)
	}
	return raw, stored, nil
}

// DecodeDefinition decodes a stored definition into def.
func DecodeDefinition(raw []byte, def *workflow.Workflow) error {
	if err := json.Unmarshal(raw, def); err != nil {
		return fmt.Errorf("store: decode workflow: %w", err)
	}
	return nil
}

// NewTenant returns a new tenant named name.
func NewTenant(name string) *store.Tenant {
	return &store.Tenant{ID: store.NewID("tn"), Name: name, CreatedAt: Now()}
}

// NewAPIKey checks p and returns the key to store.
func NewAPIKey(tenantID string, p *store.APIKeyInsertParams) (*store.APIKey, error) {
	if p == nil {
		return nil, errors.New("store: APIKeyInsert needs params")
	}
	return &store.APIKey{
		ID: store.NewID("ak"), TenantID: tenantID, Name: p.Name, Role: p.Role, Prefix: p.Prefix,
		Hash: p.Hash, PlatformAdmin: p.PlatformAdmin, CreatedAt: Now(), ExpiresAt: NormPtr(p.ExpiresAt),
	}, nil
}

// NewUser returns a new user; email and passwordHash must not be empty.
func NewUser(email, passwordHash string) (*store.User, error) {
	if email == "" || passwordHash == "" {
		return nil, errors.New("store: UserInsert needs an email and a password hash")
	}
	return &store.User{ID: store.NewID("us"), Email: email, PasswordHash: passwordHash, CreatedAt: Now()}, nil
}

// RoleOwner is the role MembershipUpdate and MembershipDelete protect: a
// tenant's last owner member stays.
const RoleOwner = "owner"

// NewWorkflow checks def and returns version 1 of a new, inactive workflow
// and the JSON to store for its definition.
func NewWorkflow(tenantID string, def *workflow.Workflow) (*store.Workflow, []byte, error) {
	if def == nil {
		return nil, nil, errors.New("store: WorkflowInsert needs a definition")
	}
	raw, stored, err := EncodeDefinition(def)
	if err != nil {
		return nil, nil, err
	}
	t := Now()
	return &store.Workflow{ID: store.NewID("wf"), TenantID: tenantID, Version: 1, Definition: stored,
		CreatedAt: t, UpdatedAt: t}, raw, nil
}

// WorkflowUpdate checks p and returns the JSON to store for its definition
// and the definition as it reads back.
func WorkflowUpdate(p *store.WorkflowUpdateParams) ([]byte, workflow.Workflow, error) {
	if p == nil {
		return nil, workflow.Workflow{}, errors.New("store: WorkflowUpdate needs params")
	}
	return EncodeDefinition(&p.Definition)
}

// NewModuleVersion checks a version to insert (v.Digest must be the
// "sha256:<hex>" of wasm) and returns the record to store.
func NewModuleVersion(tenantID string, v *store.ModuleVersion, wasm []byte) (*store.ModuleVersion, error) {
	if v == nil {
		return nil, errors.New("store: ModuleVersionInsert needs a version")
	}
	sum := sha256.Sum256(wasm)
	if want := "sha256:" + hex.EncodeToString(sum[:]); v.Digest != want {
		return nil, fmt.Errorf("store: module digest %q is not the digest of its bytes (%s)", v.Digest, want)
	}
	m := *v
	m.TenantID, m.Size, m.CreatedAt = tenantID, int64(len(wasm)), Now()
	m.Source = cmp.Or(m.Source, store.SourceUpload)
	if m.Source != store.SourceUpload && m.Source != store.SourceMarketplace {
		return nil, fmt.Errorf("store: module source %q is not %s or %s", m.Source, store.SourceUpload, store.SourceMarketplace)
	}
	var err error
	if m.Manifest, err = JSON("module manifest", m.Manifest); err != nil {
		return nil, err
	}
	if m.Signature, err = JSON("module signature", m.Signature); err != nil {
		return nil, err
	}
	return &m, nil
}

// NewExecution checks p and returns the queued execution and its node runs
// to store (a run's Attempt defaults to 1 and its Status to pending).
func NewExecution(tenantID string, p *store.ExecutionInsertParams) (*store.Execution, []*store.NodeRun, error) {
	if p == nil {
		return nil, nil, errors.New("store: ExecutionInsert needs params")
	}
	input, err := JSON("execution input", p.Input)
	if err != nil {
		return nil, nil, err
	}
	t := Now()
	ex := &store.Execution{
		ID: store.NewID("ex"), TenantID: tenantID, WorkflowID: p.WorkflowID, WorkflowVersion: p.WorkflowVersion,
		Status: store.ExecutionQueued, DeadlineAt: NormPtr(p.DeadlineAt), Trigger: p.Trigger, TriggerNode: p.TriggerNode, Input: input, CreatedAt: t,
		AdmittedAt: &t,
	}
	runs, err := newRuns("ExecutionInsert", tenantID, ex.ID, p.Runs, t, 1)
	if err != nil {
		return nil, nil, err
	}
	return ex, runs, nil
}

// Admission decides whether a new execution takes one of its tenant's
// execution slots, given how many of the tenant's executions are admitted
// and unfinished (active) and how many wait. It is admitted while a slot is
// free and nobody waits (first come, first admitted); otherwise it waits:
// AdmittedAt nil, and its queued runs pending with no parent left, which
// ExecutionAdmit queues. ErrLimitReached when it would wait beyond
// p.MaxWaiting. Call it with the tenant's slots locked.
func Admission(ex *store.Execution, runs []*store.NodeRun, p *store.ExecutionInsertParams, active, waiting int) error {
	if p.MaxActive <= 0 || (active < p.MaxActive && waiting == 0) {
		// Now, under the lock: after the finish that freed the slot.
		t := Now()
		ex.AdmittedAt = &t
		return nil
	}
	if p.MaxWaiting > 0 && waiting >= p.MaxWaiting {
		return fmt.Errorf("%w: %d executions wait for a slot already", store.ErrLimitReached, waiting)
	}
	ex.AdmittedAt = nil
	for _, r := range runs {
		if r.Status == store.RunQueued {
			r.Status = store.RunPending
		}
	}
	return nil
}

// ResumeRuns checks p and returns the node runs ExecutionResume inserts
// into the execution id, created at t. A run's Attempt must be set; its
// Status defaults to pending.
func ResumeRuns(tenantID, id string, p *store.ExecutionResumeParams, t time.Time) ([]*store.NodeRun, error) {
	if p == nil {
		return nil, errors.New("store: ExecutionResume needs params")
	}
	return newRuns("ExecutionResume", tenantID, id, p.Runs, t, 0)
}

// newRuns builds the runs to insert into an execution: new ids, the
// execution's tenant and id, CreatedAt t, the Attempt defaulting to
// defaultAttempt (0: the caller must set it) and the Status to pending.
func newRuns(method, tenantID, executionID string, in []*store.NodeRun, t time.Time, defaultAttempt int) ([]*store.NodeRun, error) {
	runs := make([]*store.NodeRun, len(in))
	for i, p := range in {
		if p == nil {
			return nil, fmt.Errorf("store: %s: run %d is nil", method, i)
		}
		r := *p
		r.ID, r.TenantID, r.ExecutionID, r.CreatedAt = store.NewID("nr"), tenantID, executionID, t
		r.Attempt = cmp.Or(r.Attempt, defaultAttempt)
		if r.Attempt <= 0 {
			return nil, fmt.Errorf("store: %s: run %d (node %q) has attempt %d, must be at least 1", method, i, r.Node, r.Attempt)
		}
		r.Status = cmp.Or(r.Status, store.RunPending)
		r.LeaseUntil, r.StartedAt, r.FinishedAt = NormPtr(r.LeaseUntil), NormPtr(r.StartedAt), NormPtr(r.FinishedAt)
		var err error
		for _, f := range []struct {
			name string
			raw  *json.RawMessage
		}{{"output", &r.Output}, {"logs", &r.Logs}, {"error", &r.Error}, {"host calls", &r.HostCalls}} {
			if *f.raw, err = JSON("node run "+f.name, *f.raw); err != nil {
				return nil, err
			}
		}
		runs[i] = &r
	}
	return runs, nil
}

// Outbox returns the outbox entries of the runs that are queued.
func Outbox(runs []*store.NodeRun, availableAt, createdAt time.Time) []*store.OutboxEntry {
	var out []*store.OutboxEntry
	for _, r := range runs {
		if r.Status == store.RunQueued {
			out = append(out, NewOutboxEntry(r, availableAt, createdAt))
		}
	}
	return out
}

// NewOutboxEntry returns the outbox entry of a queued run.
func NewOutboxEntry(r *store.NodeRun, availableAt, createdAt time.Time) *store.OutboxEntry {
	return &store.OutboxEntry{TenantID: r.TenantID, ExecutionID: r.ExecutionID, RunID: r.ID, Node: r.Node,
		Attempt: r.Attempt, AvailableAt: Norm(availableAt), CreatedAt: Norm(createdAt)}
}

// NewClaimToken returns a new, unguessable claim token (128 random bits).
func NewClaimToken() string { return rand.Text() }

// ExecutionFinished reports whether an execution status is final.
func ExecutionFinished(status string) bool {
	switch status {
	case store.ExecutionSucceeded, store.ExecutionFailed, store.ExecutionCancelled:
		return true
	}
	return false
}

// RunFinish checks p and returns it as the store writes it: JSON documents
// checked (nil when empty), the retry time normalised.
func RunFinish(p *store.RunFinishParams) (*store.RunFinishParams, error) {
	if p == nil {
		return nil, errors.New("store: RunFinish needs params")
	}
	switch p.Status {
	case store.RunSucceeded, store.RunFailed, store.RunSkipped:
	default:
		return nil, fmt.Errorf("store: RunFinish: status %q is not %s, %s or %s",
			p.Status, store.RunSucceeded, store.RunFailed, store.RunSkipped)
	}
	out := *p
	var err error
	for _, f := range []struct {
		name string
		raw  *json.RawMessage
	}{
		{"output", &out.Output}, {"logs", &out.Logs}, {"error", &out.Error}, {"host calls", &out.HostCalls},
		{"execution error", &out.FailExecution},
	} {
		if *f.raw, err = JSON("node run "+f.name, *f.raw); err != nil {
			return nil, err
		}
	}
	if p.Retry != nil {
		out.Retry = &store.RunRetry{AvailableAt: Norm(p.Retry.AvailableAt)}
	}
	return &out, nil
}

// RetryRun returns the next attempt of a finished run: queued, created at t.
func RetryRun(done *store.NodeRun, t time.Time) *store.NodeRun {
	return &store.NodeRun{ID: store.NewID("nr"), TenantID: done.TenantID, ExecutionID: done.ExecutionID,
		Node: done.Node, Attempt: done.Attempt + 1, Status: store.RunQueued, CreatedAt: t}
}

// SecretBindings returns the secret bindings of a workflow's definition,
// one per node and declared name, sorted by node and name. A node name that
// comes twice (which validation refuses) keeps its first node's bindings.
func SecretBindings(workflowID string, def *workflow.Workflow) []*store.SecretBinding {
	var out []*store.SecretBinding
	seen := map[[2]string]bool{}
	for _, n := range def.Nodes {
		for name, secret := range n.Secrets {
			if key := [2]string{n.Name, name}; !seen[key] {
				seen[key] = true
				out = append(out, &store.SecretBinding{WorkflowID: workflowID, WorkflowName: def.Name,
					Node: n.Name, Name: name, Secret: secret})
			}
		}
	}
	slices.SortFunc(out, func(a, b *store.SecretBinding) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// NewSecret checks in and returns the secret SecretInsert stores.
func NewSecret(tenantID string, in *store.Secret) (*store.Secret, error) {
	if in == nil {
		return nil, errors.New("store: SecretInsert needs a secret")
	}
	t := Now()
	return &store.Secret{TenantID: tenantID, Name: in.Name, Ciphertext: in.Ciphertext, WrappedKey: in.WrappedKey,
		KeyID: in.KeyID, CreatedAt: t, UpdatedAt: t}, nil
}

// UpdatedSecret checks in and returns the values SecretUpdate writes; the
// stored CreatedAt is not known here and stays zero.
func UpdatedSecret(tenantID string, in *store.Secret) (*store.Secret, error) {
	if in == nil {
		return nil, errors.New("store: SecretUpdate needs a secret")
	}
	return &store.Secret{TenantID: tenantID, Name: in.Name, Ciphertext: in.Ciphertext, WrappedKey: in.WrappedKey,
		KeyID: in.KeyID, UpdatedAt: Now()}, nil
}

// FillAuditEntry checks e and sets what AuditInsert sets: e.TenantID, and
// e.ID and e.CreatedAt when they are zero; a given CreatedAt is normalised
// (UTC, microseconds), and an empty Detail becomes nil.
func FillAuditEntry(tenantID string, e *store.AuditEntry) error {
	if e == nil {
		return errors.New("store: AuditInsert needs an entry")
	}
	detail, err := JSON("audit detail", e.Detail)
	if err != nil {
		return err
	}
	e.TenantID, e.Detail = tenantID, detail
	if e.ID == "" {
		e.ID = store.NewID("au")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = Now()
	}
	e.CreatedAt = Norm(e.CreatedAt)
	return nil
}

// PrefixEnd returns the least string greater than every string that starts
// with prefix (in byte order, which both backends' text columns use), so
// that "x >= prefix AND x < end" finds them through an index; ok is false
// when there is none (an empty prefix, or one of 0xff bytes only).
func PrefixEnd(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// Triggers returns the webhook routes and schedules of def, a definition
// of workflow id, as the store keeps them for an active workflow: one per
// trigger node whose params are valid (validation refuses a workflow with
// any other). A schedule's Since is since[node] when set, else now.
func Triggers(tenantID, id string, def *workflow.Workflow, since map[string]time.Time, now time.Time) ([]*store.WebhookRoute, []*store.Schedule) {
	var routes []*store.WebhookRoute
	for _, h := range def.Webhooks() {
		routes = append(routes, &store.WebhookRoute{TenantID: tenantID, Path: h.Path, Method: h.Method, WorkflowID: id, Node: h.Node})
	}
	var schedules []*store.Schedule
	for _, s := range def.Schedules() {
		t, ok := since[s.Node]
		if !ok {
			t = now
		}
		schedules = append(schedules, &store.Schedule{TenantID: tenantID, WorkflowID: id, Node: s.Node,
			Cron: s.Cron, Timezone: s.Timezone, Missed: s.Missed, Since: Norm(t)})
	}
	return routes, schedules
}
