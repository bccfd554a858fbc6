package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/parlorchat/parlor/sdk"
)

// hit is an automod rule that matched a message.
type hit struct {
	Rule   string // min_interval, repeats, caps, links, words
	Action string // block, hold, mute or mask
	// Minutes is the mute's length with the mute action.
	Minutes int
	// Why explains the hit to the author (and the audit log).
	Why string
	// Text is the masked text with the mask action.
	Text string
}

// linkRE is a link: a URL with a scheme or a www. host.
var linkRE = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s]+`)

// fold normalises text for comparison: compatibility forms (NFKC, so
// that full-width "ＢＡＤ" is "BAD"), case folding, and no combining
// marks (so that "Bädword" is "badword").
func fold(s string) string {
	t := transform.Chain(norm.NFKC, cases.Fold(), norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return strings.ToLower(s)
	}
	return out
}

// words is the word list, folded, for matching.
type words map[string]bool

func newWords(list []string) words {
	w := make(words, len(list))
	for _, s := range list {
		w[fold(s)] = true
	}
	return w
}

// match returns the text with listed words masked and how many there
// were. A word is matched whole after folding; the mask keeps the length
// of the word as written.
func (w words) match(text string) (string, int) {
	if len(w) == 0 {
		return text, 0
	}
	n := 0
	out := wordRE.ReplaceAllStringFunc(text, func(word string) string {
		if !w[fold(word)] {
			return word
		}
		n++
		return strings.Repeat("*", visible(word))
	})
	return out, n
}

// visible counts the runes of a word that are not combining marks, so
// that "bád" written with a combining accent is masked as "***".
func visible(word string) int {
	n := 0
	for _, r := range word {
		if !unicode.Is(unicode.Mn, r) {
			n++
		}
	}
	return n
}

// capitals counts the letters and the capital letters of text.
func capitals(text string) (letters, upper int) {
	for _, r := range text {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	return letters, upper
}

// recent is what automod remembers of one user's last message.
type recent struct {
	last    time.Time
	repeat  string // the last text, squashed
	repeats int    // how many in a row
}

// automodState checks messages against the rules; it remembers each
// user's last message in memory (a restart forgets it).
type automodState struct {
	cfg   automod
	words words
	now   func() time.Time

	mu    sync.Mutex
	users map[string]*recent
	swept time.Time
}

// maxRemembered is how many users automod remembers before it forgets
// those quiet for longer than its windows.
const maxRemembered = 10000

func newAutomod(cfg automod, now func() time.Time) *automodState {
	return &automodState{cfg: cfg, words: newWords(cfg.Words.List), now: now, users: map[string]*recent{}}
}

// check runs the rules on a public message, cheapest first, and returns
// the first hit (nil: the message passes). A masking word hit comes back
// with the masked text; rules after it are not needed.
func (a *automodState) check(from sdk.Caller, text string) *hit {
	if h := a.checkRecent(from, text); h != nil {
		return h
	}
	c := &a.cfg
	if r := c.Caps; (r.MaxRatio > 0 || r.MaxCount > 0) && !r.exempt(from.Role) {
		letters, upper := capitals(text)
		switch {
		case r.MaxCount > 0 && upper > r.MaxCount:
			return ruleHit("caps", r.rule, fmt.Sprintf("too many capital letters (%d, at most %d)", upper, r.MaxCount))
		case r.MaxRatio > 0 && letters >= r.MinLetters && float64(upper) > r.MaxRatio*float64(letters):
			return ruleHit("caps", r.rule, fmt.Sprintf("too many capital letters (%d of %d letters)", upper, letters))
		}
	}
	if r := c.Links; r.Max > 0 && !r.exempt(from.Role) {
		if n := len(linkRE.FindAllStringIndex(text, r.Max+1)); n > r.Max {
			return ruleHit("links", r.rule, fmt.Sprintf("too many links (at most %d)", r.Max))
		}
	}
	if r := c.Words; len(a.words) > 0 && !r.exempt(from.Role) {
		if masked, n := a.words.match(text); n > 0 {
			h := ruleHit("words", r.rule, "a word that is not allowed here")
			h.Text = masked
			return h
		}
	}
	return nil
}

// checkRecent runs the rules that remember: the minimum interval and
// the repeats.
func (a *automodState) checkRecent(from sdk.Caller, text string) *hit {
	iv, rp := a.cfg.MinInterval, a.cfg.Repeats
	useIv := iv.Seconds > 0 && !iv.exempt(from.Role)
	useRp := rp.Count > 0 && !rp.exempt(from.Role)
	if !useIv && !useRp {
		return nil
	}
	now := a.now()
	key := strings.ToLower(from.Name)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	u := a.users[key]
	if u == nil {
		u = &recent{}
		a.users[key] = u
	}
	gap := now.Sub(u.last)
	first := u.last.IsZero()
	u.last = now
	if useIv && !first && gap < time.Duration(iv.Seconds*float64(time.Second)) {
		return ruleHit("min_interval", iv.rule, fmt.Sprintf("wait %gs between messages", iv.Seconds))
	}
	if useRp {
		// Compared without regard to case and runs of spaces; no
		// allocation unless the text has odd spacing (this runs for
		// every message).
		f := squash(text)
		if !first && strings.EqualFold(f, u.repeat) && gap <= time.Duration(rp.WindowSeconds*float64(time.Second)) {
			u.repeats++
		} else {
			u.repeat, u.repeats = f, 1
		}
		if u.repeats >= rp.Count {
			u.repeats = 0
			return ruleHit("repeats", rp.rule, fmt.Sprintf("the same message %d times in a row", rp.Count))
		}
	}
	return nil
}

// squash returns s with its runs of white space made one space and its
// ends trimmed; s itself when there is nothing to change.
func squash(s string) string {
	prevSpace := true // so that a leading space counts
	for _, r := range s {
		sp := unicode.IsSpace(r)
		if sp && (prevSpace || r != ' ') {
			return strings.Join(strings.Fields(s), " ")
		}
		prevSpace = sp
	}
	if prevSpace && s != "" { // a trailing space
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}

// sweep forgets users quiet for longer than the windows once too many are
// remembered (at most once a minute). a.mu is held.
func (a *automodState) sweep(now time.Time) {
	if len(a.users) < maxRemembered || now.Sub(a.swept) < time.Minute {
		return
	}
	a.swept = now
	keep := time.Duration(max(a.cfg.MinInterval.Seconds, a.cfg.Repeats.WindowSeconds) * float64(time.Second))
	for k, u := range a.users {
		if now.Sub(u.last) > keep {
			delete(a.users, k)
		}
	}
}

func ruleHit(name string, r rule, why string) *hit {
	return &hit{Rule: name, Action: r.Action, Minutes: r.MuteMinutes, Why: why}
}
