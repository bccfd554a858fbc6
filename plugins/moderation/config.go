package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/parlorchat/parlor/sdk"
)

// config is the plugin's `config` block (docs/plugins.md, "moderation").
// Every number is a limit with a default; 0 turns a threshold off where
// the comment says so.
type config struct {
	// HoldNote is what the author of a held message sees.
	HoldNote string `json:"hold_note"`
	// KickCooldownMinutes is the re-entry cooldown of mod.kick when the
	// command gives none.
	KickCooldownMinutes int `json:"kick_cooldown_minutes"`
	// MuteMinutes is the length of mod.mute when the command gives none.
	MuteMinutes int `json:"mute_minutes"`
	// MaxMinutes bounds the minutes of any kick, mute or ban a moderator
	// gives (administrators are not bound); 0 is no bound.
	MaxMinutes int `json:"max_minutes"`
	// ModeratorsMayBanForever lets moderators give bans without an end.
	ModeratorsMayBanForever bool `json:"moderators_may_ban_forever"`
	// ShowIP lets moderators see the IP addresses of a room's members
	// (mod.members); administrators always see them.
	ShowIP bool `json:"show_ip"`
	// Quotas are how many sanctions of each kind a user of a role may give
	// per day (UTC), by role; a role not listed, or a 0, is unlimited.
	Quotas map[sdk.Role]quota `json:"quotas"`
	// Automod are the automatic rules.
	Automod automod `json:"automod"`
}

// quota is a day's allowance of sanctions one moderator may give.
type quota struct {
	Kick int `json:"kick"`
	Mute int `json:"mute"`
	Ban  int `json:"ban"`
}

// of is the allowance for a sanction kind; 0 is unlimited.
func (q quota) of(kind string) int {
	switch kind {
	case sdk.SanctionKick:
		return q.Kick
	case sdk.SanctionMute:
		return q.Mute
	case sdk.SanctionBan:
		return q.Ban
	}
	return 0
}

// Automod actions.
const (
	actBlock = "block" // refuse the message with the rule's explanation
	actHold  = "hold"  // hold it for a moderator
	actMute  = "mute"  // refuse it and mute the author in the room
	actMask  = "mask"  // (words only) replace the listed words with *
)

// rule is what every automod rule has.
type rule struct {
	// Action is block, hold, mute (and for words also mask).
	Action string `json:"action"`
	// MuteMinutes is the length of the mute of the mute action.
	MuteMinutes int `json:"mute_minutes"`
	// Exempt are the roles the rule does not apply to.
	Exempt []sdk.Role `json:"exempt"`
}

// exempt reports whether role is exempt from the rule.
func (r rule) exempt(role sdk.Role) bool {
	for _, e := range r.Exempt {
		if e == role {
			return true
		}
	}
	return false
}

// automod are the automatic rules, checked cheapest first.
type automod struct {
	MinInterval intervalRule `json:"min_interval"`
	Repeats     repeatRule   `json:"repeats"`
	Caps        capsRule     `json:"caps"`
	Links       linksRule    `json:"links"`
	Words       wordsRule    `json:"words"`
}

// intervalRule: at least Seconds between two messages of a user (0: off).
type intervalRule struct {
	rule
	Seconds float64 `json:"seconds"`
}

// repeatRule: the Count-th identical message in a row (each within
// WindowSeconds of the one before) triggers the action (0: off).
type repeatRule struct {
	rule
	Count         int     `json:"count"`
	WindowSeconds float64 `json:"window_seconds"`
}

// capsRule: at most MaxRatio of the letters capitals, for messages of at
// least MinLetters letters, and at most MaxCount capitals (0: off).
type capsRule struct {
	rule
	MaxRatio   float64 `json:"max_ratio"`
	MinLetters int     `json:"min_letters"`
	MaxCount   int     `json:"max_count"`
}

// linksRule: at most Max links (http://, https://, www.) per message
// (0: off).
type linksRule struct {
	rule
	Max int `json:"max"`
}

// wordsRule: the listed words, matched as whole words after Unicode
// normalisation (NFKC, case folding, marks removed).
type wordsRule struct {
	rule
	List []string `json:"list"`
}

// defaultExempt are the roles no rule applies to unless configured.
var defaultExempt = []sdk.Role{sdk.RoleModerator, sdk.RoleAdmin}

// defaults is the configuration before the `config` block.
func defaults() config {
	r := func(action string) rule { return rule{Action: action, MuteMinutes: 10, Exempt: defaultExempt} }
	return config{
		HoldNote:                "waiting for approval",
		KickCooldownMinutes:     5,
		MuteMinutes:             10,
		MaxMinutes:              7 * 24 * 60,
		ModeratorsMayBanForever: true,
		Quotas: map[sdk.Role]quota{
			sdk.RoleModerator: {Kick: 50, Mute: 50, Ban: 20},
		},
		Automod: automod{
			MinInterval: intervalRule{rule: r(actBlock)},
			Repeats:     repeatRule{rule: r(actMute), Count: 3, WindowSeconds: 60},
			Caps:        capsRule{rule: r(actBlock), MinLetters: 8},
			Links:       linksRule{rule: r(actHold)},
			Words:       wordsRule{rule: r(actMask)},
		},
	}
}

// wordRE is a word: letters, marks and digits of any script.
var wordRE = regexp.MustCompile(`[\p{L}\p{M}\p{N}]+`)

// check refuses a configuration that cannot work, naming the key.
func (c *config) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(c.HoldNote) == "" {
		bad("hold_note must not be empty")
	}
	for key, v := range map[string]int{"kick_cooldown_minutes": c.KickCooldownMinutes, "mute_minutes": c.MuteMinutes, "max_minutes": c.MaxMinutes} {
		if v < 0 {
			bad("%s must be 0 or more, not %d", key, v)
		}
	}
	for role, q := range c.Quotas {
		if role != sdk.RoleModerator && role != sdk.RoleAdmin {
			bad("quotas: %q is not a role that sanctions (moderator or admin)", role)
		}
		if q.Kick < 0 || q.Mute < 0 || q.Ban < 0 {
			bad("quotas.%s: counts must be 0 (unlimited) or more", role)
		}
	}
	a := &c.Automod
	rules := []struct {
		name  string
		r     *rule
		masks bool
	}{
		{"min_interval", &a.MinInterval.rule, false},
		{"repeats", &a.Repeats.rule, false},
		{"caps", &a.Caps.rule, false},
		{"links", &a.Links.rule, false},
		{"words", &a.Words.rule, true},
	}
	for _, x := range rules {
		switch x.r.Action {
		case actBlock, actHold, actMute:
		case actMask:
			if !x.masks {
				bad("automod.%s.action: mask is for words only (block, hold or mute)", x.name)
			}
		default:
			bad("automod.%s.action: %q is not block, hold, mute%s", x.name, x.r.Action, map[bool]string{true: " or mask"}[x.masks])
		}
		if x.r.Action == actMute && x.r.MuteMinutes < 1 {
			bad("automod.%s.mute_minutes must be at least 1 with the mute action", x.name)
		}
		for _, role := range x.r.Exempt {
			if role.Rank() == 0 {
				bad("automod.%s.exempt: %q is not a role (admin, moderator, speaker, user, guest)", x.name, role)
			}
		}
	}
	if a.MinInterval.Seconds < 0 {
		bad("automod.min_interval.seconds must be 0 (off) or more")
	}
	if a.Repeats.Count < 0 || a.Repeats.Count == 1 {
		bad("automod.repeats.count must be 0 (off) or at least 2, not %d", a.Repeats.Count)
	}
	if a.Repeats.WindowSeconds <= 0 {
		bad("automod.repeats.window_seconds must be above 0")
	}
	if a.Caps.MaxRatio < 0 || a.Caps.MaxRatio >= 1 {
		bad("automod.caps.max_ratio must be 0 (off) or between 0 and 1, such as 0.7")
	}
	if a.Caps.MinLetters < 1 || a.Caps.MaxCount < 0 {
		bad("automod.caps: min_letters must be at least 1 and max_count 0 (off) or more")
	}
	if a.Links.Max < 0 {
		bad("automod.links.max must be 0 (off) or more")
	}
	for _, w := range a.Words.List {
		if w == "" || wordRE.FindString(w) != w {
			bad("automod.words.list: %q is not a single word", w)
		}
	}
	return errors.Join(errs...)
}
