package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"Bädword":    "badword",
		"ＢＡＤ":        "bad",
		"ǅemal":      "dzemal", // a title-case digraph, compatibility-decomposed
		"Straße":     "strasse",
		"CAFÉ":       "cafe",
		"ﬁne":        "fine", // a ligature
		"İstanbul":   "istanbul",
		"plain text": "plain text",
	} {
		if got := fold(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// checker is automod with the given rules (the defaults of the others
// turned off) and a clock.
func checker(t *testing.T, edit func(*automod)) (*automodState, *testenv.Clock) {
	t.Helper()
	c := defaults()
	c.Automod.Repeats.Count = 0
	edit(&c.Automod)
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock()
	return newAutomod(c.Automod, clock.Now), clock
}

var (
	guestGus = sdk.Caller{Name: "gus", Role: sdk.RoleGuest}
	modMia   = sdk.Caller{Name: "mia", Role: sdk.RoleModerator}
)

func TestAutomodWords(t *testing.T) {
	a, _ := checker(t, func(a *automod) { a.Words.List = []string{"badword", "bad", "straße"} })
	for in, want := range map[string]string{
		"what a Bädword!":         "what a *******!",
		"ＢＡＤ idea":                "*** idea",
		"so BAD, so bad":          "so ***, so ***",
		"STRASSE and strasse":     "******* and *******",
		"badminton is fine":       "", // whole words only
		"nothing to see here":     "",
		"b\u0061\u0301d (a + ◌́)": "*** (a + ◌́)",
	} {
		h := a.check(guestGus, in)
		switch {
		case want == "" && h != nil:
			t.Errorf("%q: hit %+v", in, h)
		case want != "" && (h == nil || h.Action != actMask || h.Text != want || h.Rule != "words"):
			t.Errorf("%q: hit %+v, want the mask %q", in, h, want)
		}
	}
	if h := a.check(modMia, "bad"); h != nil {
		t.Errorf("a moderator is exempt by default: %+v", h)
	}
	b, _ := checker(t, func(a *automod) { a.Words.List = []string{"bad"}; a.Words.Action = actBlock; a.Words.Exempt = nil })
	if h := b.check(modMia, "Ｂäd"); h == nil || h.Action != actBlock || !strings.Contains(h.Why, "not allowed") {
		t.Errorf("block: %+v", h)
	}
}

func TestAutomodCaps(t *testing.T) {
	a, _ := checker(t, func(a *automod) { a.Caps.MaxRatio = 0.5; a.Caps.MinLetters = 8 })
	if h := a.check(guestGus, "HELLO EVERYONE"); h == nil || h.Rule != "caps" || h.Action != actBlock {
		t.Errorf("shouting: %+v", h)
	}
	if h := a.check(guestGus, "OK"); h != nil {
		t.Errorf("short text is not measured: %+v", h)
	}
	if h := a.check(guestGus, "Hello Everyone, NASA"); h != nil {
		t.Errorf("a few capitals: %+v", h)
	}
	if h := a.check(guestGus, "ÄÖÜ ÉÈÊ ÇÑ"); h == nil {
		t.Error("capitals beyond ASCII are capitals")
	}
	b, _ := checker(t, func(a *automod) { a.Caps.MaxCount = 3 })
	if h := b.check(guestGus, "I AM HERE"); h == nil || !strings.Contains(h.Why, "3") {
		t.Errorf("count: %+v", h)
	}
	if h := b.check(guestGus, "I am OK"); h != nil {
		t.Errorf("three capitals: %+v", h)
	}
}

func TestAutomodLinks(t *testing.T) {
	a, _ := checker(t, func(a *automod) { a.Links.Max = 1 })
	if h := a.check(guestGus, "see https://example.com"); h != nil {
		t.Errorf("one link: %+v", h)
	}
	if h := a.check(guestGus, "http://a.example and WWW.b.example"); h == nil || h.Rule != "links" || h.Action != actHold {
		t.Errorf("two links: %+v", h)
	}
}

func TestAutomodInterval(t *testing.T) {
	a, clock := checker(t, func(a *automod) { a.MinInterval.Seconds = 2 })
	if h := a.check(guestGus, "one"); h != nil {
		t.Fatalf("first: %+v", h)
	}
	clock.Add(time.Second)
	if h := a.check(guestGus, "two"); h == nil || h.Rule != "min_interval" || !strings.Contains(h.Why, "2s") {
		t.Fatalf("too soon: %+v", h)
	}
	if h := a.check(sdk.Caller{Name: "vic", Role: sdk.RoleUser}, "another user"); h != nil {
		t.Fatalf("another user: %+v", h)
	}
	clock.Add(2 * time.Second)
	if h := a.check(guestGus, "three"); h != nil {
		t.Fatalf("after the interval: %+v", h)
	}
	if a.check(modMia, "x") != nil || a.check(modMia, "y") != nil {
		t.Fatal("moderators are exempt")
	}
}

func TestAutomodRepeats(t *testing.T) {
	a, clock := checker(t, func(a *automod) { a.Repeats.Count = 3 })
	for i, text := range []string{"buy now", "BUY  now", "other", "buy now", "buy now"} {
		if h := a.check(guestGus, text); h != nil {
			t.Fatalf("message %d %q: %+v", i, text, h)
		}
	}
	h := a.check(guestGus, "Buy now")
	if h == nil || h.Rule != "repeats" || h.Action != actMute || h.Minutes != 10 {
		t.Fatalf("third in a row: %+v", h)
	}
	// The count starts again after the window.
	a.check(guestGus, "hi")
	a.check(guestGus, "hi")
	clock.Add(61 * time.Second)
	if h := a.check(guestGus, "hi"); h != nil {
		t.Fatalf("after the window: %+v", h)
	}
}

func TestSquash(t *testing.T) {
	for in, want := range map[string]string{"a b": "a b", " a  b ": "a b", "a\tb": "a b", "a ": "a", "": "", "  ": ""} {
		if got := squash(in); got != want {
			t.Errorf("squash(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkCheck is automod's cost per message with the default rules (a
// message that passes).
func BenchmarkCheck(b *testing.B) {
	m := newModeration(nil)
	if err := m.Configure(context.Background(), sdk.Config{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := range b.N {
		if h := m.automod.check(guestGus, "b1 0 "+string(rune('a'+i%26))+" 1700000000"); h != nil {
			b.Fatal(h)
		}
	}
}

func TestConfig(t *testing.T) {
	m := newModeration(nil)
	if err := m.Configure(context.Background(), sdk.Config{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for raw, want := range map[string]string{
		`{"hold_note":"x","greeting":1}`:                           `unknown key "greeting"`,
		`{"automod":{"words":{"action":"explode"}}}`:               `automod.words.action: "explode"`,
		`{"automod":{"caps":{"action":"mask"}}}`:                   "mask is for words only",
		`{"automod":{"words":{"list":["two words"]}}}`:             "not a single word",
		`{"automod":{"repeats":{"exempt":["boss"]}}}`:              `"boss" is not a role`,
		`{"quotas":{"guest":{"kick":1}}}`:                          `"guest" is not a role that sanctions`,
		`{"automod":{"caps":{"max_ratio":1.5}}}`:                   "max_ratio",
		`{"mute_minutes":-1}`:                                      "mute_minutes",
		`{"automod":{"repeats":{"count":1}}}`:                      "count",
		`{"automod":{"links":{"action":"mute","mute_minutes":0}}}`: "mute_minutes must be at least 1",
	} {
		err := newModeration(nil).Configure(context.Background(), sdk.Config{Raw: []byte(raw)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}
