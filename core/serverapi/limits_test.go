package serverapi

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/internal/testenv"
)

// throttled replaces f's dispatcher by one that throttles wrong api_pwd:
// burst failures, then one more try a minute on clk.
func throttled(t *testing.T, f *fixture, burst int, clk *testenv.Clock, refusals *limit.Refusals, allow ...string) {
	t.Helper()
	if len(allow) == 0 {
		allow = []string{"127.0.0.1", "::1"}
	}
	d, err := New(Options{Store: f.st, Groups: []GroupAccess{
		{Chat: f.g, Password: testPwd, AllowFrom: allow},
		{Chat: f.other, AllowFrom: []string{"*"}},
	}, FailedPasswords: limit.Rate{Every: time.Minute, Burst: burst}, Refusals: refusals, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
}

func onlineCmd(pwd, from string) Command {
	return Command{Group: "default", Password: pwd, Type: "get_online", Remote: netip.MustParseAddr(from), Attrs: map[string]string{}}
}

func TestWrongAPIPasswordsLockTheAddress(t *testing.T) {
	f := newFixture(t)
	clk, refusals := testenv.NewClock(), limit.NewRefusals()
	throttled(t, f, 3, clk, refusals)
	ctx := context.Background()
	for range 3 {
		wantCode(t, f.d.Do(ctx, onlineCmd("guess", "127.0.0.1")), CodeDenied, "Wrong api_pwd")
	}
	// Locked: even the right password is refused, with when to retry.
	r := f.d.Do(ctx, onlineCmd(testPwd, "127.0.0.1"))
	wantCode(t, r, CodeRateLimited, "Too many wrong api_pwd from 127.0.0.1; try again in 1 minute")
	if r.RetryAfter <= 0 || !strings.Contains(string(r.XML()), `retry_after_ms="60000"`) {
		t.Fatalf("refusal without its retry time: %+v %s", r, r.XML())
	}
	if b, _ := json.Marshal(r); !strings.Contains(string(b), `"status":"rate_limited"`) || !strings.Contains(string(b), `"retry_after_ms":60000`) {
		t.Fatalf("JSON refusal %s", b)
	}
	if n := refusals.Count(LimitFailedPasswords); n != 1 {
		t.Fatalf("refusals counted: %v", n)
	}
	// Another allowed address is not affected.
	wantCode(t, f.d.Do(ctx, onlineCmd(testPwd, "::1")), CodeOK, "")
	// After the lock-out the right password works and clears the failures.
	clk.Add(time.Minute)
	wantCode(t, f.d.Do(ctx, onlineCmd(testPwd, "127.0.0.1")), CodeOK, "")
	for range 3 {
		wantCode(t, f.d.Do(ctx, onlineCmd("typo", "127.0.0.1")), CodeDenied, "Wrong api_pwd")
	}
	wantCode(t, f.d.Do(ctx, onlineCmd(testPwd, "127.0.0.1")), CodeRateLimited, "try again")
}

func TestWrongAPIPasswordsCountOnTCPAndHTTP(t *testing.T) {
	f := newFixture(t)
	clk := testenv.NewClock()
	throttled(t, f, 3, clk, nil)
	addr := startTCP(t, f, TCPOptions{})
	web := httptest.NewServer(f.d.HTTPHandler())
	t.Cleanup(web.Close)
	post := func(pwd string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", web.URL+HTTPPrefix+"get_online", nil)
		req.Header.Set(APIKeyHeader, pwd)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(body)
	}
	tcp := func(pwd string) (Code, string) {
		return replyOf(t, exchange(t, addr, []byte(`<Command api_pwd="`+pwd+`" type="get_online"/>`+"\x00")))
	}
	// Two wrong passwords over TCP and one over HTTP lock the address on both.
	for range 2 {
		if code, msg := tcp("guess"); code != CodeDenied {
			t.Fatalf("TCP guess: %d %q", code, msg)
		}
	}
	if resp, body := post("guess"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("HTTP guess: %d %s", resp.StatusCode, body)
	}
	if code, msg := tcp(testPwd); code != CodeRateLimited || !strings.Contains(msg, "try again in") {
		t.Fatalf("TCP after the guesses: %d %q", code, msg)
	}
	resp, body := post(testPwd)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" || !strings.Contains(body, `"code":11`) {
		t.Fatalf("HTTP after the guesses: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// When the lock-out has passed, the right password works again.
	clk.Add(time.Minute)
	if code, msg := tcp(testPwd); code != CodeOK {
		t.Fatalf("TCP after the lock-out: %d %q", code, msg)
	}
	if resp, body := post(testPwd); resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP after the lock-out: %d %s", resp.StatusCode, body)
	}
}

// dialFrom connects to addr from the local address from (a loopback
// address such as 127.0.0.2).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sendFrom sends one command from the local address from and returns the
// reply.
func sendFrom(t *testing.T, from, addr, command string) (Code, string) {
	t.Helper()
	c := dialFrom(t, from, addr)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(command + "\x00")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v (got %q)", err, out)
	}
	return replyOf(t, out)
}

const getOnlineXML = `<Command api_pwd="` + testPwd + `" type="get_online"/>`

func TestDisallowedClientsCannotFillTheSlots(t *testing.T) {
	// 127.0.0.1 is allowed by no group (the "off" group allows any address
	// but has no api_pwd); 127.0.0.2 is allowed.
	f := newFixture(t, "127.0.0.2")
	addr := startTCP(t, f, TCPOptions{MaxConns: 4, ReadTimeout: 30 * time.Second})
	holders := make([]net.Conn, 0, 12)
	for range 12 {
		c := dialFrom(t, "127.0.0.1", addr)
		_, _ = c.Write([]byte("<Command ")) // and wait
		holders = append(holders, c)
	}
	// The operator's command is served, not refused as busy...
	if code, msg := sendFrom(t, "127.0.0.2", addr, getOnlineXML); code != CodeOK {
		t.Fatalf("allowed client while disallowed ones hold connections: %d %q", code, msg)
	}
	// ...because the disallowed connections were refused at once, without
	// waiting for their command.
	denied := 0
	for _, c := range holders {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, _ := io.ReadAll(c)
		if len(out) == 0 {
			continue // closed without a reply: the refusal pool was full
		}
		if code, msg := replyOf(t, out); code != CodeDenied || !strings.Contains(msg, "127.0.0.1 are not allowed") {
			t.Fatalf("disallowed connection: %d %q", code, msg)
		}
		denied++
	}
	if denied == 0 {
		t.Fatal("no disallowed connection was told why it was refused")
	}
}

func TestOneAddressCannotTakeEverySlot(t *testing.T) {
	f := newFixture(t, "127.0.0.2", "127.0.0.3")
	refusals := limit.NewRefusals()
	addr := startTCP(t, f, TCPOptions{MaxConns: 8, MaxConnsPerAddr: 2, ReadTimeout: 30 * time.Second, Refusals: refusals})
	var held []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.2", addr)
		_, _ = c.Write([]byte("<Com"))
		held = append(held, c)
	}
	// Until the server has accepted both, a third connection of the same
	// address may still be served; once it has, the next is refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, msg := sendFrom(t, "127.0.0.2", addr, getOnlineXML)
		if code == CodeBusy {
			if !strings.Contains(msg, "from 127.0.0.2") {
				t.Fatalf("busy reply %q does not name the address", msg)
			}
			break
		}
		if code != CodeOK || time.Now().After(deadline) {
			t.Fatalf("third connection of 127.0.0.2: %d %q", code, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if refusals.Count(LimitConnsPerAddr) < 1 {
		t.Fatal("the refusal is not counted")
	}
	// Another address is served meanwhile.
	if code, msg := sendFrom(t, "127.0.0.3", addr, getOnlineXML); code != CodeOK {
		t.Fatalf("another address: %d %q", code, msg)
	}
	// The held connections finish their commands, and the address gets
	// its slots back.
	for _, c := range held {
		_, _ = c.Write([]byte(`mand api_pwd="` + testPwd + `" type="get_online"/>` + "\x00"))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, _ := io.ReadAll(c)
		if code, _ := replyOf(t, out); code != CodeOK {
			t.Fatalf("held connection: %d", code)
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, _ := sendFrom(t, "127.0.0.2", addr, getOnlineXML)
		if code == CodeOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots of 127.0.0.2 not freed: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
