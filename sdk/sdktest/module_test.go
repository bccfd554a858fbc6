package sdktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// moderator is a module with every hook and a command prefix.
type moderator struct {
	word string

	mu   sync.Mutex
	seen []sdk.Notification
}

func (m *moderator) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		Word string `json:"word"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	m.word = c.Word
	return nil
}

func (m *moderator) Manifest() sdk.Manifest {
	return sdk.Manifest{Commands: []string{"mod."}, Quiet: []string{"mod.list"}, FailClosed: true}
}

func (m *moderator) OnLogin(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	switch ev.Name {
	case "mallory":
		return sdk.LoginVerdict{Deny: true, Reason: "banned by " + ev.By + " from " + ev.IP}, nil
	case "boss":
		return sdk.LoginVerdict{Display: "The Boss", Role: sdk.RoleAdmin}, nil
	}
	return sdk.LoginVerdict{}, nil
}

func (m *moderator) OnJoin(_ context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	if ev.Room.Moderated && ev.User.Role.Rank() < sdk.RoleSpeaker.Rank() {
		return sdk.JoinVerdict{}, &sdk.Refusal{Code: "closed", Message: ev.Room.Name + " is for speakers"}
	}
	return sdk.JoinVerdict{}, nil
}

func (m *moderator) OnMessage(_ context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	switch {
	case ev.Text == "broken":
		return sdk.MessageVerdict{}, errors.New("automod rules are broken")
	case strings.Contains(ev.Text, m.word):
		return sdk.MessageVerdict{Action: sdk.Modify, Text: strings.ReplaceAll(ev.Text, m.word, "***"), Style: ev.Style}, nil
	case ev.Text == "ad":
		return sdk.MessageVerdict{Action: sdk.Hold, Note: "looks like spam from " + ev.From.Name}, nil
	case ev.Text == "shout" && ev.To != "":
		return sdk.MessageVerdict{Action: sdk.Reject, Reason: "no shouting at " + ev.To}, nil
	case ev.Text == "spam":
		return sdk.MessageVerdict{Action: sdk.Drop}, nil
	}
	return sdk.MessageVerdict{}, nil
}

func (m *moderator) Command(_ context.Context, cmd sdk.Command) (sdk.Reply, error) {
	var req struct {
		User string `json:"user"`
	}
	if err := json.Unmarshal(cmd.Data, &req); err != nil {
		return sdk.Reply{}, err
	}
	switch cmd.Type {
	case "mod.kick":
		if cmd.Caller.Role.Rank() < sdk.RoleModerator.Rank() {
			return sdk.Reply{}, &sdk.Refusal{Code: "forbidden", Message: "Only moderators may kick."}
		}
		return sdk.Reply{Data: json.RawMessage(`{"kicked":"` + req.User + `","room":` + jsonInt(cmd.Room) + `}`)}, nil
	}
	return sdk.Reply{}, errors.New("unknown command " + cmd.Type)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (m *moderator) OnNotify(_ context.Context, batch []sdk.Notification) {
	m.mu.Lock()
	m.seen = append(m.seen, batch...)
	m.mu.Unlock()
}

func TestModuleHooks(t *testing.T) {
	impl := &moderator{}
	m := sdktest.Module(t, impl, map[string]any{"word": "darn"}, nil)
	ctx := context.Background()
	caps := m.Capabilities()
	if len(caps.Hooks) != 4 || caps.Commands[0] != "mod." || caps.Quiet[0] != "mod.list" || !caps.FailClosed {
		t.Fatalf("capabilities %+v", caps)
	}

	v, err := m.OnLogin(ctx, sdk.LoginEvent{Name: "mallory", IP: "192.0.2.9", By: "local"})
	if err != nil || !v.Deny || v.Reason != "banned by local from 192.0.2.9" {
		t.Errorf("login mallory: %+v, %v", v, err)
	}
	if v, err := m.OnLogin(ctx, sdk.LoginEvent{Name: "boss"}); err != nil || v.Display != "The Boss" || v.Role != sdk.RoleAdmin || v.Deny {
		t.Errorf("login boss: %+v, %v", v, err)
	}

	room := sdk.Room{ID: 3, Name: "Stage", Moderated: true, Password: "secret"}
	_, err = m.OnJoin(ctx, sdk.JoinEvent{User: sdk.Caller{Name: "ann", Role: sdk.RoleUser}, Room: room})
	var r *sdk.Refusal
	if !errors.As(err, &r) || r.Code != "closed" || r.Message != "Stage is for speakers" {
		t.Errorf("join refused: %v", err)
	}
	if _, err := m.OnJoin(ctx, sdk.JoinEvent{User: sdk.Caller{Name: "sam", Role: sdk.RoleSpeaker}, Room: room}); err != nil {
		t.Errorf("join allowed: %v", err)
	}

	from := sdk.Caller{Name: "ann", Role: sdk.RoleUser, Room: 3}
	style := sdk.Style{Bold: true, Color: "#ff0000"}
	msgs := []struct {
		text, to string
		want     sdk.MessageVerdict
	}{
		{"hello", "", sdk.MessageVerdict{}},
		{"oh darn it", "", sdk.MessageVerdict{Action: sdk.Modify, Text: "oh *** it", Style: style}},
		{"ad", "", sdk.MessageVerdict{Action: sdk.Hold, Note: "looks like spam from ann"}},
		{"shout", "bob", sdk.MessageVerdict{Action: sdk.Reject, Reason: "no shouting at bob"}},
		{"spam", "", sdk.MessageVerdict{Action: sdk.Drop}},
	}
	for _, c := range msgs {
		got, err := m.OnMessage(ctx, sdk.MessageEvent{From: from, Room: 3, To: c.to, Text: c.text, Style: style})
		if err != nil || got != c.want {
			t.Errorf("message %q: %+v, %v; want %+v", c.text, got, err, c.want)
		}
	}
	if _, err := m.OnMessage(ctx, sdk.MessageEvent{Text: "broken"}); err == nil || !strings.Contains(err.Error(), "automod rules are broken") || errors.As(err, &r) {
		t.Errorf("message error: %v", err)
	}

	reply, err := m.Command(ctx, sdk.Command{Type: "mod.kick", Caller: sdk.Caller{Name: "mo", Role: sdk.RoleModerator}, Room: 3, Data: json.RawMessage(`{"type":"mod.kick","user":"ann"}`)})
	if err != nil || string(reply.Data) != `{"kicked":"ann","room":3}` {
		t.Errorf("kick: %s, %v", reply.Data, err)
	}
	_, err = m.Command(ctx, sdk.Command{Type: "mod.kick", Caller: sdk.Caller{Name: "ann", Role: sdk.RoleUser}, Data: json.RawMessage(`{}`)})
	if !errors.As(err, &r) || r.Code != "forbidden" {
		t.Errorf("kick by a user: %v", err)
	}
	if _, err := m.Command(ctx, sdk.Command{Type: "mod.what", Data: json.RawMessage(`{}`)}); err == nil || errors.As(err, &r) {
		t.Errorf("unknown command: %v", err)
	}
	if _, err := m.Command(ctx, sdk.Command{Type: "dice.roll"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("another prefix: %v", err)
	}

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := []sdk.Notification{
		{Kind: sdk.Joined, User: "ann", Room: 3, Time: at},
		{Kind: sdk.Delivered, Room: 3, Time: at, Message: &sdk.Message{ID: 9, Room: 3, From: "ann", Text: "hi", Style: style, Time: at}},
	}
	if err := m.Notify(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := m.Notify(ctx, []sdk.Notification{{Kind: sdk.LoggedOut, User: "ann"}}); err != nil {
		t.Fatal(err)
	}
	held := sdk.HeldMessage{ID: 4, Note: "links", Plugin: "moderation",
		Message: sdk.Message{Room: 3, From: "guest1", Text: "see http://x", Time: at, Emotion: "e3"}}
	if err := m.Notify(ctx, []sdk.Notification{
		{Kind: sdk.MessageHeld, User: "guest1", Room: 3, Held: held},
		{Kind: sdk.MessageDeclined, User: "guest1", Room: 3, Held: held, Resolution: sdk.Resolution{Actor: "mia", Reason: "no links"}},
	}); err != nil {
		t.Fatal(err)
	}
	impl.mu.Lock()
	seen := impl.seen
	impl.mu.Unlock()
	if len(seen) != 5 || seen[0].Kind != sdk.Joined || !seen[0].Time.Equal(at) || seen[1].Message == nil || seen[1].Message.Text != "hi" || seen[1].Message.Style != style || seen[2].Kind != sdk.LoggedOut {
		t.Fatalf("module saw %+v", seen)
	}
	if h := seen[3].Held; seen[3].Kind != sdk.MessageHeld || h.ID != 4 || h.Note != "links" || h.Plugin != "moderation" || h.Message.Text != "see http://x" ||
		!h.Message.Time.Equal(at) || h.Message.Emotion != "e3" || seen[3].Resolution != (sdk.Resolution{}) {
		t.Fatalf("held notification %+v", seen[3])
	}
	if seen[4].Kind != sdk.MessageDeclined || seen[4].Held.ID != 4 || seen[4].Resolution != (sdk.Resolution{Actor: "mia", Reason: "no links"}) {
		t.Fatalf("declined notification %+v", seen[4])
	}
}

// A module with no hooks is never asked.
func TestModuleWithoutHooks(t *testing.T) {
	m := sdktest.Module(t, struct{}{}, nil, nil)
	ctx := context.Background()
	if _, err := m.OnMessage(ctx, sdk.MessageEvent{Text: "hi"}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("OnMessage: %v", err)
	}
	if err := m.Notify(ctx, []sdk.Notification{{Kind: sdk.Joined}}); !errors.Is(err, sdk.ErrNotServed) {
		t.Errorf("Notify: %v", err)
	}
}

// A typo in the configuration fails the module's start with the key.
func TestModuleConfigTypo(t *testing.T) {
	c := sdktest.ConnectModule(t, &moderator{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Setup(ctx, sdktest.Config(t, map[string]any{"wrod": "darn"}))
	if err == nil || !strings.Contains(err.Error(), `plugin config: unknown key "wrod"`) {
		t.Fatalf("setup: %v", err)
	}
}
