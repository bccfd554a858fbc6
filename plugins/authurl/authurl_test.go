package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

const secret = "hunter2-s3cret"

// authPage is an Auth URL page for tests: alice/secret is a user, root is
// an administrator, anything else is unknown. Special names make the page
// misbehave.
func authPage(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		user, pass := r.Form.Get("user"), r.Form.Get("pass")
		switch user {
		case "alice":
			if r.Form.Get("group") != "lobby" || r.Form.Get("ip") != "192.0.2.9" || r.Form.Get("site") != "main" || r.Form.Get("fixed") != "1" {
				t.Errorf("extra parameters missing: %v", r.Form)
			}
			if pass == secret {
				fmt.Fprint(w, " 0\r\n")
			} else {
				fmt.Fprint(w, "1")
			}
		case "root":
			fmt.Fprint(w, "\ufeff5\n")
		case "banned":
			fmt.Fprint(w, "2")
		case "dberror":
			fmt.Fprint(w, "3")
		case "teapot":
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, "0")
		case "chatty":
			fmt.Fprintf(w, "<html>Warning: the password %s is wrong</html>", pass)
		case "seven":
			fmt.Fprint(w, "7")
		case "slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
			fmt.Fprint(w, "0")
		default:
			fmt.Fprint(w, "4")
		}
	}
}

func config(url, method string) map[string]any {
	return map[string]any{
		"url":            url,
		"method":         method,
		"username_param": "user",
		"password_param": "pass",
		"timeout":        "300ms",
		"params":         map[string]string{"site": "main"},
	}
}

func login(t *testing.T, a sdk.Authenticator, user, pass string) sdk.AuthResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := a.Authenticate(ctx, sdk.AuthRequest{Group: "lobby", Username: user, Password: pass, RemoteIP: "192.0.2.9"})
	if err != nil {
		t.Fatalf("%s: %v", user, err)
	}
	if strings.Contains(res.Message, pass) && pass != "" {
		t.Errorf("%s: message %q contains the password", user, res.Message)
	}
	return res
}

func TestAuthURL(t *testing.T) {
	srv := httptest.NewServer(authPage(t))
	defer srv.Close()

	for _, method := range []string{"GET", "post"} {
		t.Run(method, func(t *testing.T) {
			var logs bytes.Buffer
			log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
			a := sdktest.Authenticator(t, New(log), config(srv.URL+"/auth.php?fixed=1", method))
			cases := []struct {
				user, pass string
				code       sdk.Code
				msg        string
			}{
				{"alice", secret, sdk.OK, ""},
				{"alice", "wrong", sdk.WrongPassword, ""},
				{"root", secret, sdk.Admin, ""},
				{"banned", secret, sdk.NameUnusable, ""},
				{"dberror", secret, sdk.LoginError, ""},
				{"nobody", secret, sdk.NoSuchUser, ""},
				{"guest", "", sdk.NoSuchUser, ""},
				{"teapot", secret, sdk.LoginError, "HTTP 418"},
				{"seven", secret, sdk.LoginError, `answered "7"`},
				{"chatty", secret, sdk.LoginError, "not a digit"},
				{"slow", secret, sdk.LoginError, "timed out after 300ms"},
			}
			for _, c := range cases {
				res := login(t, a, c.user, c.pass)
				if res.Code != c.code || !strings.Contains(res.Message, c.msg) {
					t.Errorf("%s/%q: got %v %q, want %v %q", c.user, c.pass, res.Code, res.Message, c.code, c.msg)
				}
			}
			if !strings.Contains(logs.String(), "auth URL failed") {
				t.Errorf("failures were not logged:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the password reached the log:\n%s", logs.String())
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	addr := testenv.FreeAddr(t)
	a := sdktest.Authenticator(t, New(nil), config("http://"+addr+"/auth.php", "GET"))
	res := login(t, a, "alice", secret)
	if res.Code != sdk.LoginError || !strings.Contains(res.Message, "unreachable") || strings.Contains(res.Message, "auth.php") {
		t.Fatalf("got %v %q", res.Code, res.Message)
	}
}

// Logins reuse one kept-alive connection.
func TestKeepAlive(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(authPage(t))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	a := sdktest.Authenticator(t, New(nil), config(srv.URL+"/?fixed=1", "POST"))
	for range 20 {
		if res := login(t, a, "alice", secret); res.Code != sdk.OK {
			t.Fatalf("got %v %q", res.Code, res.Message)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential logins opened %d connections, want 1", n)
	}
}

func TestConfigValidation(t *testing.T) {
	a := sdktest.Connect(t, New(nil))
	cases := map[string]string{
		`{}`:                                               "url is required",
		`{"url":"/auth.php"}`:                              "absolute",
		`{"url":"ftp://example.org/auth"}`:                 "absolute",
		`{"url":"http://x/a","method":"PUT"}`:              "GET or POST",
		`{"url":"http://x/a","timeout":"soon"}`:            "timeout",
		`{"url":"http://x/a","timeout":"-1s"}`:             "positive",
		`{"url":"http://x/a","methd":"GET"}`:               "unknown field",
		`{"url":"http://x/a","password_param":"username"}`: "both",
	}
	for raw, want := range cases {
		err := a.Configure(context.Background(), sdk.Config{Raw: []byte(raw)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", raw, err, want)
		}
	}
	if err := a.Configure(context.Background(), sdk.Config{Raw: []byte(`{"url":"https://example.org/auth.php"}`)}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	a := sdktest.Connect(t, New(nil))
	res, err := a.Authenticate(context.Background(), sdk.AuthRequest{Username: "alice"})
	if err != nil || res.Code != sdk.LoginError {
		t.Fatalf("got %v, %v", res.Code, err)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "0") }))
	defer srv.Close()
	a := sdktest.Authenticator(b, New(nil), map[string]any{"url": srv.URL, "method": "POST"})
	req := sdk.AuthRequest{Group: "lobby", Username: "alice", Password: secret, RemoteIP: "192.0.2.9"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := a.Authenticate(context.Background(), req); err != nil || res.Code != sdk.OK {
				b.Fatalf("got %v, %v", res.Code, err)
			}
		}
	})
}
