package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wasmflow/wasmflow/store"
	"github.com/wasmflow/wasmflow/workflow"
)

// Scheduler defaults.
const (
	// DefaultScheduleInterval is the longest pause between scheduler passes.
	DefaultScheduleInterval = time.Second
	// DefaultScheduleGrace is how late a tick may still fire.
	DefaultScheduleGrace = time.Minute
	// scheduleCatchUpLimit bounds the ticks one schedule's pass looks at.
	scheduleCatchUpLimit = 100_000
)

// Schedule fires the schedules of active workflows until ctx is done (the
// scheduler role). Any number of processes may run it at once: each tick
// is claimed in the store before it fires (store.Triggers.ScheduleTickClaim),
// so it fires once, and a process that starts after another stopped
// carries on from the last tick claimed. It wakes for the next tick, or
// after ScheduleInterval to see schedules activated meanwhile.
func (e *Engine) Schedule(ctx context.Context) error {
	for {
		next, err := e.ScheduleOnce(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.WarnContext(ctx, "scheduler pass failed", slog.Any("err", err))
		}
		wait := e.scheduleEvery
		if !next.IsZero() {
			wait = min(max(next.Sub(e.now()), 0), wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// ScheduleOnce fires every tick that is due at Config.Now and returns the
// earliest tick still to come (zero when none). For each schedule of an
// active workflow, the ticks after its last claimed one (or its activation)
// up to now are due:
//
//   - a tick at most ScheduleGrace old fires, however late (a scheduler
//     that restarts within the grace skips nothing);
//   - older ticks were missed (no scheduler ran): with missed "skip" none
//     fires, with "run_once" the latest fires once, for them all.
//
// Each tick is claimed before its execution starts; a claim another
// process made first is left to it. A start that fails after its claim is
// logged and not retried: a tick fires at most once.
func (e *Engine) ScheduleOnce(ctx context.Context) (time.Time, error) {
	now := e.now()
	var (
		next   time.Time
		errs   []error
		cursor string
	)
	for {
		list, after, err := e.store.ScheduleList(ctx, store.Page{Cursor: cursor, Limit: store.MaxPageSize})
		if err != nil {
			return next, errors.Join(append(errs, err)...)
		}
		for _, sc := range list {
			upcoming, err := e.fire(ctx, sc, now)
			if err != nil {
				errs = append(errs, err)
			}
			if !upcoming.IsZero() && (next.IsZero() || upcoming.Before(next)) {
				next = upcoming
			}
		}
		if after == "" {
			return next, errors.Join(errs...)
		}
		cursor = after
	}
}

// fire fires the due ticks of one schedule and returns its next tick.
func (e *Engine) fire(ctx context.Context, sc *store.Schedule, now time.Time) (time.Time, error) {
	attrs := []any{slog.String("tenant", sc.TenantID), slog.String("workflow_id", sc.WorkflowID), slog.String("node", sc.Node)}
	c, err := e.crons.get(sc.Cron, sc.Timezone)
	if err != nil {
		e.log.WarnContext(ctx, "schedule not fired: its spec does not parse", append(attrs, slog.Any("err", err))...)
		return time.Time{}, nil
	}
	from := sc.Since
	if sc.LastTick != nil && sc.LastTick.After(from) {
		from = *sc.LastTick
	}
	cutoff := now.Add(-e.scheduleGrace)

	// Missed ticks: those at or before the cutoff. Only the latest matters.
	var missed time.Time
	if first := c.Next(from); !first.IsZero() && !first.After(cutoff) {
		missed = lastTickBy(c, from, cutoff)
	}
	if !missed.IsZero() {
		if err := e.fireTick(ctx, sc, c, missed, sc.Missed == workflow.MissedRunOnce); err != nil {
			return time.Time{}, err
		}
		from = missed
	}
	for range scheduleCatchUpLimit {
		tick := c.Next(from)
		if tick.IsZero() || tick.After(now) {
			return tick, nil
		}
		if err := e.fireTick(ctx, sc, c, tick, true); err != nil {
			return time.Time{}, err
		}
		from = tick
	}
	return time.Time{}, nil
}

// lastTickBy returns the last tick after from and at or before by. It
// starts a day before by when that is later than from, so that a long
// downtime of a frequent schedule is not walked tick by tick.
func lastTickBy(c *Cron, from, by time.Time) time.Time {
	var last time.Time
	for _, start := range []time.Time{by.Add(-24 * time.Hour), from} {
		if start.Before(from) {
			continue
		}
		at := start
		for range scheduleCatchUpLimit {
			tick := c.Next(at)
			if tick.IsZero() || tick.After(by) {
				break
			}
			last, at = tick, tick
		}
		if !last.IsZero() {
			return last
		}
	}
	return last
}

// fireTick claims a tick and, when run is set, starts an execution for it.
// A claim that another process made first is no error; nor is a schedule
// deactivated meanwhile.
func (e *Engine) fireTick(ctx context.Context, sc *store.Schedule, c *Cron, tick time.Time, run bool) error {
	err := e.store.ScheduleTickClaim(ctx, sc.TenantID, sc.WorkflowID, sc.Node, tick)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	attrs := []any{slog.String("tenant", sc.TenantID), slog.String("workflow_id", sc.WorkflowID),
		slog.String("node", sc.Node), slog.Time("tick", tick)}
	if !run {
		e.metrics.trigger("schedule", "skipped")
		e.log.InfoContext(ctx, "missed schedule ticks skipped", attrs...)
		return nil
	}
	item := workflow.Item{
		"tick":     tick.UTC().Format(time.RFC3339),
		"local":    tick.In(c.loc).Format(time.RFC3339),
		"timezone": sc.Timezone,
		"cron":     sc.Cron,
	}
	if late := e.now().Sub(tick); late > e.scheduleGrace {
		item["missed"] = true // the run_once catch-up of missed ticks
	}
	ex, err := e.Start(context.WithoutCancel(ctx), sc.TenantID, sc.WorkflowID,
		StartParams{Trigger: TriggerSchedule, Node: sc.Node, Input: []workflow.Item{item}})
	if err != nil {
		e.metrics.trigger("schedule", "failed")
		e.log.WarnContext(ctx, "schedule tick claimed, execution not started", append(attrs, slog.Any("err", err))...)
		return nil
	}
	e.metrics.trigger("schedule", "fired")
	e.log.DebugContext(ctx, "schedule fired", append(attrs, slog.String("execution_id", ex.ID))...)
	return nil
}
