package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fakeHost is a Host API whose messaging records custom events; every
// other part is nil and would panic if the module used it.
type fakeHost struct {
	sdk.Host
	msgs *fakeMessages
}

func (h *fakeHost) Messages() sdk.Messages { return h.msgs }

type sentEvent struct {
	to sdk.Audience
	ev sdk.Event
}

type fakeMessages struct {
	sdk.Messages
	mu     sync.Mutex
	events []sentEvent
	fail   error
}

func (m *fakeMessages) Event(_ context.Context, to sdk.Audience, ev sdk.Event) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	m.events = append(m.events, sentEvent{to, ev})
	return 2, nil
}

func (m *fakeMessages) sent() []sentEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sentEvent(nil), m.events...)
}

var words = map[string]any{"words": []string{"darn", "heck", "Ärger"}}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func rollCmd(dice string) sdk.Command {
	frame, _ := json.Marshal(map[string]any{"type": "dice.roll", "id": "7", "room": 3, "dice": dice})
	return sdk.Command{Type: "dice.roll", Caller: sdk.Caller{Name: "alice", Role: sdk.RoleUser, Room: 3}, Room: 3, Data: frame}
}

func checkRoll(t *testing.T, got roll, dice string, n, sides int) {
	t.Helper()
	sum := 0
	for _, r := range got.Rolls {
		if r < 1 || r > sides {
			t.Errorf("%s: a die shows %d", dice, r)
		}
		sum += r
	}
	if got.Dice != dice || len(got.Rolls) != n || got.Total != sum {
		t.Errorf("roll %+v: want %s, %d dice, total the sum of the rolls", got, dice, n)
	}
}

func TestRollAnswersAndAnnounces(t *testing.T) {
	host := &fakeHost{msgs: &fakeMessages{}}
	m := sdktest.Module(t, &dice{}, words, host)
	for _, c := range []struct {
		in, dice string
		n, sides int
	}{{"2d6", "2d6", 2, 6}, {" 1D1000 ", "1d1000", 1, 1000}, {"20d2", "20d2", 20, 2}} {
		reply, err := m.Command(ctx(t), rollCmd(c.in))
		if err != nil {
			t.Fatalf("roll %q: %v", c.in, err)
		}
		var got roll
		if err := json.Unmarshal(reply.Data, &got); err != nil {
			t.Fatalf("roll %q answered %s: %v", c.in, reply.Data, err)
		}
		checkRoll(t, got, c.dice, c.n, c.sides)

		sent := host.msgs.sent()
		if len(sent) == 0 {
			t.Fatalf("roll %q announced nothing", c.in)
		}
		last := sent[len(sent)-1]
		var ev rolled
		if err := json.Unmarshal(last.ev.Data, &ev); err != nil {
			t.Fatalf("event data %s: %v", last.ev.Data, err)
		}
		if last.to != sdk.ToRoom(3) || last.ev.Type != "dice.rolled" || last.ev.Room != 3 || ev.User != "alice" {
			t.Errorf("announced %+v (%+v), want dice.rolled by alice to room 3", last, ev)
		}
		if ev.Total != got.Total || ev.Dice != got.Dice || len(ev.Rolls) != len(got.Rolls) {
			t.Errorf("announced %+v, answered %+v", ev.roll, got)
		}
	}
	if n := len(host.msgs.sent()); n != 3 {
		t.Errorf("%d events for 3 rolls", n)
	}
}

func TestBadDiceRefused(t *testing.T) {
	host := &fakeHost{msgs: &fakeMessages{}}
	m := sdktest.Module(t, &dice{}, words, host)
	for _, in := range []string{"", "0d6", "21d6", "2d1", "2d1001", "d6", "2d", "2x6", "two dice", "-1d6", "2d6d6", "99999999999d6"} {
		_, err := m.Command(ctx(t), rollCmd(in))
		var r *sdk.Refusal
		if !errors.As(err, &r) || r.Code != "bad_dice" || !strings.Contains(r.Message, "2d6") {
			t.Errorf("roll %q: %v, want a bad_dice refusal", in, err)
		}
	}
	if _, err := m.Command(ctx(t), sdk.Command{Type: "dice.roll", Room: 3, Data: json.RawMessage(`{"dice":6}`)}); err == nil {
		t.Error("a number as dice was rolled")
	}
	var r *sdk.Refusal
	if _, err := m.Command(ctx(t), sdk.Command{Type: "dice.cheat", Data: json.RawMessage(`{}`)}); !errors.As(err, &r) || r.Code != "unknown_command" {
		t.Errorf("dice.cheat: %v", err)
	}
	if n := len(host.msgs.sent()); n != 0 {
		t.Errorf("refused rolls sent %d events", n)
	}
}

// A roll that cannot be announced is not answered either: the caller sees
// module_error and may try again.
func TestRollNotAnnounced(t *testing.T) {
	host := &fakeHost{msgs: &fakeMessages{fail: sdk.ErrDenied}}
	m := sdktest.Module(t, &dice{}, nil, host)
	_, err := m.Command(ctx(t), rollCmd("2d6"))
	var r *sdk.Refusal
	if err == nil || errors.As(err, &r) {
		t.Fatalf("roll with a failing host: %v", err)
	}
}

// Limits are config keys.
func TestRollLimitsConfigured(t *testing.T) {
	m := sdktest.Module(t, &dice{}, map[string]any{"max_dice": 100, "max_sides": 6}, nil)
	reply, err := m.Command(ctx(t), rollCmd("100d6"))
	if err != nil {
		t.Fatalf("100d6: %v", err)
	}
	var got roll
	_ = json.Unmarshal(reply.Data, &got)
	checkRoll(t, got, "100d6", 100, 6)
	var r *sdk.Refusal
	if _, err := m.Command(ctx(t), rollCmd("1d7")); !errors.As(err, &r) || r.Code != "bad_dice" || !strings.Contains(r.Message, "2 to 6 sides") {
		t.Errorf("1d7 with max_sides 6: %v", err)
	}
}

func TestMasking(t *testing.T) {
	m := sdktest.Module(t, &dice{}, words, nil)
	style := sdk.Style{Bold: true, Color: "#336699"}
	for _, c := range []struct{ in, want string }{
		{"what the heck", "what the ****"},
		{"Darn, HECK! darn.", "****, ****! ****."},
		{"so much ärger", "so much *****"},
		{"ÄRGER über heck's", "***** über ****'s"},
	} {
		v, err := m.OnMessage(ctx(t), sdk.MessageEvent{From: sdk.Caller{Name: "bob"}, Room: 3, Text: c.in, Style: style})
		if err != nil || v.Action != sdk.Modify || v.Text != c.want || v.Style != style {
			t.Errorf("%q: %+v, %v; want Modify to %q keeping the style", c.in, v, err, c.want)
		}
	}
	for _, clean := range []string{"hello there", "checkmate: heckle the darned", "Ärgernis", ""} {
		v, err := m.OnMessage(ctx(t), sdk.MessageEvent{Room: 3, Text: clean, Style: style})
		if err != nil || v != (sdk.MessageVerdict{Action: sdk.Pass}) {
			t.Errorf("%q: %+v, %v; want Pass", clean, v, err)
		}
	}
	// Private messages are filtered too.
	if v, _ := m.OnMessage(ctx(t), sdk.MessageEvent{To: "carol", Text: "heck"}); v.Action != sdk.Modify || v.Text != "****" {
		t.Errorf("private message: %+v", v)
	}
}

func TestCapabilities(t *testing.T) {
	m := sdktest.Module(t, &dice{}, words, nil)
	caps := m.Capabilities()
	if len(caps.Hooks) != 1 || caps.Hooks[0] != sdk.HookMessage || len(caps.Commands) != 1 || caps.Commands[0] != "dice." {
		t.Errorf("capabilities %+v", caps)
	}
	js := string(caps.Assets["main.js"])
	if caps.Client != "main.js" || !strings.Contains(js, `api.addCommand("/roll"`) || !strings.Contains(js, `api.on("dice.rolled"`) {
		t.Errorf("client %q, main.js %d bytes", caps.Client, len(js))
	}
}

func TestStrictConfig(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  any
		want string
	}{
		"unknown key": {map[string]any{"words": []string{"darn"}, "wrods": []string{"heck"}}, `unknown key "wrods"`},
		"wrong type":  {map[string]any{"words": "darn"}, `key "words"`},
		"two words":   {map[string]any{"words": []string{"oh no"}}, `"oh no" is not a single word`},
		"empty word":  {map[string]any{"words": []string{""}}, `"" is not a single word`},
		"no dice":     {map[string]any{"max_dice": 0}, "max_dice must be at least 1"},
	} {
		c0 := sdktest.ConnectModule(t, &dice{}, nil)
		_, err := c0.Setup(ctx(t), sdktest.Config(t, c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: setup %v, want an error with %s", name, err, c.want)
		}
	}
}

// TestImportsOnlySDK keeps the example honest: a third-party module needs
// nothing from Parlor but the sdk package.
func TestImportsOnlySDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Deps "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if rest, ok := strings.CutPrefix(dep, "github.com/parlorchat/parlor/"); ok && !strings.HasPrefix(rest, "sdk") {
			t.Errorf("the module depends on %s", dep)
		}
	}
}
