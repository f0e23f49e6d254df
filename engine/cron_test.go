package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func utcTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestCronNext checks the next times of specs in zones with daylight-saving
// changes (2030: New York springs forward on 10 March at 02:00 and falls
// back on 3 November at 02:00; Berlin on 31 March at 02:00 and 27 October
// at 03:00).
func TestCronNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, spec, tz, from string
		want                 []string
	}{
		{"daily in a skipped hour fires once, shifted by the gap", "30 2 * * *", "America/New_York", "2030-03-09T12:00:00Z",
			[]string{"2030-03-10T07:30:00Z" /* 03:30 EDT */, "2030-03-11T06:30:00Z", "2030-03-12T06:30:00Z"}},
		{"daily in a repeated hour fires once, the first time", "30 1 * * *", "America/New_York", "2030-11-02T12:00:00Z",
			[]string{"2030-11-03T05:30:00Z" /* 01:30 EDT */, "2030-11-04T06:30:00Z" /* 01:30 EST */, "2030-11-05T06:30:00Z"}},
		{"daily from inside the repeated hour does not fire again", "30 1 * * *", "America/New_York", "2030-11-03T06:10:00Z",
			[]string{"2030-11-04T06:30:00Z"}},
		{"hourly fires in both repeated hours", "0 * * * *", "America/New_York", "2030-11-03T04:30:00Z",
			[]string{"2030-11-03T05:00:00Z", "2030-11-03T06:00:00Z", "2030-11-03T07:00:00Z", "2030-11-03T08:00:00Z"}},
		{"hourly skips the hour that does not exist", "0 * * * *", "America/New_York", "2030-03-10T05:30:00Z",
			[]string{"2030-03-10T06:00:00Z", "2030-03-10T07:00:00Z" /* 03:00 EDT */, "2030-03-10T08:00:00Z"}},
		{"every half hour of 2 a.m. in Berlin's skipped hour", "*/30 2 * * *", "Europe/Berlin", "2030-03-30T12:00:00Z",
			[]string{"2030-03-31T01:00:00Z", "2030-03-31T01:30:00Z", "2030-04-01T00:00:00Z", "2030-04-01T00:30:00Z"}},
		{"seconds field, Berlin's repeated hour", "0 30 2 * * *", "Europe/Berlin", "2030-10-26T12:00:00Z",
			[]string{"2030-10-27T00:30:00Z" /* 02:30 CEST */, "2030-10-28T01:30:00Z" /* 02:30 CET */}},
		{"weekdays at nine across a change", "0 9 * * 1-5", "Europe/Berlin", "2030-03-29T09:00:00Z",
			[]string{"2030-04-01T07:00:00Z", "2030-04-02T07:00:00Z"}},
		{"every 20 seconds", "*/20 * * * * *", "UTC", "2030-01-01T12:00:05Z",
			[]string{"2030-01-01T12:00:20Z", "2030-01-01T12:00:40Z", "2030-01-01T12:01:00Z"}},
		{"every second", "* * * * * *", "Asia/Tokyo", "2030-01-01T12:00:00Z",
			[]string{"2030-01-01T12:00:01Z", "2030-01-01T12:00:02Z"}},
		{"@every counts real time across a change", "@every 90m", "America/New_York", "2030-11-03T05:00:00Z",
			[]string{"2030-11-03T06:30:00Z", "2030-11-03T08:00:00Z"}},
		{"@daily in a zone", "@daily", "Asia/Kolkata", "2030-01-01T00:00:00Z",
			[]string{"2030-01-01T18:30:00Z", "2030-01-02T18:30:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tc.spec, tc.tz)
			require.NoError(t, err)
			at := utcTime(tc.from)
			for i, want := range tc.want {
				at = c.Next(at)
				require.Equal(t, utcTime(want), at, "tick %d", i+1)
				require.Equal(t, time.UTC, at.Location())
			}
		})
	}
}

// TestCronYear walks a whole year in zones with changes: a daily spec fires
// once on each local date, an hourly one once in each real hour.
func TestCronYear(t *testing.T) {
	t.Parallel()
	for _, tz := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "UTC"} {
		loc, err := time.LoadLocation(tz)
		require.NoError(t, err)
		from := time.Date(2030, 1, 1, 0, 0, 0, 0, loc).Add(-time.Second)
		to := time.Date(2031, 1, 1, 0, 0, 0, 0, loc)
		for _, spec := range []string{"30 2 * * *", "0 1 * * *", "0 * * * *"} {
			c, err := ParseCron(spec, tz)
			require.NoError(t, err)
			days := map[string]int{}
			n := 0
			prev := from
			for at := c.Next(from); at.Before(to); at = c.Next(at) {
				require.True(t, at.After(prev), "%s %s: %s after %s", tz, spec, at, prev)
				prev = at
				days[at.In(loc).Format(time.DateOnly)]++
				n++
			}
			if spec == "0 * * * *" {
				require.Equal(t, int(to.Sub(from.Add(time.Second))/time.Hour), n, "%s: once in each real hour", tz)
				continue
			}
			require.Len(t, days, 365, "%s %s: every local date", tz, spec)
			for d, k := range days {
				require.Equal(t, 1, k, "%s %s on %s", tz, spec, d)
			}
		}
	}
}

func TestParseCronRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ spec, tz string }{
		{"", "UTC"}, {"* * *", "UTC"}, {"61 * * * *", "UTC"}, {"* * * * * * *", "UTC"},
		{"TZ=Europe/Berlin 0 9 * * *", "UTC"}, {"0 9 * * *", "Mars/Olympus"}, {"0 9 * * *", "Local"},
		{"0 0 30 2 *", "UTC"}, {"@every 10ms", "UTC"}, {"@sometimes", "UTC"},
	} {
		_, err := ParseCron(tc.spec, tc.tz)
		require.Error(t, err, "%q in %q", tc.spec, tc.tz)
	}
	require.NoError(t, CheckCron("*/5 * * * *"))
}

func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"* * * * * *", "30 2 * * *", "@every 90s", "0 9 * * 1-5", "*/7 1-3 L * *", "@hourly"} {
		f.Add(s, "America/New_York")
	}
	f.Fuzz(func(t *testing.T, spec, tz string) {
		c, err := ParseCron(spec, tz)
		if err != nil {
			return
		}
		// Ticks only move forward.
		at := time.Date(2030, 3, 9, 0, 0, 0, 0, time.UTC)
		for range 5 {
			next := c.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) {
				t.Fatalf("%q in %q: next of %s is %s", spec, tz, at, next)
			}
			at = next
		}
	})
}
