package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads five-field specs, six-field specs with seconds first,
// and descriptors (@hourly, @every 10s).
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Cron is a parsed schedule: a cron spec read in a time zone.
type Cron struct {
	sched cron.Schedule
	loc   *time.Location
}

// ParseCron parses spec in the IANA time zone tz ("" is UTC). Time zones
// belong in tz, not in the spec: a TZ= prefix is refused.
func ParseCron(spec, tz string) (*Cron, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("the time zone goes in the timezone param, not in the spec")
	}
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone", tz)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron spec (five fields, or six with seconds first, or @hourly, @every 10s…): %w", spec, err)
	}
	if sp, ok := s.(*cron.SpecSchedule); ok {
		sp.Location = loc
		if sp.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
			return nil, fmt.Errorf("%q never fires", spec)
		}
	}
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		// robfig/cron rounds a shorter interval up to a second: refuse it
		// rather than run at another rate than asked.
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err != nil || d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("%q: @every takes whole seconds, at least 1s", spec)
		}
	}
	return &Cron{sched: s, loc: loc}, nil
}

// CheckCron reports whether spec is a cron spec ParseCron accepts (in UTC):
// the check workflow validation runs on trigger.schedule nodes.
func CheckCron(spec string) error {
	_, err := ParseCron(spec, "UTC")
	return err
}

// Next returns the first tick strictly after t, in UTC; the zero time when
// there is none within five years. Ticks are whole seconds, and a spec is
// read in wall-clock time of its zone, as cron(8) reads it, also across
// daylight-saving changes:
//
//   - a wall time the change skips (02:30 when clocks jump from 02:00 to
//     03:00) fires once, shifted by the gap (03:30 summer time); where that
//     is also a tick of its own, it fires once;
//   - a wall time the change repeats (01:30 when clocks fall back from
//     02:00 to 01:00) fires once, at its first occurrence, unless the spec's
//     hour field is "*": an hourly or finer schedule fires in both hours;
//   - "@every <duration>" counts real time and ignores the zone.
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC()
	spec, ok := c.sched.(*cron.SpecSchedule)
	if !ok {
		return c.sched.Next(t).UTC()
	}
	// Away from a zone change, wall-clock and zone arithmetic agree:
	// robfig/cron's own answer is right.
	n := spec.Next(t.In(c.loc))
	if n.IsZero() {
		return n
	}
	start, end := t.In(c.loc).ZoneBounds()
	if (start.IsZero() || !start.After(t.Add(-dstReach))) && (end.IsZero() || n.Add(dstReach).Before(end)) {
		return n.UTC()
	}
	return c.nextAcrossChange(spec, t)
}

// dstReach bounds how far a zone change moves wall-clock time (two hours
// covers every zone there is).
const dstReach = 2 * time.Hour

// nextAcrossChange is Next near a zone change: it walks the spec's ticks
// in wall-clock time (the spec read in UTC), maps each to the instants it
// means in the zone, and returns the earliest after t.
func (c *Cron) nextAcrossChange(spec *cron.SpecSchedule, t time.Time) time.Time {
	wallSpec := *spec
	wallSpec.Location = time.UTC
	wildHour := spec.Hour&(1<<63) != 0 // robfig/cron's starBit: the hour field is "*"
	var best time.Time
	w := c.wall(t).Add(-dstReach - time.Second)
	for range 1 << 16 {
		w = wallSpec.Next(w)
		if w.IsZero() {
			break
		}
		for _, u := range c.instants(w, wildHour) {
			if u.After(t) && (best.IsZero() || u.Before(best)) {
				best = u
			}
		}
		if !best.IsZero() && w.Sub(c.wall(best)) > dstReach {
			break // later wall times cannot map before best
		}
	}
	return best
}

// wall returns the wall-clock time of t in the zone, as a UTC time.
func (c *Cron) wall(t time.Time) time.Time {
	l := t.In(c.loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

// instants returns the instants that wall-clock time w (a UTC time holding
// the wall fields) means in the zone: one normally, the first of two when
// a change repeats it (both when wildHour), and for a time a change skips,
// the instant it would be at the offset before the change.
func (c *Cron) instants(w time.Time, wildHour bool) []time.Time {
	_, before := w.Add(-26 * time.Hour).In(c.loc).Zone()
	_, after := w.Add(26 * time.Hour).In(c.loc).Zone()
	var out []time.Time
	for _, off := range []int{before, after} {
		u := w.Add(-time.Duration(off) * time.Second)
		if c.wall(u).Equal(w) && (len(out) == 0 || !out[0].Equal(u)) {
			out = append(out, u)
		}
	}
	switch {
	case len(out) == 0:
		return []time.Time{w.Add(-time.Duration(before) * time.Second)}
	case len(out) == 2:
		if out[1].Before(out[0]) {
			out[0], out[1] = out[1], out[0]
		}
		if !wildHour {
			out = out[:1]
		}
	}
	return out
}

// cronCache keeps parsed specs by spec and zone: the scheduler reads every
// schedule each pass.
type cronCache struct {
	mu sync.Mutex
	m  map[[2]string]*Cron
}

func (c *cronCache) get(spec, tz string) (*Cron, error) {
	key := [2]string{spec, tz}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cr, ok := c.m[key]; ok {
		return cr, nil
	}
	cr, err := ParseCron(spec, tz)
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[[2]string]*Cron{}
	}
	c.m[key] = cr
	return cr, nil
}
