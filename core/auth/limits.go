package auth

import (
	"context"
	"runtime"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/limit"
)

// Limits are the pipeline's brakes on password guessing and on the cost of
// checking passwords. The zero Limits throttles nothing and allows twice
// as many password checks at once as there are CPUs.
//
// Failed logins are throttled by two failure throttles (limit.Keyed: a
// login is checked before it is tried, a wrong password takes a token):
//
//   - per address (limit.IPKey), whatever the name: the main brake. An
//     address that has failed Burst times gets one more try every Every.
//     A successful login does not clear it, so an attacker cannot wash his
//     address with an account of his own between guesses.
//   - per account (chat.NameKey), from any address: it stops guessing one
//     account from many addresses. It is cleared by a successful login.
//
// The per-account lock-out is the trade-off: whoever fails often enough
// for a name locks that name out, also for its real owner at another
// address. It is therefore temporary and short (one try more every Every,
// Every being seconds), and to keep an account locked an attacker must
// keep spending his per-address tries on it; a login through a session
// (the SSO cookie) is not a password login and is not affected.
type Limits struct {
	// FailuresPerAccount throttles wrong passwords for one name, from any
	// address (config key auth.limits.failed_logins_per_account).
	FailuresPerAccount limit.Rate
	// FailuresPerAddr throttles failed password logins from one address,
	// for any name (config key auth.limits.failed_logins_per_addr).
	FailuresPerAddr limit.Rate
	// MaxPasswordChecks bounds the logins with a password that the chain
	// checks at once (bcrypt is slow on purpose); 0 means twice the number
	// of CPUs. Guests never wait for it (config key auth.max_password_checks).
	MaxPasswordChecks int
	// PasswordCheckWait is how long a login with a password waits for a
	// free check before it is refused as busy; 0 means
	// DefaultPasswordCheckWait (config key auth.password_check_wait).
	PasswordCheckWait time.Duration
	// Refusals counts the refusals for /metrics; nil counts nothing.
	Refusals *limit.Refusals
	// Now is the clock of the failure throttles; time.Now when nil.
	Now func() time.Time
}

// DefaultPasswordCheckWait is the wait for a free password check when
// none is configured.
const DefaultPasswordCheckWait = 2 * time.Second

// Names of the limits in /metrics (parlor_rate_limited_total{limit=...}).
const (
	LimitFailuresPerAccount = "failed_logins_per_account"
	LimitFailuresPerAddr    = "failed_logins_per_addr"
	LimitPasswordChecks     = "password_checks"
)

// guard applies Limits to the password logins of a pipeline.
type guard struct {
	account  *limit.Keyed
	addr     *limit.Keyed
	checks   *semaphore.Weighted
	wait     time.Duration
	refusals *limit.Refusals
}

func newGuard(l Limits) *guard {
	if l.MaxPasswordChecks <= 0 {
		l.MaxPasswordChecks = 2 * runtime.NumCPU()
	}
	if l.PasswordCheckWait <= 0 {
		l.PasswordCheckWait = DefaultPasswordCheckWait
	}
	return &guard{
		account:  limit.NewKeyed(l.FailuresPerAccount, limit.Options{Name: LimitFailuresPerAccount, Refusals: l.Refusals, Now: l.Now}),
		addr:     limit.NewKeyed(l.FailuresPerAddr, limit.Options{Name: LimitFailuresPerAddr, Refusals: l.Refusals, Now: l.Now}),
		checks:   semaphore.NewWeighted(int64(l.MaxPasswordChecks)),
		wait:     l.PasswordCheckWait,
		refusals: l.Refusals,
	}
}

// attempt is one password login under the guard's limits.
type attempt struct {
	g                *guard
	accountKey, addr string
}

func (g *guard) attempt(username, remoteIP string) attempt {
	return attempt{g: g, accountKey: chat.NameKey(username), addr: limit.IPKey(remoteIP)}
}

// check refuses the attempt while its address or its account is locked out.
func (a attempt) check() error {
	if retry, ok := a.g.addr.Check(a.addr); !ok {
		return chat.RateLimited("Too many failed logins from your address", retry)
	}
	if retry, ok := a.g.account.Check(a.accountKey); !ok {
		return chat.RateLimited("Too many failed logins for this name", retry)
	}
	return nil
}

// acquire waits for a free password check, for at most the configured
// wait; release gives it back.
func (a attempt) acquire(ctx context.Context) (release func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, a.g.wait)
	defer cancel()
	if err := a.g.checks.Acquire(ctx, 1); err != nil {
		a.g.refusals.Add(LimitPasswordChecks)
		return nil, chat.Errorf(chat.CodeLoginError, "The server is busy checking passwords; please try again in a moment.")
	}
	return func() { a.g.checks.Release(1) }, nil
}

// wrongPassword counts a wrong password for the account and the address.
func (a attempt) wrongPassword() {
	a.g.account.Fail(a.accountKey)
	a.g.addr.Fail(a.addr)
}

// unknownName counts a password login for a name nobody knows: against
// the address only (there is no account to protect).
func (a attempt) unknownName() { a.g.addr.Fail(a.addr) }

// succeeded clears the account's failures; the address keeps its own.
func (a attempt) succeeded() { a.g.account.Reset(a.accountKey) }
