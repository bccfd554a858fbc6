package modules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// wantChatError checks that err is a *chat.Error with the code, and that
// its sentence contains each of parts.
func wantChatError(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	var ce *chat.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *chat.Error with code %s", err, err, code)
	}
	if ce.Code != code {
		t.Fatalf("code = %q (%q), want %q", ce.Code, ce.Message, code)
	}
	for _, part := range parts {
		if !strings.Contains(ce.Message, part) {
			t.Errorf("message %q does not contain %q", ce.Message, part)
		}
	}
}

func msg(text string) sdk.MessageEvent {
	return sdk.MessageEvent{From: sdk.Caller{Name: "ann", Role: sdk.RoleUser, Room: 1}, Room: 1, Text: text}
}

// appendWord is an OnMessage that modifies the text by appending word.
func appendWord(word string) func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
	return func(_ context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Modify, Text: ev.Text + " " + word, Style: sdk.Style{Bold: true, Color: "#" + word}}, nil
	}
}

func pass(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
	return sdk.MessageVerdict{}, nil
}

func TestNilPipeline(t *testing.T) {
	var p *Pipeline
	ctx := context.Background()
	if v, err := p.Login(ctx, sdk.LoginEvent{Name: "ann"}); err != nil || v != (sdk.LoginVerdict{}) {
		t.Errorf("Login = %+v, %v", v, err)
	}
	if err := p.Join(ctx, sdk.JoinEvent{}); err != nil {
		t.Errorf("Join = %v", err)
	}
	if v, err := p.Message(ctx, msg("hi"), true); err != nil || v.Action != sdk.Pass {
		t.Errorf("Message = %+v, %v", v, err)
	}
	if _, ok := p.Owner("dice.roll"); ok {
		t.Error("Owner found a module")
	}
	if p.Quiet("dice.roll") {
		t.Error("Quiet")
	}
	_, err := p.Command(ctx, sdk.Command{Type: "dice.roll"})
	wantChatError(t, err, chat.CodeUnknownCommand, "No module answers dice.roll commands.")
	p.Notify(sdk.Notification{Kind: sdk.Joined})
	p.Refresh()
	if c := p.Collectors(); c != nil {
		t.Errorf("Collectors = %v", c)
	}
	p.Close()
}

func TestMessageModifyFeedsTheNextModuleInConfigOrder(t *testing.T) {
	log := &callLog{}
	a, b, c := newFake(t, "a", sdk.HookMessage), newFake(t, "b", sdk.HookMessage), newFake(t, "c", sdk.HookMessage)
	a.message = appendWord("A")
	b.message = appendWord("B")
	var cSaw sdk.MessageEvent
	c.message = func(_ context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
		cSaw = ev
		return sdk.MessageVerdict{}, nil
	}
	for _, f := range []*fake{a, b, c} {
		f.calls = log
	}
	p := newPipeline(t, Options{}, a, b, c)

	v, err := p.Message(context.Background(), msg("hello"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.get(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("call order = %v, want config order a b c", got)
	}
	if cSaw.Text != "hello A B" || cSaw.Style.Color != "#B" || cSaw.From.Name != "ann" {
		t.Errorf("c saw %+v, want the message as b left it", cSaw)
	}
	want := sdk.MessageVerdict{Action: sdk.Modify, Text: "hello A B", Style: sdk.Style{Bold: true, Color: "#B"}}
	if v != want {
		t.Errorf("verdict = %+v, want %+v", v, want)
	}
}

func TestMessagePassesWhenNobodyModifies(t *testing.T) {
	a := newFake(t, "a", sdk.HookMessage)
	a.message = pass
	other := newFake(t, "other", sdk.HookLogin) // declared no OnMessage: never called
	p := newPipeline(t, Options{}, other, a)
	v, err := p.Message(context.Background(), msg("hello"), false)
	if err != nil || v != (sdk.MessageVerdict{}) {
		t.Errorf("verdict = %+v, %v; want Pass", v, err)
	}
}

func TestMessageHoldEndsTheChain(t *testing.T) {
	a, b, c := newFake(t, "a", sdk.HookMessage), newFake(t, "b", sdk.HookMessage), newFake(t, "c", sdk.HookMessage)
	a.message = appendWord("A")
	b.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Hold, Note: "first post"}, nil
	}
	// c has no OnMessage function: the fake fails the test if it is called.
	p := newPipeline(t, Options{}, a, b, c)
	v, err := p.Message(context.Background(), msg("hello"), false)
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.MessageVerdict{Action: sdk.Hold, Note: "first post", Text: "hello A", Style: sdk.Style{Bold: true, Color: "#A"}}
	if v != want {
		t.Errorf("verdict = %+v, want %+v (the message as a left it)", v, want)
	}
}

func TestMessageRejectGivesTheReason(t *testing.T) {
	a, b := newFake(t, "automod", sdk.HookMessage), newFake(t, "later", sdk.HookMessage)
	a.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Reject, Reason: "Please do not shout."}, nil
	}
	p := newPipeline(t, Options{}, a, b)
	v, err := p.Message(context.Background(), msg("HELLO"), false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != sdk.Reject || v.Reason != "Please do not shout." {
		t.Errorf("verdict = %+v, want Reject with the module's reason", v)
	}

	// Without a reason, the author still learns which module refused.
	a.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Reject}, nil
	}
	v, _ = p.Message(context.Background(), msg("HELLO"), false)
	if v.Action != sdk.Reject || !strings.Contains(v.Reason, "automod") {
		t.Errorf("verdict = %+v, want Reject with a reason naming automod", v)
	}
}

func TestMessageDropEndsTheChain(t *testing.T) {
	a, b := newFake(t, "a", sdk.HookMessage), newFake(t, "b", sdk.HookMessage)
	a.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Drop}, nil
	}
	p := newPipeline(t, Options{}, a, b)
	v, err := p.Message(context.Background(), msg("spam"), false)
	if err != nil || v != (sdk.MessageVerdict{Action: sdk.Drop}) {
		t.Errorf("verdict = %+v, %v; want Drop", v, err)
	}
}

func TestMessageRefusalKeepsItsCode(t *testing.T) {
	a := newFake(t, "automod", sdk.HookMessage)
	a.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{}, fmt.Errorf("rule 3: %w", &sdk.Refusal{Code: "slow_down", Message: "Wait a little between messages."})
	}
	p := newPipeline(t, Options{}, a)
	_, err := p.Message(context.Background(), msg("hi"), false)
	wantChatError(t, err, "slow_down", "Wait a little between messages.")
	if n := p.failuresOf(t, "automod", sdk.HookMessage); n != 0 {
		t.Errorf("a refusal counted as %v failures", n)
	}
}

func TestLoginDenyWithReason(t *testing.T) {
	a, b := newFake(t, "gate", sdk.HookLogin), newFake(t, "later", sdk.HookLogin)
	a.login = func(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
		return sdk.LoginVerdict{Deny: true, Reason: "The chat is closed until 8 pm."}, nil
	}
	p := newPipeline(t, Options{}, a, b)
	_, err := p.Login(context.Background(), sdk.LoginEvent{Name: "ann"})
	wantChatError(t, err, chat.CodeRefused, "The chat is closed until 8 pm.")

	a.login = func(context.Context, sdk.LoginEvent) (sdk.LoginVerdict, error) {
		return sdk.LoginVerdict{}, &sdk.Refusal{Code: "banned", Message: "You are banned until Monday."}
	}
	_, err = p.Login(context.Background(), sdk.LoginEvent{Name: "ann"})
	wantChatError(t, err, "banned", "You are banned until Monday.")
}

func TestLoginFoldsDisplayAndRole(t *testing.T) {
	var warnings strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &warnings, Level: hclog.Warn})
	a, b, c := newFake(t, "names", sdk.HookLogin), newFake(t, "roles", sdk.HookLogin), newFake(t, "last", sdk.HookLogin)
	a.login = func(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
		return sdk.LoginVerdict{Display: "Ann (staff)", Role: sdk.RoleAdmin}, nil
	}
	var bSaw, cSaw sdk.LoginEvent
	b.login = func(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
		bSaw = ev
		return sdk.LoginVerdict{Role: sdk.RoleModerator}, nil // not a server role: ignored
	}
	c.login = func(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
		cSaw = ev
		return sdk.LoginVerdict{}, nil
	}
	p := newPipeline(t, Options{Logger: logger}, a, b, c)
	v, err := p.Login(context.Background(), sdk.LoginEvent{Name: "ann", Display: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if bSaw.Display != "Ann (staff)" || !bSaw.Admin {
		t.Errorf("roles saw %+v, want the display and admin role names set", bSaw)
	}
	if cSaw.Display != "Ann (staff)" || !cSaw.Admin {
		t.Errorf("last saw %+v, want the moderator role ignored", cSaw)
	}
	if want := (sdk.LoginVerdict{Display: "Ann (staff)", Role: sdk.RoleAdmin}); v != want {
		t.Errorf("verdict = %+v, want %+v", v, want)
	}
	if !strings.Contains(warnings.String(), "roles") || !strings.Contains(warnings.String(), "moderator") {
		t.Errorf("no warning naming the module and the role: %q", warnings.String())
	}
}

func TestJoinDenyWithReason(t *testing.T) {
	a, b := newFake(t, "schedule", sdk.HookJoin), newFake(t, "later", sdk.HookJoin)
	var saw sdk.JoinEvent
	a.join = func(_ context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
		saw = ev
		return sdk.JoinVerdict{Deny: true, Reason: "The room opens at 8 pm."}, nil
	}
	p := newPipeline(t, Options{}, a, b)
	ev := sdk.JoinEvent{User: sdk.Caller{Name: "ann", Role: sdk.RoleSpeaker}, Room: sdk.Room{ID: 3}}
	err := p.Join(context.Background(), ev)
	wantChatError(t, err, chat.CodeRefused, "The room opens at 8 pm.")
	if saw.User.Role != sdk.RoleSpeaker || saw.Room.ID != 3 {
		t.Errorf("module saw %+v", saw)
	}

	a.join = func(context.Context, sdk.JoinEvent) (sdk.JoinVerdict, error) { return sdk.JoinVerdict{Deny: true}, nil }
	wantChatError(t, p.Join(context.Background(), ev), chat.CodeRefused, "schedule")

	a.join = func(context.Context, sdk.JoinEvent) (sdk.JoinVerdict, error) { return sdk.JoinVerdict{}, nil }
	b.join = a.join
	if err := p.Join(context.Background(), ev); err != nil {
		t.Errorf("Join = %v, want allowed", err)
	}
}

func TestTimeoutFailsOpen(t *testing.T) {
	slow, next := newFake(t, "slow", sdk.HookMessage, sdk.HookLogin, sdk.HookJoin), newFake(t, "next", sdk.HookMessage)
	slow.message = func(ctx context.Context, _ sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Drop}, waitCtx(ctx)
	}
	slow.login = func(ctx context.Context, _ sdk.LoginEvent) (sdk.LoginVerdict, error) {
		return sdk.LoginVerdict{Deny: true}, waitCtx(ctx)
	}
	slow.join = func(ctx context.Context, _ sdk.JoinEvent) (sdk.JoinVerdict, error) {
		return sdk.JoinVerdict{Deny: true}, waitCtx(ctx)
	}
	next.message = appendWord("N")
	var warnings strings.Builder
	p := newPipeline(t, Options{HookTimeout: 20 * time.Millisecond, Logger: hclog.New(&hclog.LoggerOptions{Output: &warnings})}, slow, next)

	v, err := p.Message(context.Background(), msg("hi"), false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Action != sdk.Modify || v.Text != "hi N" {
		t.Errorf("verdict = %+v, want the late module skipped and next applied", v)
	}
	if _, err := p.Login(context.Background(), sdk.LoginEvent{Name: "ann"}); err != nil {
		t.Errorf("Login = %v, want fail-open", err)
	}
	if err := p.Join(context.Background(), sdk.JoinEvent{}); err != nil {
		t.Errorf("Join = %v, want fail-open", err)
	}
	for _, hook := range []string{sdk.HookMessage, sdk.HookLogin, sdk.HookJoin} {
		if n := p.failuresOf(t, "slow", hook); n != 1 {
			t.Errorf("failures{slow,%s} = %v, want 1", hook, n)
		}
	}
	if !strings.Contains(warnings.String(), "slow") || !strings.Contains(warnings.String(), "timed out") {
		t.Errorf("warning does not name the module and the timeout: %q", warnings.String())
	}
}

func TestTimeoutFailsClosed(t *testing.T) {
	slow := newFake(t, "moderation", sdk.HookMessage)
	slow.message = func(ctx context.Context, _ sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{}, waitCtx(ctx)
	}
	p := newPipeline(t, Options{HookTimeout: 20 * time.Millisecond}, slow)

	// A pre-moderated room.
	_, err := p.Message(context.Background(), msg("hi"), true)
	wantChatError(t, err, chat.CodeModuleUnavailable, "The moderation module is not available; your message was not sent.")

	// A module that declared FailClosed.
	slow.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookMessage, sdk.HookLogin, sdk.HookJoin}, FailClosed: true})
	slow.login = func(ctx context.Context, _ sdk.LoginEvent) (sdk.LoginVerdict, error) {
		return sdk.LoginVerdict{}, errors.New("connection refused")
	}
	slow.join = func(ctx context.Context, _ sdk.JoinEvent) (sdk.JoinVerdict, error) {
		return sdk.JoinVerdict{}, errors.New("connection refused")
	}
	p.Refresh()
	_, err = p.Message(context.Background(), msg("hi"), false)
	wantChatError(t, err, chat.CodeModuleUnavailable, "The moderation module is not available")
	_, err = p.Login(context.Background(), sdk.LoginEvent{Name: "ann"})
	wantChatError(t, err, chat.CodeModuleUnavailable, "The moderation module is not available")
	wantChatError(t, p.Join(context.Background(), sdk.JoinEvent{}), chat.CodeModuleUnavailable, "The moderation module is not available")
	if n := p.failuresOf(t, "moderation", sdk.HookMessage); n != 2 {
		t.Errorf("failures = %v, want 2", n)
	}
}

func TestPanickingAndErroringModulesAreSkipped(t *testing.T) {
	bad, broken, good := newFake(t, "bad", sdk.HookMessage), newFake(t, "broken", sdk.HookMessage), newFake(t, "good", sdk.HookMessage)
	bad.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) { panic("nil map") }
	broken.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: sdk.Drop}, errors.New("database gone")
	}
	good.message = appendWord("G")
	p := newPipeline(t, Options{}, bad, broken, good)
	v, err := p.Message(context.Background(), msg("hi"), false)
	if err != nil || v.Text != "hi G" {
		t.Errorf("verdict = %+v, %v; want the failing modules skipped", v, err)
	}
	if p.failuresOf(t, "bad", sdk.HookMessage) != 1 || p.failuresOf(t, "broken", sdk.HookMessage) != 1 {
		t.Error("failures not counted per module")
	}

	// An action the pipeline does not know is a failure, not a pass.
	bad.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{Action: 42}, nil
	}
	_, err = p.Message(context.Background(), msg("hi"), true)
	wantChatError(t, err, chat.CodeModuleUnavailable, "bad")
}

func TestCancelledCallerIsNotAModuleFailure(t *testing.T) {
	a := newFake(t, "a", sdk.HookMessage)
	a.message = func(ctx context.Context, _ sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{}, ctx.Err()
	}
	p := newPipeline(t, Options{}, a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Message(ctx, msg("hi"), false); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want the caller's cancellation", err)
	}
	if n := p.failuresOf(t, "a", sdk.HookMessage); n != 0 {
		t.Errorf("failures = %v, want 0", n)
	}
}

func TestCommandRoutesByLongestPrefix(t *testing.T) {
	dice, admin := newFake(t, "dice"), newFake(t, "diceadmin")
	dice.setCaps(sdk.Capabilities{Module: true, Commands: []string{"dice."}})
	admin.setCaps(sdk.Capabilities{Module: true, Commands: []string{"dice.admin.", "bad"}})
	answer := func(who string) func(context.Context, sdk.Command) (sdk.Reply, error) {
		return func(_ context.Context, c sdk.Command) (sdk.Reply, error) {
			return sdk.Reply{Data: json.RawMessage(fmt.Sprintf(`{"by":%q,"type":%q,"caller":%q}`, who, c.Type, c.Caller.Name))}, nil
		}
	}
	dice.command, admin.command = answer("dice"), answer("diceadmin")
	p := newPipeline(t, Options{}, dice, admin)

	for typ, owner := range map[string]string{"dice.roll": "dice", "dice.admin.reset": "diceadmin", "dice.adminx": "dice"} {
		r, err := p.Command(context.Background(), sdk.Command{Type: typ, Caller: sdk.Caller{Name: "ann"}})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := fmt.Sprintf(`{"by":%q,"type":%q,"caller":"ann"}`, owner, typ)
		if string(r.Data) != want {
			t.Errorf("%s: reply %s, want %s", typ, r.Data, want)
		}
		if pl, ok := p.Owner(typ); !ok || pl.Name() != owner {
			t.Errorf("Owner(%s) = %v, %v; want %s", typ, pl, ok, owner)
		}
	}
	_, err := p.Command(context.Background(), sdk.Command{Type: "chess.move"})
	wantChatError(t, err, chat.CodeUnknownCommand, "No module answers chess.move commands.")
	if _, ok := p.Owner("bad.x"); ok {
		t.Error("a prefix without '.' was routed")
	}
	if _, ok := p.Owner("dice."); ok {
		t.Error("a type that is only a prefix was routed")
	}
}

func TestCommandErrors(t *testing.T) {
	dice := newFake(t, "dice")
	dice.setCaps(sdk.Capabilities{Module: true, Commands: []string{"dice."}})
	p := newPipeline(t, Options{CommandTimeout: 20 * time.Millisecond}, dice)
	cmd := sdk.Command{Type: "dice.roll"}

	dice.command = func(context.Context, sdk.Command) (sdk.Reply, error) {
		return sdk.Reply{}, &sdk.Refusal{Code: "bad_dice", Message: "Roll between 1 and 100 dice."}
	}
	_, err := p.Command(context.Background(), cmd)
	wantChatError(t, err, "bad_dice", "Roll between 1 and 100 dice.")

	dice.command = func(context.Context, sdk.Command) (sdk.Reply, error) {
		return sdk.Reply{}, errors.New("index out of range")
	}
	_, err = p.Command(context.Background(), cmd)
	wantChatError(t, err, chat.CodeModuleError, "The dice module could not answer; try again.")

	dice.command = func(context.Context, sdk.Command) (sdk.Reply, error) { panic("boom") }
	_, err = p.Command(context.Background(), cmd)
	wantChatError(t, err, chat.CodeModuleError, "dice")

	dice.command = func(ctx context.Context, _ sdk.Command) (sdk.Reply, error) { return sdk.Reply{}, waitCtx(ctx) }
	_, err = p.Command(context.Background(), cmd)
	wantChatError(t, err, chat.CodeModuleUnavailable, "The dice module is not available")

	for _, down := range []error{fmt.Errorf("plugin %q: %w", "dice", ErrUnavailable), status.Error(codes.Unavailable, "connection refused")} {
		dice.command = func(context.Context, sdk.Command) (sdk.Reply, error) { return sdk.Reply{}, down }
		_, err = p.Command(context.Background(), cmd)
		wantChatError(t, err, chat.CodeModuleUnavailable, "dice")
	}
	if n := p.failuresOf(t, "dice", "command"); n != 5 {
		t.Errorf("command failures = %v, want 5 (a refusal is not one)", n)
	}
}

func TestQuiet(t *testing.T) {
	wb := newFake(t, "wb")
	wb.setCaps(sdk.Capabilities{Module: true, Commands: []string{"wb."}, Quiet: []string{"wb.sync", "wb.view."}})
	p := newPipeline(t, Options{}, wb)
	for typ, want := range map[string]bool{"wb.sync": true, "wb.view.list": true, "wb.syncx": false, "wb.ops": false, "dice.sync": false} {
		if got := p.Quiet(typ); got != want {
			t.Errorf("Quiet(%s) = %v, want %v", typ, got, want)
		}
	}
}

func TestNotifyDeliversInBatches(t *testing.T) {
	a, silent := newFake(t, "a", sdk.HookNotify), newFake(t, "silent", sdk.HookMessage)
	got := make(chan []sdk.Notification, 100)
	a.notify = func(_ context.Context, batch []sdk.Notification) error {
		got <- slices.Clone(batch)
		return nil
	}
	p := newPipeline(t, Options{NotifyBatch: 4}, a, silent)
	for i := range 10 {
		p.Notify(sdk.Notification{Kind: sdk.Joined, User: fmt.Sprint("u", i), Room: 1})
	}
	var all []string
	for len(all) < 10 {
		select {
		case batch := <-got:
			if len(batch) == 0 || len(batch) > 4 {
				t.Fatalf("batch of %d, want 1..4", len(batch))
			}
			for _, n := range batch {
				all = append(all, n.User)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("gave up waiting; got %v", all)
		}
	}
	if want := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}; !slices.Equal(all, want) {
		t.Errorf("notifications %v, want %v in order", all, want)
	}
}

func TestNotifyFullQueueDropsWithoutBlocking(t *testing.T) {
	a := newFake(t, "slowpoke", sdk.HookNotify)
	inside, release := make(chan struct{}, 1), make(chan struct{})
	received := make(chan int, 100)
	a.notify = func(ctx context.Context, batch []sdk.Notification) error {
		select {
		case inside <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		received <- len(batch)
		return nil
	}
	p := newPipeline(t, Options{NotifyQueue: 4, NotifyTimeout: time.Minute}, a)

	p.Notify(sdk.Notification{Kind: sdk.Joined}) // taken by the stream, which then waits in Notify
	<-inside
	done := make(chan struct{})
	go func() {
		for range 4 + 3 { // 4 fill the queue, 3 are dropped
			p.Notify(sdk.Notification{Kind: sdk.Left})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked on a full queue")
	}
	if n := p.droppedOf(t, "slowpoke"); n != 3 {
		t.Errorf("dropped = %v, want 3", n)
	}
	close(release)
	total := 0
	eventually(t, "the queued notifications", func() bool {
		for {
			select {
			case n := <-received:
				total += n
			default:
				return total == 5
			}
		}
	})
}

func TestNotifyFailureIsCounted(t *testing.T) {
	a := newFake(t, "a", sdk.HookNotify)
	a.notify = func(context.Context, []sdk.Notification) error { return errors.New("stream broken") }
	p := newPipeline(t, Options{}, a)
	p.Notify(sdk.Notification{Kind: sdk.LoggedOut})
	eventually(t, "a counted notify failure", func() bool { return p.failuresOf(t, "a", sdk.HookNotify) == 1 })
}

func TestCloseStopsTheStreams(t *testing.T) {
	a := newFake(t, "a", sdk.HookNotify)
	inside := make(chan struct{}, 1)
	a.notify = func(ctx context.Context, _ []sdk.Notification) error {
		inside <- struct{}{}
		return waitCtx(ctx) // a module that never answers
	}
	p := New([]Plugin{a}, Options{NotifyTimeout: time.Hour})
	p.Notify(sdk.Notification{Kind: sdk.Joined})
	<-inside
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop a stream waiting in Notify")
	}
	p.Notify(sdk.Notification{Kind: sdk.Joined}) // neither blocks nor panics
	p.Refresh()                                  // starts no stream after Close
	if len(p.load().streams(sdk.Joined)) != 0 {
		t.Error("a stream is back after Close")
	}
	p.Close()
}

func TestRefreshPicksUpLateCapabilities(t *testing.T) {
	late := newFake(t, "late")
	late.setCaps(sdk.Capabilities{}) // down at start-up: nothing known
	late.message = appendWord("L")
	late.command = func(context.Context, sdk.Command) (sdk.Reply, error) {
		return sdk.Reply{Data: json.RawMessage(`1`)}, nil
	}
	notified := make(chan sdk.Notification, 1)
	late.notify = func(_ context.Context, b []sdk.Notification) error { notified <- b[0]; return nil }
	p := newPipeline(t, Options{}, late)

	if v, _ := p.Message(context.Background(), msg("hi"), false); v.Action != sdk.Pass {
		t.Fatalf("verdict %+v before the module is up", v)
	}
	_, err := p.Command(context.Background(), sdk.Command{Type: "late.x"})
	wantChatError(t, err, chat.CodeUnknownCommand)

	late.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookMessage, sdk.HookNotify}, Commands: []string{"late."}})
	p.Refresh()
	if v, _ := p.Message(context.Background(), msg("hi"), false); v.Text != "hi L" {
		t.Errorf("verdict %+v after Refresh, want the module's change", v)
	}
	if r, err := p.Command(context.Background(), sdk.Command{Type: "late.x"}); err != nil || string(r.Data) != "1" {
		t.Errorf("command after Refresh = %s, %v", r.Data, err)
	}
	p.Notify(sdk.Notification{Kind: sdk.RoomChanged, Room: 9})
	select {
	case n := <-notified:
		if n.Room != 9 {
			t.Errorf("notification %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after Refresh")
	}
	p.Refresh() // again: the stream is reused, not doubled
	if len(p.streams) != 1 {
		t.Errorf("%d streams, want 1", len(p.streams))
	}
}

func TestDuplicatePrefixGoesToTheFirstModule(t *testing.T) {
	a, b := newFake(t, "a"), newFake(t, "b")
	a.setCaps(sdk.Capabilities{Commands: []string{"x."}})
	b.setCaps(sdk.Capabilities{Commands: []string{"x."}})
	p := newPipeline(t, Options{}, a, b)
	if pl, _ := p.Owner("x.y"); pl == nil || pl.Name() != "a" {
		t.Errorf("owner %v, want a (first in config order)", pl)
	}
}

func TestNoAllocationWhenNoModuleDeclaredTheHook(t *testing.T) {
	idle := newFake(t, "idle") // declares nothing: any call fails the test
	// Wants room changes only: a delivered message must not reach it.
	rooms := newFake(t, "rooms")
	rooms.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookNotify}, Notify: []sdk.NotificationKind{sdk.RoomChanged}})
	ctx := context.Background()
	ev, login, join, n := msg("hello"), sdk.LoginEvent{Name: "ann"}, sdk.JoinEvent{}, sdk.Notification{Kind: sdk.Delivered}
	filtered := newPipeline(t, Options{}, rooms)
	for name, p := range map[string]*Pipeline{"nil": nil, "none": newPipeline(t, Options{}), "idle": newPipeline(t, Options{}, idle), "other kinds": filtered} {
		allocs := testing.AllocsPerRun(1000, func() {
			if v, err := p.Message(ctx, ev, true); err != nil || v.Action != sdk.Pass {
				t.Fatal(v, err)
			}
			if _, err := p.Login(ctx, login); err != nil {
				t.Fatal(err)
			}
			if err := p.Join(ctx, join); err != nil {
				t.Fatal(err)
			}
			p.Notify(n)
			p.Quiet("dice.roll")
			p.Owner("dice.roll")
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, allocs)
		}
	}
	if q := len(filtered.streams[0].ch); q != 0 {
		t.Errorf("%d delivered notifications queued for a module that wants room changes only", q)
	}
	if d := filtered.droppedOf(t, "rooms"); d != 0 {
		t.Errorf("%v notifications dropped for a module that wants none of them", d)
	}
}

// A module that names its kinds gets those only, in order; one that names
// none gets every kind; a restart that names others takes effect on
// Refresh.
func TestNotifyOnlyTheKindsAModuleWants(t *testing.T) {
	type seen struct {
		kind sdk.NotificationKind
		room int64
	}
	fakes := map[string]*fake{}
	got := map[string]chan seen{}
	for name, kinds := range map[string][]sdk.NotificationKind{
		"rooms": {sdk.RoomChanged},
		"all":   nil,
		"queue": {sdk.MessageHeld, sdk.RoomChanged},
	} {
		f := newFake(t, name)
		f.setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookNotify}, Notify: kinds})
		ch := make(chan seen, 100)
		f.notify = func(_ context.Context, batch []sdk.Notification) error {
			for _, n := range batch {
				ch <- seen{n.Kind, n.Room}
			}
			return nil
		}
		fakes[name], got[name] = f, ch
	}
	p := newPipeline(t, Options{}, fakes["rooms"], fakes["all"], fakes["queue"])
	// upTo reads what name got until the marker (room 99).
	upTo := func(name string) []seen {
		t.Helper()
		var out []seen
		for {
			select {
			case s := <-got[name]:
				out = append(out, s)
				if s.room == 99 {
					return out
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: gave up waiting; got %v", name, out)
			}
		}
	}
	for i, k := range []sdk.NotificationKind{sdk.Joined, sdk.Delivered, sdk.RoomChanged, sdk.MessageHeld, sdk.Left} {
		p.Notify(sdk.Notification{Kind: k, Room: int64(i + 1)})
	}
	p.Notify(sdk.Notification{Kind: sdk.RoomChanged, Room: 99})
	want := map[string][]seen{
		"rooms": {{sdk.RoomChanged, 3}, {sdk.RoomChanged, 99}},
		"all":   {{sdk.Joined, 1}, {sdk.Delivered, 2}, {sdk.RoomChanged, 3}, {sdk.MessageHeld, 4}, {sdk.Left, 5}, {sdk.RoomChanged, 99}},
		"queue": {{sdk.RoomChanged, 3}, {sdk.MessageHeld, 4}, {sdk.RoomChanged, 99}},
	}
	for name, w := range want {
		if g := upTo(name); !slices.Equal(g, w) {
			t.Errorf("%s got %v, want %v", name, g, w)
		}
	}

	// "rooms" restarts and wants joins instead.
	fakes["rooms"].setCaps(sdk.Capabilities{Module: true, Hooks: []string{sdk.HookNotify}, Notify: []sdk.NotificationKind{sdk.Joined}})
	p.Refresh()
	p.Notify(sdk.Notification{Kind: sdk.RoomChanged, Room: 7})
	p.Notify(sdk.Notification{Kind: sdk.Joined, Room: 8})
	p.Notify(sdk.Notification{Kind: sdk.RoomChanged, Room: 99})
	p.Notify(sdk.Notification{Kind: sdk.Joined, Room: 99})
	if g, w := upTo("rooms"), []seen{{sdk.Joined, 8}, {sdk.Joined, 99}}; !slices.Equal(g, w) {
		t.Errorf("after Refresh rooms got %v, want %v", g, w)
	}
	if g, w := upTo("queue"), []seen{{sdk.RoomChanged, 7}, {sdk.RoomChanged, 99}}; !slices.Equal(g, w) {
		t.Errorf("after Refresh queue got %v, want %v", g, w)
	}
	if len(p.streams) != 3 {
		t.Errorf("%d streams after Refresh, want 3", len(p.streams))
	}
}

func TestCollectorsRegister(t *testing.T) {
	a := newFake(t, "a", sdk.HookMessage)
	a.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{}, errors.New("x")
	}
	p := newPipeline(t, Options{}, a)
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collectors()...)
	if _, err := p.Message(context.Background(), msg("hi"), false); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	if !slices.Contains(names, "parlor_module_hook_failures_total") {
		t.Errorf("metrics %v, want parlor_module_hook_failures_total", names)
	}
}

func TestAFailingModuleWarnsOnceAndCountsEveryFailure(t *testing.T) {
	down := newFake(t, "down", sdk.HookMessage)
	down.message = func(context.Context, sdk.MessageEvent) (sdk.MessageVerdict, error) {
		return sdk.MessageVerdict{}, ErrUnavailable
	}
	var warnings strings.Builder
	p := newPipeline(t, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &warnings})}, down)
	for range 20 {
		if _, err := p.Message(context.Background(), msg("hi"), false); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(warnings.String(), "module failed"); n != 1 {
		t.Errorf("%d warnings for 20 failures in a row, want 1:\n%s", n, warnings.String())
	}
	if n := p.failuresOf(t, "down", sdk.HookMessage); n != 20 {
		t.Errorf("failures{down,on_message} = %v, want 20", n)
	}
}
