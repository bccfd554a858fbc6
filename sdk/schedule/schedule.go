// Package schedule holds a room's opening times: rules in the wall-clock
// time of an IANA zone, parsed from the server API's roomOpen/Time
// entries, and the pure functions that say whether a room is open at an
// instant (IsOpen) and when that next changes (NextChange).
//
// The rules, as docs/server-api.md (add_room) gives them:
//   - o="daily": every day from s to e (times of day, HH:MM or HH:MM:SS);
//   - o="day1".."day7": on one weekday, day1 being Monday and day7 Sunday
//     (ISO 8601); several Time entries give several days;
//   - o="special": one date, s and e as "YYYY-MM-DD HH:MM:SS" (e may be a
//     time of day alone: the same date);
//   - o="hourly": minutes of every hour, s and e as MM or MM:SS.
//
// An end at or before its start crosses midnight (the hour for hourly
// rules); an end equal to its start is refused, as a window of no length.
// 24:00 is accepted as an end: midnight at the end of the day. Daylight
// saving time: a start or end in a skipped hour means the end of the gap
// (the first instant that exists after it); one in a repeated hour means
// its first occurrence. Hourly windows follow the real hours: a skipped
// hour has none and a repeated hour has two.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // zones on machines without a zone database
)

// Kind is how a rule repeats.
type Kind int

// The kinds of rule.
const (
	Daily   Kind = iota // every day
	Weekly              // on one weekday
	Special             // on one date
	Hourly              // minutes of every hour
)

// Rule is one opening window of a room.
type Rule struct {
	Kind Kind
	// Day is the weekday of a Weekly rule.
	Day time.Weekday
	// Year, Month and Date are the date of a Special rule.
	Year  int
	Month time.Month
	Date  int
	// Start and End are offsets from midnight (Daily, Weekly, Special) or
	// from the top of the hour (Hourly). End <= Start crosses midnight
	// (or the hour).
	Start, End time.Duration
}

// Entry is a rule as the server API writes it: roomOpen/Time's o, s and e.
type Entry struct {
	O string `json:"o"`
	S string `json:"s"`
	E string `json:"e"`
}

// days are the names of day1..day7.
var days = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// Parse reads one entry; the error says what is wrong in words a person
// who wrote the entry can act on.
func Parse(e Entry) (Rule, error) {
	o := strings.ToLower(strings.TrimSpace(e.O))
	s, end := strings.TrimSpace(e.S), strings.TrimSpace(e.E)
	var r Rule
	var err error
	switch {
	case o == "daily":
		r.Kind = Daily
		r.Start, r.End, err = dayWindow(s, end)
	case strings.HasPrefix(o, "day") && len(o) == 4 && o[3] >= '1' && o[3] <= '7':
		r.Kind = Weekly
		r.Day = time.Weekday(int(o[3]-'0') % 7) // day7 is Sunday, time.Weekday 0
		r.Start, r.End, err = dayWindow(s, end)
	case o == "special":
		r.Kind = Special
		err = r.special(s, end)
	case o == "hourly":
		r.Kind = Hourly
		r.Start, r.End, err = hourWindow(s, end)
	default:
		return Rule{}, fmt.Errorf("%q is not a kind of opening time: use daily, day1 (Monday) to day7 (Sunday), special or hourly", e.O)
	}
	if err != nil {
		return Rule{}, err
	}
	return r, nil
}

// ParseAll reads entries in order; the error names the entry (counting
// from 1).
func ParseAll(entries []Entry) ([]Rule, error) {
	out := make([]Rule, 0, len(entries))
	for i, e := range entries {
		r, err := Parse(e)
		if err != nil {
			return nil, fmt.Errorf("opening time %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Entry writes r back as the server API's o, s and e.
func (r Rule) Entry() Entry {
	switch r.Kind {
	case Weekly:
		d := int(r.Day)
		if d == 0 {
			d = 7
		}
		return Entry{O: "day" + strconv.Itoa(d), S: clock(r.Start), E: clock(r.End)}
	case Special:
		date := fmt.Sprintf("%04d-%02d-%02d ", r.Year, r.Month, r.Date)
		return Entry{O: "special", S: date + clock(r.Start), E: clock(r.End)}
	case Hourly:
		return Entry{O: "hourly", S: minutes(r.Start), E: minutes(r.End)}
	}
	return Entry{O: "daily", S: clock(r.Start), E: clock(r.End)}
}

// String describes r in words, e.g. "Tuesday 09:00:00-17:00:00".
func (r Rule) String() string {
	e := r.Entry()
	switch r.Kind {
	case Weekly:
		return days[(int(r.Day)+6)%7] + " " + e.S + "-" + e.E
	case Special:
		return e.S + "-" + e.E
	case Hourly:
		return "every hour " + e.S + "-" + e.E
	}
	return "every day " + e.S + "-" + e.E
}

// dayWindow parses a Daily or Weekly rule's times.
func dayWindow(s, e string) (start, end time.Duration, err error) {
	if start, err = timeOfDay(s, false); err != nil {
		return 0, 0, fmt.Errorf("start: %w", err)
	}
	if end, err = timeOfDay(e, true); err != nil {
		return 0, 0, fmt.Errorf("end: %w", err)
	}
	if err := checkLength(start, end); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

// checkLength refuses a day window that opens and closes at the same
// time (00:00 to 24:00 is the whole day).
func checkLength(start, end time.Duration) error {
	if end%(24*time.Hour) == start && !(start == 0 && end == 24*time.Hour) {
		return fmt.Errorf("the window opens and closes at %s: give it a length (an end before the start crosses midnight)", clock(start))
	}
	return nil
}

// special parses a Special rule's date and times into r.
func (r *Rule) special(s, e string) error {
	date, clockPart, ok := strings.Cut(s, " ")
	if !ok {
		return fmt.Errorf("start %q: a special opening time starts with a date and a time, as 2026-12-24 18:00:00", s)
	}
	d, err := time.Parse("2006-01-02", date)
	if err != nil {
		return fmt.Errorf("start %q: %s is not a date (YYYY-MM-DD)", s, date)
	}
	r.Year, r.Month, r.Date = d.Date()
	if r.Start, err = timeOfDay(strings.TrimSpace(clockPart), false); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	endClock := e
	if d2, c2, ok := strings.Cut(e, " "); ok {
		if d2 != date {
			return fmt.Errorf("end %q: a special opening time ends on its own date (%s) or the morning after, written as a time alone", e, date)
		}
		endClock = strings.TrimSpace(c2)
	}
	if r.End, err = timeOfDay(endClock, true); err != nil {
		return fmt.Errorf("end: %w", err)
	}
	return checkLength(r.Start, r.End)
}

// hourWindow parses an Hourly rule's minutes.
func hourWindow(s, e string) (start, end time.Duration, err error) {
	if start, err = minuteOfHour(s); err != nil {
		return 0, 0, fmt.Errorf("start: %w", err)
	}
	if end, err = minuteOfHour(e); err != nil {
		return 0, 0, fmt.Errorf("end: %w", err)
	}
	if start == end {
		return 0, 0, fmt.Errorf("the window opens and closes at minute %s: give it a length (an end before the start crosses the hour)", s)
	}
	return start, end, nil
}

// timeOfDay parses HH:MM or HH:MM:SS; 24:00 only as an end.
func timeOfDay(v string, end bool) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a time of day: use HH:MM:SS from 00:00:00 to 23:59:59", v)
	if end {
		bad = fmt.Errorf("%q is not a time of day: use HH:MM:SS from 00:00:00 to 23:59:59, or 24:00:00", v)
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	n := make([]int, 3)
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || len(p) != 2 || x < 0 {
			return 0, bad
		}
		n[i] = x
	}
	h, m, sec := n[0], n[1], n[2]
	if h == 24 && m == 0 && sec == 0 && end {
		return 24 * time.Hour, nil
	}
	if h > 23 || m > 59 || sec > 59 {
		return 0, bad
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}

// minuteOfHour parses MM or MM:SS.
func minuteOfHour(v string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a minute of the hour: use MM or MM:SS from 00 to 59:59", v)
	m, s, hasSec := strings.Cut(v, ":")
	mi, err := strconv.Atoi(m)
	if err != nil || len(m) != 2 || mi < 0 || mi > 59 {
		return 0, bad
	}
	se := 0
	if hasSec {
		se, err = strconv.Atoi(s)
		if err != nil || len(s) != 2 || se < 0 || se > 59 {
			return 0, bad
		}
	}
	return time.Duration(mi)*time.Minute + time.Duration(se)*time.Second, nil
}

func clock(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func minutes(d time.Duration) string {
	s := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// window is one opening, [from, to).
type window struct{ from, to time.Time }

// horizon is how far around an instant the periodic rules are laid out:
// a weekly rule repeats within it, so a change in the union of the rules'
// windows, if there is one, is found within it.
const horizon = 9 * 24 * time.Hour

// ErrNoChange is returned by NextChange when the rules never change
// whether the room is open after t (no rules, or only past dates).
var ErrNoChange = errors.New("schedule: no change ahead")

// IsOpen reports whether any rule's window holds t, reading the rules in
// loc. No rules means open: a room without a schedule is always open.
func IsOpen(rules []Rule, loc *time.Location, t time.Time) bool {
	if len(rules) == 0 {
		return true
	}
	for _, w := range windows(rules, loc, t.Add(-2*24*time.Hour), t.Add(24*time.Hour)) {
		if !t.Before(w.from) && t.Before(w.to) {
			return true
		}
	}
	return false
}

// NextChange returns the first instant after t at which IsOpen changes,
// and whether the room opens (true) or closes then. ErrNoChange when it
// never does.
func NextChange(rules []Rule, loc *time.Location, t time.Time) (time.Time, bool, error) {
	if len(rules) == 0 {
		return time.Time{}, false, ErrNoChange
	}
	ws := merge(windows(rules, loc, t.Add(-2*24*time.Hour), t.Add(horizon)))
	for _, w := range ws {
		switch {
		case t.Before(w.from):
			return w.from, true, nil
		case t.Before(w.to):
			if w.to.After(t.Add(horizon - 24*time.Hour)) {
				return time.Time{}, false, ErrNoChange // open beyond what is laid out
			}
			return w.to, false, nil
		}
	}
	return time.Time{}, false, ErrNoChange
}

// windows lays out the rules' windows that start between from and to
// (special dates wherever they are), in no particular order.
func windows(rules []Rule, loc *time.Location, from, to time.Time) []window {
	var out []window
	first := from.In(loc)
	y, m, d := first.Date()
	for _, r := range rules {
		switch r.Kind {
		case Special:
			if w, ok := dayAt(loc, r.Year, r.Month, r.Date, r.Start, r.End); ok {
				out = append(out, w)
			}
		case Daily, Weekly:
			for i := 0; ; i++ {
				day := time.Date(y, m, d+i, 12, 0, 0, 0, loc)
				if day.After(to.Add(24 * time.Hour)) {
					break
				}
				if r.Kind == Weekly && day.Weekday() != r.Day {
					continue
				}
				dy, dm, dd := day.Date()
				if w, ok := dayAt(loc, dy, dm, dd, r.Start, r.End); ok && w.to.After(from) && w.from.Before(to) {
					out = append(out, w)
				}
			}
		case Hourly:
			top := time.Date(y, m, d, first.Hour(), 0, 0, 0, loc)
			if top.After(first) { // the hour began in a gap
				top = top.Add(-time.Hour)
			}
			for h := top; h.Before(to); h = h.Add(time.Hour) {
				end := r.End
				if end <= r.Start {
					end += time.Hour
				}
				out = append(out, window{h.Add(r.Start), h.Add(end)})
			}
		}
	}
	return out
}

// dayAt is the window of a day rule on one date; ok is false when DST
// makes it empty (it starts and ends in the same gap).
func dayAt(loc *time.Location, y int, m time.Month, d int, start, end time.Duration) (window, bool) {
	endDay := d
	if end <= start {
		endDay++
	}
	w := window{wall(loc, y, m, d, start), wall(loc, y, m, endDay, end)}
	return w, w.from.Before(w.to)
}

// wall is the instant the clocks of loc show offset past midnight of the
// date: the end of the gap for a skipped time, the first occurrence for
// a repeated one.
func wall(loc *time.Location, y int, m time.Month, d int, offset time.Duration) time.Time {
	s := int(offset / time.Second)
	want := time.Date(y, m, d, s/3600, s/60%60, s%60, 0, time.UTC) // the wall clock asked for
	t := time.Date(y, m, d, s/3600, s/60%60, s%60, 0, loc)
	start, end := t.ZoneBounds()
	if got := clockOf(t); !got.Equal(want) { // in a gap: time.Date moved it out, one way or the other
		if got.Before(want) {
			return end
		}
		return start
	}
	// A repeated time: time.Date gives its first occurrence
	// (TestNewYorkFallBack holds it to that).
	return t
}

// clockOf is what t's clocks show, as a UTC time for comparing.
func clockOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// merge sorts windows and joins those that overlap or touch.
func merge(ws []window) []window {
	slices.SortFunc(ws, func(a, b window) int { return a.from.Compare(b.from) })
	var out []window
	for _, w := range ws {
		if n := len(out); n > 0 && !w.from.After(out[n-1].to) {
			if w.to.After(out[n-1].to) {
				out[n-1].to = w.to
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// LoadZone reads an IANA zone name such as "Europe/Berlin" or "UTC" (the
// embedded zone database is used when the machine has none). "Local" and
// the empty name are refused: a schedule names its zone.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC", name)
	}
	return loc, nil
}

// When writes an instant for people in the room's zone, as "Tue 1 Dec
// 2026 09:00 EST": what "opens at" and "closes at" messages say.
func When(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if t.Second() != 0 {
		return t.Format("Mon 2 Jan 2006 15:04:05 MST")
	}
	return t.Format("Mon 2 Jan 2006 15:04 MST")
}
