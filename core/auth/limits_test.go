package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// wantRateLimited requires a rate_limited refusal that says when to retry
// and contains part.
func wantRateLimited(t *testing.T, err error, part string) {
	t.Helper()
	if chat.CodeOf(err) != chat.CodeRateLimited || chat.RetryAfterOf(err) <= 0 {
		t.Fatalf("err = %v (%s, retry %v), want rate_limited with a retry time", err, chat.CodeOf(err), chat.RetryAfterOf(err))
	}
	if msg := err.Error(); !strings.Contains(msg, part) || !strings.Contains(msg, "try again in") {
		t.Fatalf("message %q does not contain %q and when to try again", msg, part)
	}
}

func TestFailedLoginsLockTheAccountForAWhile(t *testing.T) {
	site := &table{name: "site", users: map[string]string{"alice": "right", "bob": "bobpw"}}
	clk := testenv.NewClock()
	refusals := limit.NewRefusals()
	p := New("default", []Authenticator{site}, true, nil).WithLimits(Limits{
		FailuresPerAccount: limit.Rate{Every: time.Minute, Burst: 3}, Refusals: refusals, Now: clk.Now,
	})
	ctx := context.Background()
	// Three wrong passwords from three addresses go through...
	for i, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if _, err := p.Login(ctx, "alice", "guess", ip); chat.CodeOf(err) != chat.CodeWrongPassword {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// ...then the name is locked, from any address and even with the
	// right password, and the authenticator is not asked.
	calls := site.calls
	_, err := p.Login(ctx, "alice", "right", "10.0.0.4")
	wantRateLimited(t, err, "for this name")
	if _, err := p.Login(ctx, "ALICE", "guess", "10.0.0.5"); chat.CodeOf(err) != chat.CodeRateLimited {
		t.Fatalf("the lock-out does not hold for the same name in capitals: %v", err)
	}
	if site.calls != calls {
		t.Fatalf("a refused login reached the authenticator (%d calls, want %d)", site.calls, calls)
	}
	if n := refusals.Count(LimitFailuresPerAccount); n != 2 {
		t.Fatalf("refusals counted: %v, want 2", n)
	}
	// Other accounts and guests are not affected.
	if _, err := p.Login(ctx, "bob", "bobpw", "10.0.0.1"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if _, err := p.Login(ctx, "visitor", "", "10.0.0.1"); err != nil {
		t.Fatalf("guest: %v", err)
	}
	// The lock-out is temporary: after Every the real user gets in.
	clk.Add(time.Minute)
	if _, err := p.Login(ctx, "alice", "right", "10.0.0.4"); err != nil {
		t.Fatalf("alice after the lock-out: %v", err)
	}
	// A successful login clears the name's failures.
	for i := range 3 {
		if _, err := p.Login(ctx, "alice", "typo", "10.0.0.4"); chat.CodeOf(err) != chat.CodeWrongPassword {
			t.Fatalf("typo %d after a success: %v", i, err)
		}
	}
	_, err = p.Login(ctx, "alice", "typo", "10.0.0.4")
	wantRateLimited(t, err, "for this name")
}

func TestFailedLoginsLockTheAddress(t *testing.T) {
	site := &table{name: "site", users: map[string]string{"alice": "right", "bob": "bobpw"}}
	clk := testenv.NewClock()
	refusals := limit.NewRefusals()
	p := New("default", []Authenticator{site}, true, nil).WithLimits(Limits{
		FailuresPerAccount: limit.Rate{Every: time.Minute, Burst: 100},
		FailuresPerAddr:    limit.Rate{Every: time.Minute, Burst: 3},
		Refusals:           refusals, Now: clk.Now,
	})
	ctx := context.Background()
	// Guessing across names (and names nobody has) counts against the address.
	for _, try := range []struct{ user, code string }{
		{"alice", chat.CodeWrongPassword}, {"bob", chat.CodeWrongPassword}, {"carol", chat.CodeNoSuchUser},
	} {
		if _, err := p.Login(ctx, try.user, "guess", "192.0.2.7"); chat.CodeOf(err) != try.code {
			t.Fatalf("%s: %v, want %s", try.user, err, try.code)
		}
	}
	calls := site.calls
	_, err := p.Login(ctx, "alice", "right", "192.0.2.7")
	wantRateLimited(t, err, "from your address")
	if site.calls != calls {
		t.Fatal("a refused login reached the authenticator")
	}
	if n := refusals.Count(LimitFailuresPerAddr); n != 1 {
		t.Fatalf("refusals counted: %v, want 1", n)
	}
	// Another address is not affected, and neither are guests.
	if _, err := p.Login(ctx, "alice", "right", "192.0.2.8"); err != nil {
		t.Fatalf("alice from another address: %v", err)
	}
	if _, err := p.Login(ctx, "visitor", "", "192.0.2.7"); err != nil {
		t.Fatalf("guest from the locked address: %v", err)
	}
	// After Every the address has one try; a success does not wash it, so
	// the next wrong password locks it again at once.
	clk.Add(time.Minute)
	if _, err := p.Login(ctx, "bob", "bobpw", "192.0.2.7"); err != nil {
		t.Fatalf("bob after the lock-out: %v", err)
	}
	if _, err := p.Login(ctx, "alice", "guess", "192.0.2.7"); chat.CodeOf(err) != chat.CodeWrongPassword {
		t.Fatalf("guess after the lock-out: %v", err)
	}
	_, err = p.Login(ctx, "alice", "guess", "192.0.2.7")
	wantRateLimited(t, err, "from your address")

	// IPv6 addresses count by /64: changing the low bits does not help.
	for i := range 3 {
		_, _ = p.Login(ctx, "alice", "guess", "2001:db8:1:2::"+string(rune('a'+i)))
	}
	_, err = p.Login(ctx, "alice", "right", "2001:db8:1:2::ffff")
	wantRateLimited(t, err, "from your address")
}

// blocking holds every password login until release is closed; guests get
// 4 (no such user) at once.
type blocking struct {
	entered chan string
	release chan struct{}
}

func (b *blocking) Name() string { return "blocking" }

func (b *blocking) Authenticate(ctx context.Context, r sdk.AuthRequest) (sdk.AuthResult, error) {
	if r.Password == "" {
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	}
	b.entered <- r.Username
	select {
	case <-b.release:
		return sdk.AuthResult{Code: sdk.OK}, nil
	case <-ctx.Done():
		return sdk.AuthResult{Code: sdk.LoginError}, ctx.Err()
	}
}

func TestPasswordChecksAreBoundedAndGuestsDoNotWait(t *testing.T) {
	b := &blocking{entered: make(chan string, 10), release: make(chan struct{})}
	refusals := limit.NewRefusals()
	p := New("default", []Authenticator{b}, true, nil).WithLimits(Limits{
		MaxPasswordChecks: 2, PasswordCheckWait: 50 * time.Millisecond, Refusals: refusals,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Two password logins take both checks and stay in the authenticator.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, name := range []string{"alice", "bob"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Login(ctx, name, "pw", "10.0.0.1")
			errs <- err
		}()
	}
	for range 2 {
		select {
		case <-b.entered:
		case <-ctx.Done():
			t.Fatal("the password logins did not reach the authenticator")
		}
	}

	// A guest still logs in at once.
	id, err := p.Login(ctx, "visitor", "", "10.0.0.2")
	if err != nil || !id.Guest {
		t.Fatalf("guest while every password check is taken: %+v %v", id, err)
	}
	// One more password login finds no free check and is refused as busy,
	// without reaching the authenticator.
	_, err = p.Login(ctx, "carol", "pw", "10.0.0.3")
	if chat.CodeOf(err) != chat.CodeLoginError || !strings.Contains(err.Error(), "busy") || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("third password login: %v (%s), want login_error saying busy, try again", err, chat.CodeOf(err))
	}
	select {
	case name := <-b.entered:
		t.Fatalf("%s reached the authenticator although no check was free", name)
	default:
	}
	if n := refusals.Count(LimitPasswordChecks); n != 1 {
		t.Fatalf("busy refusals counted: %v, want 1", n)
	}

	// When the checks are done, password logins go through again.
	close(b.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("held login: %v", err)
		}
	}
	if _, err := p.Login(ctx, "carol", "pw", "10.0.0.3"); err != nil {
		t.Fatalf("password login after the checks are free: %v", err)
	}
}
