// Command parlor-plugin-users is an example third-party Parlor
// authenticator. It checks logins against a users file with one
// `name:bcrypthash[:admin]` line per user. It imports only the Parlor SDK,
// the standard library and golang.org/x/crypto/bcrypt.
//
// Configuration (the plugin's `config` block in parlor.yaml):
//
//	users_file: config/users.txt
//
// Run `parlor-plugin-users hash` to turn a password read from stdin into a
// bcrypt hash for the file.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/sdk"
)

// user is one line of the users file.
type user struct {
	name  string
	hash  []byte
	admin bool
}

// fileAuth authenticates against a users file read by Configure.
type fileAuth struct {
	mu    sync.RWMutex
	users map[string]user // by lower-case name
}

// Configure reads the users file named in the configuration.
func (a *fileAuth) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		UsersFile string `json:"users_file"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	if c.UsersFile == "" {
		return errors.New("users_file is required")
	}
	users, err := readUsers(c.UsersFile)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.users = users
	a.mu.Unlock()
	return nil
}

// Authenticate follows the result codes of docs/plugins.md, including the
// guest rule: a guest (no password) asking for a listed name gets
// WrongPassword, so the name stays taken; an unlisted name is NoSuchUser.
func (a *fileAuth) Authenticate(_ context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	a.mu.RLock()
	u, ok := a.users[strings.ToLower(req.Username)]
	configured := a.users != nil
	a.mu.RUnlock()
	switch {
	case !configured:
		return sdk.AuthResult{}, errors.New("not configured")
	case !ok:
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	case req.Password == "":
		return sdk.AuthResult{Code: sdk.WrongPassword, Message: "this name is registered"}, nil
	}
	if err := bcrypt.CompareHashAndPassword(u.hash, []byte(req.Password)); err != nil {
		return sdk.AuthResult{Code: sdk.WrongPassword}, nil
	}
	if u.admin {
		return sdk.AuthResult{Code: sdk.Admin, DisplayName: u.name}, nil
	}
	return sdk.AuthResult{Code: sdk.OK, DisplayName: u.name}, nil
}

// readUsers parses a users file. Blank lines and lines starting with '#'
// are skipped.
func readUsers(path string) (map[string]user, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	users := map[string]user{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("%s:%d: want name:bcrypthash[:admin]", path, n)
		}
		if _, err := bcrypt.Cost([]byte(parts[1])); err != nil {
			return nil, fmt.Errorf("%s:%d: user %s: bad bcrypt hash: %w", path, n, parts[0], err)
		}
		u := user{name: parts[0], hash: []byte(parts[1])}
		if len(parts) == 3 {
			if parts[2] != "admin" {
				return nil, fmt.Errorf("%s:%d: third field must be \"admin\", not %q", path, n, parts[2])
			}
			u.admin = true
		}
		key := strings.ToLower(u.name)
		if _, dup := users[key]; dup {
			return nil, fmt.Errorf("%s:%d: user %s listed twice", path, n, u.name)
		}
		users[key] = u
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return users, nil
}

// hashPassword implements the `hash` command.
func hashPassword() error {
	sc := bufio.NewScanner(os.Stdin)
	if !sc.Scan() {
		return errors.New("hash: no password on stdin")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(sc.Text()), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	fmt.Println(string(hash))
	return nil
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "hash" {
		if err := hashPassword(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	sdk.Serve(sdk.ServeOpts{Authenticator: &fileAuth{}, Logger: sdk.NewLogger("users")})
}
