package chat

import (
	"fmt"
	"strings"
	"unicode"

	"go.mau.fi/util/confusable"
	"golang.org/x/text/secure/precis"
)

// One identity per name: names and e-mails are compared by a canonical
// key (docs/operations.md, "Names").
//
// The key of a name is the PRECIS UsernameCaseMapped profile (RFC 8265)
// applied to each space-separated part, the parts joined by one space:
// full-width letters become their usual form, letters are lower-cased and
// the result is in NFC, so "Élise", "élise" and "E\u0301lise" share one
// key, and so do "Kate", "KATE", "\u212Aate" (the Kelvin sign) and
// "ＫＡＴＥ". A run of spaces counts as one. RFC 8265 section 3.5 suggests
// this treatment of spaces, which the profile itself refuses and Parlor's
// names allow.

// unkeyed starts the key NameKey gives a name that has none. U+FFFD is a
// symbol, which the profile never lets through, so such a key is never
// the key of a usable name.
const unkeyed = "\uFFFD"

// UsableNameKey returns the canonical key of name, or a *Error with
// CodeNameUnusable saying why the name has none (a character the PRECIS
// profile refuses, such as "²", "ﬁ" or a joiner, or an empty part).
func UsableNameKey(name string) (string, error) {
	parts := spaceParts(name)
	if len(parts) == 0 {
		return "", Errorf(CodeNameUnusable, "An empty name can't be used.")
	}
	for i, p := range parts {
		k, err := precis.UsernameCaseMapped.String(p)
		if err != nil {
			return "", Errorf(CodeNameUnusable, "The name %q can't be used: %q contains a character that names may not have (a symbol, a compatibility form such as \"²\" or \"ﬁ\", or an invisible character).", name, p)
		}
		parts[i] = k
	}
	return strings.Join(parts, " "), nil
}

// spaceParts splits name at its spaces (U+0020 only: other spaces are
// characters the profile refuses), dropping empty parts.
func spaceParts(name string) []string {
	parts := strings.Split(name, " ")
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// NameKey is the canonical key of a user name: two names with the same
// key are the same identity, in memory, in the store and in every
// comparison. A name the profile refuses (see UsableNameKey) keys as
// itself behind U+FFFD: equal only to its own spelling and never to the
// key of a usable name.
func NameKey(name string) string {
	k, err := UsableNameKey(name)
	if err != nil {
		return unkeyed + name
	}
	return k
}

// CheckName returns nil when name may be used as a user name (ValidName,
// and it has a canonical key) and otherwise a *Error with
// CodeNameUnusable and a sentence that says why.
func CheckName(name string) error {
	if !ValidName(name) {
		return Errorf(CodeNameUnusable, "%q is not a valid name: use 1 to 32 letters, digits, spaces, '_', '-' or '.'.", name)
	}
	_, err := UsableNameKey(name)
	return err
}

// EmailKey is the canonical key of an e-mail address: the local part and
// the domain (split at the last '@') each go through the same PRECIS
// profile as names (lower case, full-width folded, NFC), so
// "ÜWE@Example.com" and "üwe@example.com" are one address. It fails for
// an address without both parts or with characters the profile refuses.
func EmailKey(email string) (string, error) {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return "", fmt.Errorf("e-mail %q: want local-part@domain", email)
	}
	local, err := precis.UsernameCaseMapped.String(email[:at])
	if err != nil {
		return "", fmt.Errorf("e-mail %q: the part before '@' has a character that addresses here may not have: %w", email, err)
	}
	domain, err := precis.UsernameCaseMapped.String(email[at+1:])
	if err != nil {
		return "", fmt.Errorf("e-mail %q: the domain has a character that addresses here may not have: %w", email, err)
	}
	return local + "@" + domain, nil
}

// NameSkeleton is the look-alike key of a name: names with equal
// skeletons look alike ("Kate1" and "Katel", "B0b" and "Bob", Cyrillic
// "Аdmin" and "Admin"). It is the UTS #39 skeleton, taken without regard
// to case (skeleton, lower case, skeleton again, lower case, so that both
// "I"/"l" and "0"/"o" are caught), with runs of spaces as one. It is for
// comparing only, never for showing.
func NameSkeleton(name string) string {
	s := strings.Join(spaceParts(name), " ")
	s = strings.ToLower(confusable.Skeleton(s))
	return strings.ToLower(confusable.Skeleton(s))
}

// MixedScripts reports whether name has letters of more than one of the
// Latin, Greek and Cyrillic scripts, the scripts whose letters are most
// often mistaken for each other ("Аdmin" with a Cyrillic "А").
func MixedScripts(name string) bool {
	var latin, greek, cyrillic bool
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r):
		case unicode.Is(unicode.Latin, r):
			latin = true
		case unicode.Is(unicode.Greek, r):
			greek = true
		case unicode.Is(unicode.Cyrillic, r):
			cyrillic = true
		}
	}
	n := 0
	for _, b := range []bool{latin, greek, cyrillic} {
		if b {
			n++
		}
	}
	return n > 1
}
