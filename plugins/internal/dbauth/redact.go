package dbauth

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// redactor removes a DSN's secrets from text bound for the log.
type redactor struct {
	secrets []string // longest first
}

// keyValueSecret finds password=..., pwd=... in key=value DSNs (ODBC,
// PostgreSQL, SQL Server, Oracle connect strings).
var keyValueSecret = regexp.MustCompile(`(?i)\b(?:password|pwd|passwd)\s*=\s*(\{[^}]*\}|'[^']*'|"[^"]*"|[^;\s&]+)`)

// newRedactor collects the secrets of dsn: the whole DSN, the password of a
// URL (scheme://user:password@host), of a MySQL DSN (user:password@tcp(...))
// and of password=/pwd= pairs.
func newRedactor(dsn string) redactor {
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
		}
	}
	add(dsn)
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(url.QueryEscape(p))
			add(url.PathEscape(p))
		}
	}
	// MySQL: [user[:password]@][net[(addr)]]/dbname[?params]
	if at := strings.LastIndex(dsn, "@"); at > 0 && !strings.Contains(dsn[:at], "://") {
		if colon := strings.IndexByte(dsn[:at], ':'); colon >= 0 {
			add(dsn[colon+1 : at])
		}
	}
	for _, m := range keyValueSecret.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		add(v)
		if len(v) >= 2 && strings.ContainsRune("{'\"", rune(v[0])) {
			add(v[1 : len(v)-1]) // without {}, '' or ""
		}
	}
	r := redactor{}
	for s := range seen {
		r.secrets = append(r.secrets, s)
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// redact returns msg with every secret replaced by "***".
func (r redactor) redact(msg string) string {
	for _, s := range r.secrets {
		msg = strings.ReplaceAll(msg, s, "***")
	}
	return msg
}
