package passwords

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// patternPart is one piece of a salted_md5 pattern: literal text or a
// placeholder.
type patternPart struct {
	literal string
	field   string // "" for literal text
}

// placeholders are the fields a pattern may name.
var placeholders = map[string]bool{
	"password":      true,
	"salt":          true,
	"md5(password)": true,
	"md5(salt)":     true,
}

// parsePattern splits a salted_md5 pattern into literals and placeholders.
func parsePattern(pattern string) ([]patternPart, error) {
	var parts []patternPart
	hasPassword := false
	rest := pattern
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			parts = append(parts, patternPart{literal: rest})
			break
		}
		if open > 0 {
			parts = append(parts, patternPart{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("salt pattern %q: unclosed {", pattern)
		}
		name := rest[open+1 : open+end]
		if !placeholders[name] {
			return nil, fmt.Errorf("salt pattern %q: unknown placeholder {%s} (want {password}, {salt}, {md5(password)} or {md5(salt)})", pattern, name)
		}
		if strings.Contains(name, "password") {
			hasPassword = true
		}
		parts = append(parts, patternPart{field: name})
		rest = rest[open+end+1:]
	}
	if !hasPassword {
		return nil, fmt.Errorf("salt pattern %q: no {password} placeholder", pattern)
	}
	return parts, nil
}

// expand renders the pattern for one password and salt.
func expand(parts []patternPart, password, salt string) string {
	var b strings.Builder
	for _, p := range parts {
		switch p.field {
		case "":
			b.WriteString(p.literal)
		case "password":
			b.WriteString(password)
		case "salt":
			b.WriteString(salt)
		case "md5(password)":
			b.WriteString(hex.EncodeToString(md5Sum([]byte(password))))
		case "md5(salt)":
			b.WriteString(hex.EncodeToString(md5Sum([]byte(salt))))
		}
	}
	return b.String()
}
