package dbauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parlorchat/parlor/plugins/internal/passwords"
)

// Defaults of the configuration.
const (
	DefaultMaxOpenConns    = 10
	DefaultMaxIdleConns    = 2
	DefaultConnMaxLifetime = 5 * time.Minute
	// DefaultQueryTimeout is below the host's default plugin call timeout
	// (3s), so a slow database is answered with code 3 by the plugin.
	DefaultQueryTimeout = 2 * time.Second
)

// Config is a database plugin's `config` block.
type Config struct {
	// Driver selects the dialect in a plugin serving several (sqlauth:
	// "postgres" or "sqlite"); optional otherwise.
	Driver string `json:"driver"`
	// DSN is the driver's data source name. It is a secret: it is never
	// logged or answered.
	DSN string `json:"dsn"`

	// Table and Columns map a users table; Query replaces them.
	Table   string  `json:"table"`
	Columns Columns `json:"columns"`
	// Query is a custom SELECT with named parameters (:username, :password,
	// :group, :remote_ip) answering columns named like the Field* values.
	Query string `json:"query"`

	// PasswordScheme is how passwords are stored (passwords.Schemes); it
	// is required, so a hash is never compared as if it were plain text.
	PasswordScheme string `json:"password_scheme"`
	// SaltPattern is the salted_md5 pattern, e.g. "{password}{salt}".
	SaltPattern string `json:"salt_pattern"`

	// AdminValue, when set, is the value of the admin column that makes a
	// user an administrator (e.g. "3" for phpBB's user_type); otherwise any
	// true value (not NULL, empty, 0, false, no, off, n, f) does.
	AdminValue string `json:"admin_value"`
	// BannedValue is the same for the banned column.
	BannedValue string `json:"banned_value"`

	// IdentifierQuote overrides the dialect's identifier quoting: ansi,
	// backtick, brackets, upper or none.
	IdentifierQuote string `json:"identifier_quote"`

	// Pool and timeouts.
	MaxOpenConns    Int      `json:"max_open_conns"`
	MaxIdleConns    Int      `json:"max_idle_conns"`
	ConnMaxLifetime Duration `json:"conn_max_lifetime"`
	QueryTimeout    Duration `json:"query_timeout"`
}

// ParseConfig decodes raw (the plugin's configuration as JSON) strictly: an
// unknown key is an error, so a typo does not silently fall back to a
// default. Defaults are filled in.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return Config{}, fmt.Errorf("decode plugin config: %w", err)
		}
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = DefaultMaxOpenConns
	}
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = DefaultMaxIdleConns
	}
	if c.MaxIdleConns > c.MaxOpenConns {
		c.MaxIdleConns = c.MaxOpenConns
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = Duration(DefaultConnMaxLifetime)
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = Duration(DefaultQueryTimeout)
	}
	return c, nil
}

// validate checks what does not depend on the dialect.
func (c Config) validate() error {
	var errs []error
	if strings.TrimSpace(c.DSN) == "" {
		errs = append(errs, errors.New("dsn is required"))
	}
	switch {
	case c.Query != "" && c.Table != "":
		errs = append(errs, errors.New("set either table (with columns) or query, not both"))
	case c.Query == "" && c.Table == "":
		errs = append(errs, errors.New("set table (with columns.user and columns.password) or query"))
	case c.Query != "" && c.Columns != (Columns{}):
		errs = append(errs, errors.New("columns apply to table; a custom query names its result columns itself"))
	}
	if c.MaxOpenConns < 0 || c.MaxIdleConns < 0 {
		errs = append(errs, errors.New("max_open_conns and max_idle_conns must not be negative"))
	}
	if c.QueryTimeout < 0 || c.ConnMaxLifetime < 0 {
		errs = append(errs, errors.New("query_timeout and conn_max_lifetime must not be negative"))
	}
	if c.PasswordScheme == string(passwords.SaltedMD5) && c.Table != "" && c.Columns.Salt == "" {
		errs = append(errs, errors.New("password_scheme salted_md5 needs columns.salt"))
	}
	return errors.Join(errs...)
}

// Duration is a time.Duration read from a string such as "2s" or "500ms",
// or from a number of seconds.
type Duration time.Duration

// UnmarshalJSON accepts "2s" or 2 (seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			if secs, ferr := strconv.ParseFloat(s, 64); ferr == nil {
				*d = Duration(secs * float64(time.Second))
				return nil
			}
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration: want a string like \"2s\" or a number of seconds, got %s", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Int is an integer read from a JSON number or a numeric string (as the
// environment overrides of the server's configuration produce).
type Int int

// UnmarshalJSON accepts 10 or "10".
func (i *Int) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*i = Int(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("integer: got %s", b)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("integer %q: %w", s, err)
	}
	*i = Int(n)
	return nil
}
