package config

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// notConfigEnv reports whether name is a PARLOR_ environment variable that
// is read by Parlor's tools, examples or tests and is not a config key, so
// Load neither refuses it nor loads it. This is the one list of them: add a
// variable here when code starts reading a new one.
func notConfigEnv(name string) bool {
	switch name {
	case
		"PARLOR_API_PASSWORD",     // parlorctl: the server API password
		"PARLOR_API_HOST",         // examples/serverapi-php: the server API address
		"PARLOR_API_PORT",         // examples/serverapi-php
		"PARLOR_API_GROUP",        // examples/serverapi-php
		"PARLOR_CHAT_URL",         // examples/sso-website: the chat's public URL
		"PARLOR_SSO_API_KEY",      // examples/sso-website: the SSO plugin's api_key
		"PARLOR_PLUGIN",           // sdk: the handshake cookie of a plugin process
		"PARLOR_REQUIRE_SERVICES", // tests: fail instead of skip when a service is missing
		"PARLOR_CHROMIUM",         // tests: the browser binary
		"PARLOR_SCREENSHOT_DIR":   // tests: where web client screenshots go
		return true
	}
	for _, prefix := range []string{
		"PARLOR_TEST_",    // tests: service addresses and DSNs (PARLOR_TEST_MSSQL_DSN, ...)
		"PARLOR_AUTH_DB_", // plugins/authurl's PHP example: its database
	} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// unknownKey is a key that is not a setting, with the settings it is
// probably meant to be.
type unknownKey struct {
	key   string
	maybe []string
}

// describe writes the refusal of an unknown key; where says where it was
// found ("in FILE", "from PARLOR_X").
func (u unknownKey) describe(where string) error {
	msg := "config key " + u.key
	if where != "" {
		msg += " " + where
	}
	msg += " is not a setting"
	if len(u.maybe) > 0 {
		msg += "; did you mean " + strings.Join(u.maybe, " or ") + "?"
	}
	return fmt.Errorf("%s", msg)
}

// unknownKeys lists the keys of raw (a koanf config map) that are not
// settings of Config. The settings are the koanf tags of Config's fields,
// found by reflection: a struct is a section of keys, a map of structs holds
// entries by any name with the struct's keys (server_api.groups.<name>), a
// list of structs holds entries with the struct's keys (rooms[0]), and a
// map of anything else (plugins.load.<name>.config) is free.
func unknownKeys(raw map[string]any) []unknownKey {
	w := keyWalker{}
	w.walk(reflect.TypeFor[Config](), "", raw)
	sort.Slice(w.found, func(i, j int) bool { return w.found[i].key < w.found[j].key })
	return w.found
}

type keyWalker struct {
	found []unknownKey
}

// section reports whether t (a struct) is a section of keys rather than a
// value decoded from text, such as time.Time.
func section(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for f := range t.Fields() {
		if f.IsExported() {
			return true
		}
	}
	return false
}

// fields maps each key of the section t to its field type, following
// squashed (embedded) structs.
func fields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("koanf")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		ft := deref(f.Type)
		if (f.Anonymous || strings.Contains(opts, "squash")) && name == "" && section(ft) {
			for k, v := range fields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// walk checks value v found at path against the type t.
func (w *keyWalker) walk(t reflect.Type, path string, v any) {
	t = deref(t)
	m, isMap := v.(map[string]any)
	switch {
	case section(t):
		if !isMap {
			return // not a section's shape: the decoder says what is wrong
		}
		known := fields(t)
		for name, sub := range m {
			key := join(path, name)
			ft, ok := known[name]
			if !ok {
				maybe := suggest(path, name, known)
				if len(maybe) == 0 {
					maybe = elsewhere(name)
				}
				w.found = append(w.found, unknownKey{key: key, maybe: maybe})
				continue
			}
			w.walk(ft, key, sub)
		}
	case t.Kind() == reflect.Map:
		if !isMap || !section(deref(t.Elem())) {
			return // a free map (plugins.load.<name>.config) takes any key
		}
		for name, sub := range m {
			w.walk(t.Elem(), join(path, name), sub)
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		list, ok := v.([]any)
		if !ok || !section(deref(t.Elem())) {
			return
		}
		for i, e := range list {
			w.walk(t.Elem(), fmt.Sprintf("%s[%d]", path, i), e)
		}
	case t.Kind() == reflect.Interface:
		// any value is welcome
	default:
		// A single value has no keys below it.
		for name := range m {
			w.found = append(w.found, unknownKey{key: join(path, name)})
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// suggest returns the keys of the section at path that name is probably
// meant to be: the ones nearest by edit distance, if near enough (among
// equally near ones, those with the same letters, so a transposition such
// as nmae wins over a different word), else the ones name begins (allow for
// allow_from). Case is ignored, so HTTP suggests http.
func suggest(path, name string, known map[string]reflect.Type) []string {
	lower := strings.ToLower(name)
	limit := 1
	if n := len([]rune(lower)); n > 3 {
		limit = max(2, n/3)
	}
	best := limit + 1
	var near, prefixed []string
	for k := range known {
		d := levenshtein.ComputeDistance(lower, k)
		switch {
		case d > limit+1, d == limit+1 && !sameLetters(lower, k):
			// Too far to be meant, but for a transposition (dns for dsn).
		case d < best:
			best, near = d, []string{k}
		case d == best:
			near = append(near, k)
		}
		if len(lower) >= 3 && strings.HasPrefix(k, lower) {
			prefixed = append(prefixed, k)
		}
	}
	var same []string
	for _, k := range near {
		if sameLetters(lower, k) {
			same = append(same, k)
		}
	}
	out := near
	switch {
	case len(same) > 0:
		out = same
	case len(near) == 0:
		out = prefixed
	}
	for i := range out {
		out[i] = join(path, out[i])
	}
	sort.Strings(out)
	return out
}

// sameLetters reports whether a and b are made of the same letters.
func sameLetters(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	slices.Sort(ra)
	slices.Sort(rb)
	return slices.Equal(ra, rb)
}

// elsewhere returns the settings of other sections that are named name, for
// a key put in the wrong section (history at the top for chat.history). It
// follows sections only, not entries of maps or lists.
func elsewhere(name string) []string {
	lower := strings.ToLower(name)
	var out []string
	var visit func(t reflect.Type, path string)
	visit = func(t reflect.Type, path string) {
		for k, ft := range fields(t) {
			key := join(path, k)
			if k == lower {
				out = append(out, key)
			}
			if ft = deref(ft); section(ft) {
				visit(ft, key)
			}
		}
	}
	visit(reflect.TypeFor[Config](), "")
	sort.Strings(out)
	return out
}
