package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

func usersFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestUsersFile(t *testing.T) {
	path := usersFile(t,
		"# Parlor users",
		"Alice:"+hash(t, "wonderland"),
		"",
		"root:"+hash(t, "toor")+":admin",
	)
	a := sdktest.Authenticator(t, &fileAuth{}, map[string]string{"users_file": path})

	cases := []struct {
		user, pass string
		code       sdk.Code
	}{
		{"Alice", "wonderland", sdk.OK},
		{"alice", "wonderland", sdk.OK},
		{"Alice", "looking-glass", sdk.WrongPassword},
		{"root", "toor", sdk.Admin},
		{"bob", "anything", sdk.NoSuchUser},
		{"Alice", "", sdk.WrongPassword}, // a guest cannot take a listed name
		{"newcomer", "", sdk.NoSuchUser}, // but may use a fresh one
	}
	for _, c := range cases {
		res, err := a.Authenticate(context.Background(), sdk.AuthRequest{Username: c.user, Password: c.pass})
		if err != nil || res.Code != c.code {
			t.Errorf("%s/%q: got %v, %v; want %v", c.user, c.pass, res.Code, err, c.code)
		}
	}
	res, _ := a.Authenticate(context.Background(), sdk.AuthRequest{Username: "alice", Password: "wonderland"})
	if res.DisplayName != "Alice" {
		t.Errorf("display name %q, want the name as listed", res.DisplayName)
	}
}

func TestBadConfig(t *testing.T) {
	a := sdktest.Connect(t, &fileAuth{})
	cases := map[string]string{
		"no file":      "",
		"missing file": filepath.Join(t.TempDir(), "nope.txt"),
		"bad hash":     usersFile(t, "alice:plaintext"),
		"bad flag":     usersFile(t, "alice:"+hash(t, "x")+":root"),
		"duplicate":    usersFile(t, "alice:"+hash(t, "x"), "ALICE:"+hash(t, "y")),
	}
	for name, path := range cases {
		err := a.Configure(context.Background(), sdktest.Config(t, map[string]string{"users_file": path}))
		if err == nil {
			t.Errorf("%s: Configure accepted %q", name, path)
		}
	}
	res, err := a.Authenticate(context.Background(), sdk.AuthRequest{Username: "alice", Password: "x"})
	if res.Code != sdk.LoginError || err == nil {
		t.Errorf("unconfigured: got %v, %v; want LoginError", res.Code, err)
	}
}

// TestImportsOnlySDK keeps this example honest: a third-party plugin needs
// nothing from Parlor but the sdk package.
func TestImportsOnlySDK(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	const mod = "github.com/parlorchat/parlor/"
	for _, dep := range deps {
		if strings.HasPrefix(dep, mod+"core/") || strings.HasPrefix(dep, mod+"internal/") || strings.HasPrefix(dep, mod+"plugins/") {
			t.Errorf("the example depends on %s", dep)
		}
	}

	out, err = exec.Command(gobin, "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list imports: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		stdlib := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
		if !stdlib && imp != mod+"sdk" && imp != "golang.org/x/crypto/bcrypt" {
			t.Errorf("the example imports %s; only sdk, bcrypt and the standard library are expected", imp)
		}
	}
}
