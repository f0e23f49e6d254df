package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// startErrorWorkflow starts the error workflow of a failed execution's
// workflow version (settings.error_workflow), if it names one, with one
// item describing the failure:
//
//	{"execution_id", "workflow_id", "workflow_name", "workflow_version",
//	 "trigger", "node", "error": {"kind", "message"}, "failed_at"}
//
// node is "" when no node failed (the execution ran past its timeout). An
// execution started by an error trigger never starts one: an error
// workflow that fails does not start itself, or another, again. Whoever
// finishes the execution calls this once; a process that dies in between
// starts nothing. A failure to start is logged.
func (e *Engine) startErrorWorkflow(ctx context.Context, ex *store.Execution) {
	if ex.Status != store.ExecutionFailed || ex.Trigger == TriggerError {
		return
	}
	ctx = context.WithoutCancel(ctx)
	attrs := []any{slog.String("tenant", ex.TenantID), slog.String("execution_id", ex.ID), slog.String("workflow_id", ex.WorkflowID)}
	v, err := e.store.WorkflowVersionGet(ctx, ex.TenantID, ex.WorkflowID, ex.WorkflowVersion)
	if err != nil {
		e.log.WarnContext(ctx, "failed execution: its workflow version is not readable; no error workflow started", append(attrs, slog.Any("err", err))...)
		return
	}
	s := v.Definition.Settings
	if s == nil || s.ErrorWorkflow == "" {
		return
	}
	var failure struct {
		Node    string `json:"node"`
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(ex.Error, &failure) // the engine wrote it; fields stay empty otherwise
	item := workflow.Item{
		"execution_id":     ex.ID,
		"workflow_id":      ex.WorkflowID,
		"workflow_name":    v.Definition.Name,
		"workflow_version": ex.WorkflowVersion,
		"trigger":          ex.Trigger,
		"node":             failure.Node,
		"error":            map[string]any{"kind": failure.Kind, "message": failure.Message},
	}
	if ex.FinishedAt != nil {
		item["failed_at"] = ex.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	started, err := e.Start(ctx, ex.TenantID, s.ErrorWorkflow, StartParams{Trigger: TriggerError, Input: []workflow.Item{item}})
	if err != nil {
		e.metrics.trigger("error_workflow", "failed")
		e.log.WarnContext(ctx, "error workflow not started",
			append(attrs, slog.String("error_workflow", s.ErrorWorkflow), slog.Any("err", err))...)
		return
	}
	e.metrics.trigger("error_workflow", "started")
	e.log.InfoContext(ctx, "error workflow started",
		append(attrs, slog.String("error_workflow", s.ErrorWorkflow), slog.String("error_execution_id", started.ID))...)
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
