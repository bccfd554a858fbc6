package auth

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
)

// accountsPipeline is a pipeline over the local accounts of a fresh store
// holding the given accounts (name -> password).
func accountsPipeline(t *testing.T, accounts map[string]string) *Pipeline {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	for name, pw := range accounts {
		hash, err := HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateAccount(context.Background(), store.Account{Name: name, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
	return New("default", []Authenticator{NewLocal(st)}, true, nil)
}

func wantRefusal(t *testing.T, p *Pipeline, user, pass, code, inMessage string) {
	t.Helper()
	_, err := p.Login(context.Background(), user, pass, "127.0.0.1")
	if chat.CodeOf(err) != code {
		t.Fatalf("login %q: %v (%s), want %s", user, err, chat.CodeOf(err), code)
	}
	if !strings.Contains(err.Error(), inMessage) {
		t.Fatalf("login %q: message %q does not say %q", user, err, inMessage)
	}
}

func TestGuestCannotTakeAnAccountNameInAnotherCase(t *testing.T) {
	p := accountsPipeline(t, map[string]string{"Élise": "pw-elise", "Kate": "pw-kate"})
	for _, guest := range []string{"élise", "E\u0301LISE", "\u212Aate", "ＫＡＴＥ"} {
		wantRefusal(t, p, guest, "", chat.CodeNameTaken, "registered")
	}
	// The owner logs in in any spelling of the name; the stored one is shown.
	id, err := p.Login(context.Background(), "e\u0301lise", "pw-elise", "")
	if err != nil || id.Display != "Élise" || id.Guest {
		t.Fatalf("owner login: %+v, %v", id, err)
	}
}

func TestGuestRefusedConfusableNames(t *testing.T) {
	p := accountsPipeline(t, map[string]string{"Kate1": "pw", "Admin": "pw"})
	wantRefusal(t, p, "Katel", "", chat.CodeNameConfusable, `"Kate1"`)
	wantRefusal(t, p, "Adrnin", "", chat.CodeNameConfusable, `"Admin"`)
	// Mixing scripts is refused even when nobody has a similar name.
	wantRefusal(t, p, "\u0410dmin", "", chat.CodeNameConfusable, "mix Latin, Greek and Cyrillic")
	wantRefusal(t, p, "P\u0430ul", "", chat.CodeNameConfusable, "mix Latin, Greek and Cyrillic")
	// A name the key profile refuses is unusable, with a reason.
	wantRefusal(t, p, "x²", "", chat.CodeNameUnusable, "can't be used")
	wantRefusal(t, p, "x²", "pw", chat.CodeNameUnusable, "can't be used")
	// Names in one script that look like nobody's pass.
	for _, ok := range []string{"Дмитрий", "Σοφία", "Katie"} {
		if _, err := p.Login(context.Background(), ok, "", ""); err != nil {
			t.Errorf("guest %q: %v", ok, err)
		}
	}
}

// unkeyedSession is a store whose only session belongs to an account that
// has no name key (two old accounts shared it).
type unkeyedSession struct{ store.Accounts }

// KVGet finds no reconnect token: the token is a session's.
func (unkeyedSession) KVGet(context.Context, string, string, time.Time) ([]byte, bool, error) {
	return nil, false, nil
}

func (unkeyedSession) SessionAccount(context.Context, []byte, time.Time) (store.SessionRecord, store.Account, error) {
	return store.SessionRecord{UserID: 2}, store.Account{ID: 2, Name: "élise"}, nil
}

func TestSessionOfAccountWithoutKeyIsRefused(t *testing.T) {
	s := NewSessions(unkeyedSession{}, SessionOptions{})
	_, err := s.Login(context.Background(), "token", "")
	if chat.CodeOf(err) != chat.CodeNameTaken || !strings.Contains(err.Error(), "renamed") {
		t.Fatalf("session login = %v (%s), want name_taken saying to rename", err, chat.CodeOf(err))
	}
}
