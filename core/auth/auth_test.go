package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// table answers from a fixed map of users; unknown users get 4.
type table struct {
	name  string
	users map[string]string // name -> password
	admin map[string]bool
	code  *sdk.Code // forced answer
	err   error
	calls int
}

func (a *table) Name() string { return a.name }

func (a *table) Authenticate(_ context.Context, r sdk.AuthRequest) (sdk.AuthResult, error) {
	a.calls++
	if a.err != nil {
		return sdk.AuthResult{Code: sdk.LoginError}, a.err
	}
	if a.code != nil {
		return sdk.AuthResult{Code: *a.code}, nil
	}
	pw, ok := a.users[r.Username]
	switch {
	case !ok:
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	case pw != r.Password:
		return sdk.AuthResult{Code: sdk.WrongPassword}, nil
	case a.admin[r.Username]:
		return sdk.AuthResult{Code: sdk.Admin, DisplayName: "The Admin"}, nil
	}
	return sdk.AuthResult{Code: sdk.OK}, nil
}

func code(c sdk.Code) *sdk.Code { return &c }

func TestLoginRule(t *testing.T) {
	site := &table{name: "site", users: map[string]string{"alice": "pw", "root": "rootpw"}, admin: map[string]bool{"root": true}}
	p := New("default", []Authenticator{site}, true, nil)
	ctx := context.Background()
	cases := []struct {
		user, pass string
		wantCode   string // "" means success
		admin      bool
		guest      bool
	}{
		{"alice", "pw", "", false, false},
		{"root", "rootpw", "", true, false},
		{"alice", "bad", chat.CodeWrongPassword, false, false},
		{"alice", "", chat.CodeNameTaken, false, false}, // guest picking a registered name (answer 1)
		{"root", "", chat.CodeNameTaken, false, false},
		{"visitor", "", "", false, true}, // answer 4: guest enters
		{"visitor", "x", chat.CodeNoSuchUser, false, false},
		{"bad<name>", "", chat.CodeNameUnusable, false, false},
	}
	for _, tc := range cases {
		id, err := p.Login(ctx, tc.user, tc.pass, "127.0.0.1")
		if tc.wantCode != "" {
			if chat.CodeOf(err) != tc.wantCode {
				t.Errorf("%s/%q: err %v (%s), want %s", tc.user, tc.pass, err, chat.CodeOf(err), tc.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s/%q: %v", tc.user, tc.pass, err)
			continue
		}
		if id.Admin != tc.admin || id.Guest != tc.guest || id.Name != tc.user {
			t.Errorf("%s: identity %+v", tc.user, id)
		}
	}
}

func TestGuestForcedAnswers(t *testing.T) {
	// The seed: a guest gets in on 4; 0, 1 and 5 mean the name is taken.
	for c, want := range map[sdk.Code]string{
		sdk.OK: chat.CodeNameTaken, sdk.WrongPassword: chat.CodeNameTaken, sdk.Admin: chat.CodeNameTaken,
		sdk.NameUnusable: chat.CodeNameUnusable, sdk.LoginError: chat.CodeLoginError, sdk.NoSuchUser: "",
		sdk.Code(9): chat.CodeLoginError,
	} {
		p := New("default", []Authenticator{&table{name: "x", code: code(c)}}, true, nil)
		_, err := p.Login(context.Background(), "guest1", "", "")
		if want == "" {
			if err != nil {
				t.Errorf("answer %d: guest refused: %v", c, err)
			}
		} else if chat.CodeOf(err) != want {
			t.Errorf("answer %d: guest got %v, want %s", c, err, want)
		}
	}
}

func TestChainOrderAndErrors(t *testing.T) {
	first := &table{name: "first", users: map[string]string{"a": "1"}}
	second := &table{name: "second", users: map[string]string{"b": "2"}}
	p := New("default", []Authenticator{first, second}, true, nil)
	id, err := p.Login(context.Background(), "b", "2", "")
	if err != nil || id.By != "second" {
		t.Fatalf("second link not asked after 4: %+v %v", id, err)
	}
	broken := &table{name: "broken", err: errors.New("connection refused to db.internal:3306 password=hunter2")}
	p = New("default", []Authenticator{broken, second}, true, nil)
	_, err = p.Login(context.Background(), "b", "2", "")
	if chat.CodeOf(err) != chat.CodeLoginError {
		t.Fatalf("broken link: %v", err)
	}
	if msg := err.Error(); contains(msg, "hunter2") || contains(msg, "db.internal") {
		t.Fatalf("internal detail leaked to the user: %q", msg)
	}
	if second.calls != 1 {
		t.Fatal("the chain went on past an error")
	}
}

func TestGuestsDisabled(t *testing.T) {
	p := New("default", nil, false, nil)
	_, err := p.Login(context.Background(), "visitor", "", "")
	if chat.CodeOf(err) != chat.CodeGuestsNotAllowed {
		t.Fatalf("err = %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
