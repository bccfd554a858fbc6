package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func rules(t *testing.T, entries ...Entry) []Rule {
	t.Helper()
	rs, err := ParseAll(entries)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseSeedSample(t *testing.T) {
	// The seed's add_room sample: <Time o="day2" e="10:00:00" s="00:00:00">.
	r, err := Parse(Entry{O: "day2", S: "00:00:00", E: "10:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != Weekly || r.Day != time.Tuesday || r.Start != 0 || r.End != 10*time.Hour {
		t.Fatalf("got %+v", r)
	}
	if got := r.String(); got != "Tuesday 00:00:00-10:00:00" {
		t.Errorf("String = %q", got)
	}
	if got := r.Entry(); got != (Entry{O: "day2", S: "00:00:00", E: "10:00:00"}) {
		t.Errorf("Entry = %+v", got)
	}
	if r, _ := Parse(Entry{O: "day7", S: "09:00", E: "10:00"}); r.Day != time.Sunday || r.Entry().O != "day7" {
		t.Errorf("day7 = %+v", r)
	}
}

func TestParseRefusesNonsense(t *testing.T) {
	for _, c := range []struct {
		e    Entry
		want string
	}{
		{Entry{O: "day9", S: "00:00:00", E: "10:00:00"}, `"day9" is not a kind of opening time`},
		{Entry{O: "day0", S: "00:00:00", E: "10:00:00"}, "day1 (Monday) to day7 (Sunday)"},
		{Entry{O: "", S: "00:00:00", E: "10:00:00"}, "is not a kind"},
		{Entry{O: "day2", S: "25:00:00", E: "10:00:00"}, `start: "25:00:00" is not a time of day`},
		{Entry{O: "daily", S: "10:00:00", E: "10:61:00"}, `end: "10:61:00" is not a time of day`},
		{Entry{O: "daily", S: "24:00:00", E: "10:00:00"}, `start: "24:00:00"`},
		{Entry{O: "daily", S: "9:00", E: "10:00"}, `"9:00" is not a time of day`},
		{Entry{O: "daily", S: "10:00:00", E: "10:00:00"}, "opens and closes at 10:00:00"},
		{Entry{O: "special", S: "18:00:00", E: "20:00:00"}, "starts with a date and a time"},
		{Entry{O: "special", S: "2026-02-30 18:00:00", E: "20:00:00"}, "is not a date"},
		{Entry{O: "special", S: "2026-12-24 18:00:00", E: "2026-12-25 20:00:00"}, "ends on its own date"},
		{Entry{O: "hourly", S: "60", E: "10"}, `"60" is not a minute of the hour`},
		{Entry{O: "hourly", S: "15", E: "15:00"}, "opens and closes at minute 15"},
	} {
		_, err := Parse(c.e)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%+v) = %v, want an error containing %q", c.e, err, c.want)
		}
	}
	_, err := ParseAll([]Entry{{O: "daily", S: "09:00", E: "17:00"}, {O: "day9", S: "00:00", E: "01:00"}})
	if err == nil || !strings.HasPrefix(err.Error(), "opening time 2: ") {
		t.Errorf("ParseAll names the entry: %v", err)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, e := range []Entry{
		{O: "daily", S: "00:00", E: "24:00"},
		{O: "DAILY", S: "22:00:00", E: "02:00:00"},
		{O: "special", S: "2026-12-24 18:00:00", E: "23:30:00"},
		{O: "special", S: "2026-12-24 18:00:00", E: "2026-12-24 23:30:00"},
		{O: "special", S: "2026-12-31 22:00:00", E: "01:00:00"},
		{O: "hourly", S: "00", E: "15"},
		{O: "hourly", S: "50:30", E: "10"},
	} {
		if _, err := Parse(e); err != nil {
			t.Errorf("Parse(%+v): %v", e, err)
		}
	}
}

// check asserts IsOpen at each instant and the next change after it.
type check struct {
	at     string // RFC 3339
	open   bool
	next   string // RFC 3339, "" for ErrNoChange
	opens  bool   // what the next change does
	reason string
}

func run(t *testing.T, loc *time.Location, rs []Rule, checks []check) {
	t.Helper()
	for _, c := range checks {
		at := utc(c.at)
		if got := IsOpen(rs, loc, at); got != c.open {
			t.Errorf("%s (%s): IsOpen = %v, want %v", c.at, c.reason, got, c.open)
		}
		next, opens, err := NextChange(rs, loc, at)
		if c.next == "" {
			if !errors.Is(err, ErrNoChange) {
				t.Errorf("%s (%s): NextChange = %v %v %v, want no change", c.at, c.reason, next, opens, err)
			}
			continue
		}
		if err != nil || !next.Equal(utc(c.next)) || opens != c.opens {
			t.Errorf("%s (%s): NextChange = %v opens=%v err=%v, want %s opens=%v", c.at, c.reason, next.UTC(), opens, err, c.next, c.opens)
		}
	}
}

func TestNewYorkSpringForward(t *testing.T) {
	// 2025-03-09: at 02:00 EST the clocks go to 03:00 EDT (07:00Z).
	ny := mustLoad(t, "America/New_York")
	run(t, ny, rules(t, Entry{O: "daily", S: "02:30", E: "04:00"}), []check{
		{at: "2025-03-08T08:00:00Z", open: true, next: "2025-03-08T09:00:00Z", reason: "03:00 EST the day before"},
		{at: "2025-03-09T06:59:00Z", open: false, next: "2025-03-09T07:00:00Z", opens: true, reason: "the start is in the gap: it opens at its end"},
		{at: "2025-03-09T07:30:00Z", open: true, next: "2025-03-09T08:00:00Z", reason: "04:00 EDT"},
		{at: "2025-03-10T06:00:00Z", open: false, next: "2025-03-10T06:30:00Z", opens: true, reason: "02:30 EDT the day after"},
	})
	run(t, ny, rules(t, Entry{O: "daily", S: "01:00", E: "02:30"}), []check{
		{at: "2025-03-09T06:30:00Z", open: true, next: "2025-03-09T07:00:00Z", reason: "the end is in the gap: it closes at its end"},
		{at: "2025-03-09T07:00:00Z", open: false, next: "2025-03-10T05:00:00Z", opens: true, reason: "01:00 EDT the day after"},
	})
	// Every hour, minutes 00-15: the skipped hour has no window.
	run(t, ny, rules(t, Entry{O: "hourly", S: "00", E: "15"}), []check{
		{at: "2025-03-09T06:10:00Z", open: true, next: "2025-03-09T06:15:00Z", reason: "01:10 EST"},
		{at: "2025-03-09T06:20:00Z", open: false, next: "2025-03-09T07:00:00Z", opens: true, reason: "next window 03:00 EDT"},
	})
}

func TestNewYorkFallBack(t *testing.T) {
	// 2025-11-02: at 02:00 EDT the clocks go back to 01:00 EST (06:00Z);
	// 01:00-02:00 happens twice.
	ny := mustLoad(t, "America/New_York")
	run(t, ny, rules(t, Entry{O: "daily", S: "01:15", E: "01:45"}), []check{
		{at: "2025-11-02T05:00:00Z", open: false, next: "2025-11-02T05:15:00Z", opens: true, reason: "the first 01:15 (EDT)"},
		{at: "2025-11-02T05:30:00Z", open: true, next: "2025-11-02T05:45:00Z", reason: "closes at the first 01:45"},
		{at: "2025-11-02T06:30:00Z", open: false, next: "2025-11-03T06:15:00Z", opens: true, reason: "the second 01:30 (EST) is closed"},
	})
	run(t, ny, rules(t, Entry{O: "daily", S: "00:30", E: "03:00"}), []check{
		{at: "2025-11-02T04:30:00Z", open: true, next: "2025-11-02T08:00:00Z", reason: "00:30 EDT to 03:00 EST: 3.5 real hours"},
	})
}

func TestBerlinSpringForward(t *testing.T) {
	// 2022-03-27: at 02:00 CET the clocks go to 03:00 CEST (01:00Z).
	berlin := mustLoad(t, "Europe/Berlin")
	run(t, berlin, rules(t, Entry{O: "daily", S: "02:00", E: "03:00"}), []check{
		{at: "2022-03-26T01:30:00Z", open: true, next: "2022-03-26T02:00:00Z", reason: "02:30 CET the day before"},
		{at: "2022-03-26T03:00:00Z", open: false, next: "2022-03-28T00:00:00Z", opens: true, reason: "the window lies in the gap: none that day"},
	})
	run(t, berlin, rules(t, Entry{O: "daily", S: "01:30", E: "02:30"}), []check{
		{at: "2022-03-27T00:45:00Z", open: true, next: "2022-03-27T01:00:00Z", reason: "closes at the end of the gap"},
	})
}

func TestCrossingMidnightAndUnions(t *testing.T) {
	loc := time.UTC
	run(t, loc, rules(t, Entry{O: "daily", S: "22:00", E: "02:00"}), []check{
		{at: "2026-06-01T21:00:00Z", open: false, next: "2026-06-01T22:00:00Z", opens: true, reason: "before"},
		{at: "2026-06-01T23:00:00Z", open: true, next: "2026-06-02T02:00:00Z", reason: "before midnight"},
		{at: "2026-06-02T01:00:00Z", open: true, next: "2026-06-02T02:00:00Z", reason: "after midnight"},
		{at: "2026-06-02T02:00:00Z", open: false, next: "2026-06-02T22:00:00Z", opens: true, reason: "the end is not in the window"},
	})
	// Two windows that touch are one: 09-12 and 12-17 close at 17.
	run(t, loc, rules(t, Entry{O: "daily", S: "09:00", E: "12:00"}, Entry{O: "daily", S: "12:00", E: "17:00"}), []check{
		{at: "2026-06-01T10:00:00Z", open: true, next: "2026-06-01T17:00:00Z"},
	})
	// Always open: no change ahead.
	run(t, loc, rules(t, Entry{O: "daily", S: "00:00", E: "24:00"}), []check{
		{at: "2026-06-01T10:00:00Z", open: true, next: ""},
	})
	// No rules: open, and it never changes.
	run(t, loc, nil, []check{{at: "2026-06-01T10:00:00Z", open: true, next: ""}})
}

func TestWeeklyAndSpecial(t *testing.T) {
	loc := mustLoad(t, "Europe/Berlin")
	// 2026-12-01 is a Tuesday; Berlin is UTC+1 in winter.
	run(t, loc, rules(t, Entry{O: "day2", S: "00:00:00", E: "10:00:00"}), []check{
		{at: "2026-12-01T08:59:00Z", open: true, next: "2026-12-01T09:00:00Z"},
		{at: "2026-12-01T09:00:00Z", open: false, next: "2026-12-07T23:00:00Z", opens: true, reason: "next Tuesday"},
	})
	run(t, loc, rules(t, Entry{O: "special", S: "2026-12-24 18:00:00", E: "23:30:00"}), []check{
		{at: "2026-12-01T12:00:00Z", open: false, next: "2026-12-24T17:00:00Z", opens: true, reason: "weeks ahead"},
		{at: "2026-12-24T18:00:00Z", open: true, next: "2026-12-24T22:30:00Z"},
		{at: "2026-12-25T00:00:00Z", open: false, next: "", reason: "past: never again"},
	})
}

func TestLoadZoneAndWhen(t *testing.T) {
	for _, bad := range []string{"", "Local", "Mars/Olympus", "+01:00"} {
		if _, err := LoadZone(bad); err == nil || !strings.Contains(err.Error(), "is not an IANA time zone") {
			t.Errorf("LoadZone(%q): %v", bad, err)
		}
	}
	ny, err := LoadZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// The same instant, before and after New York's 2025-11-02 change.
	for at, want := range map[string]string{
		"2025-11-02T05:30:00Z": "Sun 2 Nov 2025 01:30 EDT",
		"2025-11-02T06:30:00Z": "Sun 2 Nov 2025 01:30 EST",
		"2025-11-02T06:30:15Z": "Sun 2 Nov 2025 01:30:15 EST",
	} {
		ts, _ := time.Parse(time.RFC3339, at)
		if got := When(ts, ny); got != want {
			t.Errorf("When(%s) = %q, want %q", at, got, want)
		}
	}
}
