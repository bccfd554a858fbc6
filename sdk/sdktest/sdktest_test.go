package sdktest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fake answers by username and records its configuration.
type fake struct {
	cfg struct {
		Greeting string `json:"greeting"`
	}
}

func (f *fake) Configure(_ context.Context, cfg sdk.Config) error {
	if err := cfg.Decode(&f.cfg); err != nil {
		return err
	}
	if f.cfg.Greeting == "fail" {
		return errors.New("greeting must not be fail")
	}
	return nil
}

func (f *fake) Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	switch req.Username {
	case "alice":
		if req.Password != "secret" {
			return sdk.AuthResult{Code: sdk.WrongPassword}, nil
		}
		return sdk.AuthResult{Code: sdk.OK, DisplayName: f.cfg.Greeting + " Alice", Email: "a@example.org", Avatar: "a.png", Message: req.Group + "/" + req.RemoteIP}, nil
	case "root":
		return sdk.AuthResult{Code: sdk.Admin}, nil
	case "weird":
		return sdk.AuthResult{Code: 9}, nil
	case "broken":
		return sdk.AuthResult{}, errors.New("database is down")
	case "panic":
		panic("boom")
	case "slow":
		<-ctx.Done()
		return sdk.AuthResult{}, ctx.Err()
	}
	return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
}

func auth(t *testing.T, a sdk.Authenticator, user, pass string) (sdk.AuthResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return a.Authenticate(ctx, sdk.AuthRequest{Group: "default", Username: user, Password: pass, RemoteIP: "192.0.2.1"})
}

func TestRoundTrip(t *testing.T) {
	a := sdktest.Authenticator(t, &fake{}, map[string]any{"greeting": "Hi"})

	res, err := auth(t, a, "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.AuthResult{Code: sdk.OK, DisplayName: "Hi Alice", Email: "a@example.org", Avatar: "a.png", Message: "default/192.0.2.1"}
	if res != want {
		t.Fatalf("got %+v, want %+v", res, want)
	}
	for user, code := range map[string]sdk.Code{"root": sdk.Admin, "nobody": sdk.NoSuchUser} {
		res, err := auth(t, a, user, "x")
		if err != nil || res.Code != code {
			t.Errorf("%s: got %v, %v; want %v", user, res.Code, err, code)
		}
	}
	if res, err := auth(t, a, "alice", "wrong"); err != nil || res.Code != sdk.WrongPassword {
		t.Errorf("wrong password: got %v, %v", res.Code, err)
	}
}

func TestErrorsBecomeLoginError(t *testing.T) {
	a := sdktest.Authenticator(t, &fake{}, nil)

	res, err := auth(t, a, "weird", "")
	if res.Code != sdk.LoginError || !errors.Is(err, sdk.ErrInvalidCode) {
		t.Errorf("invalid code: got %v, %v", res.Code, err)
	}
	res, err = auth(t, a, "broken", "")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Errorf("plugin error: got %v, %v", res.Code, err)
	}
	res, err = auth(t, a, "panic", "")
	if res.Code != sdk.LoginError || err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panic: got %v, %v", res.Code, err)
	}
	// The plugin survived the panic.
	if res, err := auth(t, a, "root", ""); err != nil || res.Code != sdk.Admin {
		t.Errorf("after panic: got %v, %v", res.Code, err)
	}
}

func TestDeadlineReachesPlugin(t *testing.T) {
	a := sdktest.Authenticator(t, &fake{}, `{"greeting":"Hello"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := a.Authenticate(ctx, sdk.AuthRequest{Username: "slow"})
	if res.Code != sdk.LoginError || err == nil {
		t.Fatalf("got %v, %v; want LoginError and an error", res.Code, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("call took %s despite a 100ms deadline", d)
	}
}

func TestConfigureError(t *testing.T) {
	a := sdktest.Connect(t, &fake{})
	err := a.Configure(context.Background(), sdktest.Config(t, map[string]string{"greeting": "fail"}))
	if err == nil || !strings.Contains(err.Error(), "greeting must not be fail") {
		t.Fatalf("got %v, want the plugin's configure error", err)
	}
	err = a.Configure(context.Background(), sdktest.Config(t, []byte(`{"greeting":`)))
	if err == nil || !strings.Contains(err.Error(), "decode plugin config") {
		t.Fatalf("got %v, want a decode error", err)
	}
}
