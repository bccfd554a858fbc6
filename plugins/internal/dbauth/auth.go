// Package dbauth is the authenticator shared by Parlor's database plugins
// (mysql, mssql, oracle, odbc and the generic sqlauth): it looks a user up
// in a site's own users table, through a table/column mapping or a custom
// parameterized query, verifies the password with the site's scheme and
// answers the Auth URL result codes.
//
// Each plugin's main registers its database/sql driver and calls Main with
// its Dialect. Connections are pooled by database/sql and opened lazily,
// so a database that is down at start-up, or goes away later, turns logins
// into code 3 (login error) until it is back, without a restart.
package dbauth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/plugins/internal/passwords"
	"github.com/parlorchat/parlor/sdk"
)

// Messages answered with code 3. They never contain the DSN, an error text
// from the driver or anything else secret; the plugin log has the details.
const (
	MsgNotConfigured = "the database authenticator is not configured"
	MsgDatabase      = "the user database is unavailable"
	MsgTimeout       = "the user database did not answer in time"
	MsgMisconfigured = "the user database query does not fit the configuration"
)

// maxPingTimeout bounds the reachability check of Configure.
const maxPingTimeout = 5 * time.Second

// Authenticator is an sdk.Authenticator over a SQL users table. It is safe
// for concurrent use; Configure may be called again to replace the
// configuration.
type Authenticator struct {
	log      hclog.Logger
	dialects []Dialect

	mu    sync.RWMutex
	state *state
}

// state is one configuration, ready to answer logins.
type state struct {
	dialect  Dialect
	cfg      Config
	db       *sql.DB
	stmt     Statement
	verifier *passwords.Verifier // nil for a custom query without password_scheme
	redact   redactor
}

// New returns an Authenticator for the given dialects; with several, the
// `driver` configuration key chooses one. log may be nil.
func New(log hclog.Logger, dialects ...Dialect) *Authenticator {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Authenticator{log: log, dialects: dialects}
}

var _ sdk.Authenticator = (*Authenticator)(nil)

// Main runs a database plugin binary named name serving dialects; the
// caller has imported their drivers.
func Main(name string, dialects ...Dialect) {
	Serve(sdk.NewLogger(name), dialects...)
}

// Serve runs a database plugin binary logging to log (made with
// sdk.NewLogger before anything else), for a main that also hands log to
// its driver.
func Serve(log hclog.Logger, dialects ...Dialect) {
	sdk.Serve(sdk.ServeOpts{Authenticator: New(log, dialects...), Logger: log})
}

// Configure validates cfg, opens the connection pool and checks that the
// database answers. An unreachable database is logged as a warning, not an
// error: logins answer 3 until it is reachable.
func (a *Authenticator) Configure(ctx context.Context, raw sdk.Config) error {
	c, err := ParseConfig(raw.Raw)
	if err != nil {
		return err
	}
	st, err := a.prepare(c)
	if err != nil {
		return fmt.Errorf("database authenticator config: %w", err)
	}
	db, err := sql.Open(st.dialect.Driver, c.DSN)
	if err != nil {
		// Not wrapped: a driver's DSN parse error may quote the DSN, so
		// only its redacted text travels to the host.
		return fmt.Errorf("open %s database: %s", st.dialect.Name, st.redact.redact(err.Error()))
	}
	db.SetMaxOpenConns(int(c.MaxOpenConns))
	db.SetMaxIdleConns(int(c.MaxIdleConns))
	db.SetConnMaxLifetime(c.ConnMaxLifetime.D())
	st.db = db

	a.mu.Lock()
	old := a.state
	a.state = st
	a.mu.Unlock()
	if old != nil {
		_ = old.db.Close()
	}

	pingTimeout := min(c.QueryTimeout.D(), maxPingTimeout)
	if err := bounded(ctx, pingTimeout, db.PingContext); err != nil {
		a.log.Warn("user database not reachable; logins answer 3 (login error) until it is",
			"dialect", st.dialect.Name, "error", st.redact.redact(err.Error()))
	} else {
		a.log.Info("user database reachable", "dialect", st.dialect.Name)
	}
	return nil
}

// Check validates a configuration as Configure does, without opening a
// connection (for tests of example files and configuration checks).
func (a *Authenticator) Check(raw sdk.Config) error {
	c, err := ParseConfig(raw.Raw)
	if err != nil {
		return err
	}
	if _, err := a.prepare(c); err != nil {
		return fmt.Errorf("database authenticator config: %w", err)
	}
	return nil
}

// prepare checks c and builds everything but the connection pool.
func (a *Authenticator) prepare(c Config) (*state, error) {
	d, err := a.dialect(c.Driver)
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	st := &state{dialect: d, cfg: c, redact: newRedactor(c.DSN)}
	if c.PasswordScheme != "" || c.Query == "" {
		v, err := passwords.New(passwords.Scheme(c.PasswordScheme), c.SaltPattern)
		if err != nil {
			return nil, fmt.Errorf("password_scheme: %w", err)
		}
		st.verifier = v
	}
	style := d.Quote
	if c.IdentifierQuote != "" {
		style = c.IdentifierQuote
	}
	if _, err := quoteIdentifier("x", style); err != nil {
		return nil, err
	}
	if c.Query != "" {
		st.stmt, err = BuildCustomQuery(d, c.Query)
	} else {
		st.stmt, err = BuildTableQuery(d, style, c.Table, c.Columns)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// dialect picks the dialect the `driver` key names.
func (a *Authenticator) dialect(name string) (Dialect, error) {
	if len(a.dialects) == 0 {
		return Dialect{}, errors.New("plugin serves no database dialect")
	}
	if name == "" {
		if len(a.dialects) == 1 {
			return a.dialects[0], nil
		}
		return Dialect{}, fmt.Errorf("driver is required (one of %s)", dialectNames(a.dialects))
	}
	for _, d := range a.dialects {
		if d.matches(name) {
			return d, nil
		}
	}
	return Dialect{}, fmt.Errorf("driver %q is not served by this plugin (want %s)", name, dialectNames(a.dialects))
}

func dialectNames(ds []Dialect) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return strings.Join(names, " or ")
}

// Close closes the connection pool. Authenticate answers 3 afterwards.
func (a *Authenticator) Close() error {
	a.mu.Lock()
	st := a.state
	a.state = nil
	a.mu.Unlock()
	if st == nil {
		return nil
	}
	if err := st.db.Close(); err != nil {
		return fmt.Errorf("close user database: %w", err)
	}
	return nil
}

// Authenticate looks the user up and answers:
//
//	guest (empty password): 4 when the name is free, 1 (taken) when it is
//	  registered, 2 when it is banned;
//	member: 4 no such user, 1 wrong password, 2 banned, 5 administrator,
//	  0 otherwise;
//	3 when the database fails or does not answer within query_timeout.
func (a *Authenticator) Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	a.mu.RLock()
	st := a.state
	a.mu.RUnlock()
	if st == nil {
		return sdk.AuthResult{Code: sdk.LoginError, Message: MsgNotConfigured}, nil
	}
	if req.Username == "" || !utf8.ValidString(req.Username) {
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	}
	rec, found, err := st.lookup(ctx, req)
	if err != nil {
		msg := MsgDatabase
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			msg = MsgTimeout
		case errors.Is(err, errMisconfigured):
			msg = MsgMisconfigured
		}
		a.log.Error("user lookup failed", "dialect", st.dialect.Name, "user", req.Username,
			"error", st.redact.redact(err.Error()))
		return sdk.AuthResult{Code: sdk.LoginError, Message: msg}, nil
	}
	if !found {
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	}
	if req.Password == "" {
		if rec.banned {
			return sdk.AuthResult{Code: sdk.NameUnusable, Message: "this name is banned"}, nil
		}
		return sdk.AuthResult{Code: sdk.WrongPassword, Message: "this name is registered"}, nil
	}
	ok, err := st.check(rec, req.Password)
	if err != nil {
		if errors.Is(err, errMisconfigured) {
			a.log.Error("password check impossible", "user", req.Username, "error", err.Error())
			return sdk.AuthResult{Code: sdk.LoginError, Message: MsgMisconfigured}, nil
		}
		// A malformed stored hash is the site's data, not an outage.
		a.log.Warn("stored password hash not usable; answering wrong password", "user", req.Username, "error", err.Error())
	}
	if !ok {
		return sdk.AuthResult{Code: sdk.WrongPassword}, nil
	}
	if rec.banned {
		return sdk.AuthResult{Code: sdk.NameUnusable, Message: "this name is banned"}, nil
	}
	code := sdk.OK
	if rec.admin {
		code = sdk.Admin
	}
	return sdk.AuthResult{Code: code, DisplayName: rec.displayName, Email: rec.email}, nil
}

// errMisconfigured marks errors of the configuration found at run time (a
// custom query answering columns that do not fit).
var errMisconfigured = errors.New("misconfigured")

// record is the user's row.
type record struct {
	password    string
	hasPassword bool  // the row has a password field
	passwordOK  *bool // the custom query judged the password itself
	salt        string
	admin       bool
	banned      bool
	displayName string
	email       string
}

// check verifies password against the record.
func (st *state) check(rec record, password string) (bool, error) {
	if rec.passwordOK != nil {
		return *rec.passwordOK, nil
	}
	if !rec.hasPassword {
		return false, fmt.Errorf("%w: the query answers neither a %q nor a %q column", errMisconfigured, FieldPassword, FieldPasswordOK)
	}
	if st.verifier == nil {
		return false, fmt.Errorf("%w: the query answers a %q column but password_scheme is not set", errMisconfigured, FieldPassword)
	}
	ok, err := st.verifier.Verify(rec.password, password, rec.salt)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

// lookup runs the query within query_timeout.
func (st *state) lookup(ctx context.Context, req sdk.AuthRequest) (record, bool, error) {
	var rec record
	var found bool
	err := bounded(ctx, st.cfg.QueryTimeout.D(), func(ctx context.Context) error {
		var err error
		rec, found, err = st.query(ctx, req)
		return err
	})
	if err != nil {
		return record{}, false, err
	}
	return rec, found, nil
}

// bounded runs fn with a context limited to timeout and returns when fn
// does or at the deadline, whichever is first: some drivers (ODBC's
// connect) do not honour the context, and a login must be answered anyway.
// An abandoned fn finishes in the background; its connection goes back to
// the pool or is discarded.
func bounded(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel() // also stops an abandoned fn that honours its context
	done := make(chan error, 1)
	go func() { done <- fn(bctx) }()
	select {
	case err := <-done:
		return err
	case <-bctx.Done():
		select {
		case err := <-done: // finished just in time
			return err
		default:
		}
		return fmt.Errorf("user database: %w", bctx.Err())
	}
}

// query runs the statement and reads the first row.
func (st *state) query(ctx context.Context, req sdk.AuthRequest) (record, bool, error) {
	args := st.stmt.Args(map[string]string{
		ParamUsername: req.Username,
		ParamPassword: req.Password,
		ParamGroup:    req.Group,
		ParamRemoteIP: req.RemoteIP,
	})
	rows, err := st.db.QueryContext(ctx, st.stmt.SQL, args...)
	if err != nil {
		return record{}, false, fmt.Errorf("query user: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return record{}, false, fmt.Errorf("read user row: %w", err)
		}
		return record{}, false, nil
	}
	cols, err := rows.Columns()
	if err != nil {
		return record{}, false, fmt.Errorf("read user columns: %w", err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return record{}, false, fmt.Errorf("scan user row: %w", err)
	}
	names := st.stmt.Fields
	if names == nil {
		names = make([]string, len(cols))
		for i, c := range cols {
			names[i] = strings.ToLower(c)
		}
	}
	if len(names) != len(vals) {
		return record{}, false, fmt.Errorf("%w: %d columns answered, %d expected", errMisconfigured, len(vals), len(names))
	}
	rec := record{}
	for i, name := range names {
		s, null := text(vals[i])
		switch name {
		case FieldPassword:
			rec.password, rec.hasPassword = s, true
		case FieldPasswordOK:
			ok := !null && truthy(s)
			rec.passwordOK = &ok
		case FieldSalt:
			rec.salt = s
		case FieldAdmin:
			rec.admin = flag(s, null, st.cfg.AdminValue)
		case FieldBanned:
			rec.banned = flag(s, null, st.cfg.BannedValue)
		case FieldDisplayName:
			rec.displayName = s
		case FieldEmail:
			rec.email = s
		}
	}
	if err := rows.Close(); err != nil {
		return record{}, false, fmt.Errorf("close user rows: %w", err)
	}
	return rec, true, nil
}

// text turns a scanned value into text; null reports SQL NULL.
func text(v any) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, false
	case []byte:
		return string(x), false
	case int64:
		return strconv.FormatInt(x, 10), false
	case int32:
		return strconv.FormatInt(int64(x), 10), false
	case int:
		return strconv.Itoa(x), false
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), false
	case bool:
		if x {
			return "1", false
		}
		return "0", false
	case time.Time:
		return x.Format(time.RFC3339), false
	case fmt.Stringer:
		return x.String(), false
	}
	return fmt.Sprint(v), false
}

// flag interprets an admin or banned column: equal to want when want is
// set, otherwise true for any true-looking value.
func flag(s string, null bool, want string) bool {
	if null {
		return false
	}
	if want != "" {
		return strings.TrimSpace(s) == want
	}
	return truthy(s)
}

// truthy is false for "", 0 (in any numeric spelling), false, f, no, n and
// off (any case), true otherwise.
func truthy(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "false", "f", "no", "n", "off":
		return false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f != 0
	}
	return true
}
