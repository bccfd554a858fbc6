package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/modules"
	"github.com/parlorchat/parlor/sdk"
)

// Modules are the module hooks the session calls; *modules.Pipeline is
// one (a nil *modules.Pipeline too: it runs no module).
type Modules interface {
	// Login asks the login hooks; an error refuses the login.
	Login(ctx context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error)
	// Join asks the join hooks; an error refuses the join.
	Join(ctx context.Context, ev sdk.JoinEvent) error
	// Message asks the message hooks; failClosed refuses the message
	// while a module is down or late.
	Message(ctx context.Context, ev sdk.MessageEvent, failClosed bool) (sdk.MessageVerdict, error)
	// HasMessageHooks reports whether Message asks any module.
	HasMessageHooks() bool
	// Owner returns the module owning a command type.
	Owner(typ string) (modules.Plugin, bool)
	// Command has the owner of cmd's prefix answer it.
	Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error)
}

// Holder keeps a message a module held until a moderator releases or
// declines it, and returns its id.
type Holder interface {
	Hold(ctx context.Context, msg chat.Message, note string) (int64, error)
}

// moduleRefusal turns what a module hook or command returned into the
// error the user sees: a *chat.Error as it is, an *sdk.Refusal with its
// code (refused when it has none), and anything else as module_error
// naming module (or "A module" when unknown).
func moduleRefusal(module string, err error) error {
	var ce *chat.Error
	if errors.As(err, &ce) {
		return ce
	}
	var r *sdk.Refusal
	if errors.As(err, &r) {
		code := r.Code
		if code == "" {
			code = chat.CodeRefused
		}
		msg := r.Message
		if msg == "" {
			msg = "A module refused the request."
		}
		return &chat.Error{Code: code, Message: msg}
	}
	who := "A module"
	if module != "" {
		who = "The " + module + " module"
	}
	return chat.Errorf(chat.CodeModuleError, "%s could not answer; try again.", who)
}

// Sentences of a hook that failed (an error that is not a refusal):
// the pipeline fails open unless the hook must decide, so an error that
// reaches the session means the decision could not be made.
const (
	loginUnavailable   = "A module that checks logins is not available; please try again later."
	joinUnavailable    = "A module that checks who enters rooms is not available; please try again later."
	messageUnavailable = "The moderation module is not available; your message was not sent."
)

// hookRefusal is moduleRefusal for the decision hooks: an error that is
// neither a *chat.Error nor an *sdk.Refusal is module_unavailable with
// the sentence unavailable.
func hookRefusal(err error, unavailable string) error {
	var ce *chat.Error
	var r *sdk.Refusal
	if errors.As(err, &ce) || errors.As(err, &r) {
		return moduleRefusal("", err)
	}
	return &chat.Error{Code: chat.CodeModuleUnavailable, Message: unavailable}
}

// caller is the member as hooks and commands see it, with its role in
// the room whose definition is info.
func (c *Client) caller(info chat.RoomInfo) sdk.Caller {
	m := c.member
	return sdk.Caller{
		Name: m.Name, Display: m.Display, Role: chat.RoleIn(m, info),
		IP: c.ip, Room: c.n.group.RoomOf(m),
	}
}

// callerHere is caller with the role in the member's current room (the
// server role outside rooms).
func (c *Client) callerHere() sdk.Caller {
	room := c.n.group.RoomOf(c.member)
	info, _ := c.n.group.RoomInfo(room)
	cl := c.caller(info)
	cl.Room = room
	return cl
}

// loginHook asks the modules about a login and applies their changes.
func (c *Client) loginHook(id auth.Identity) (auth.Identity, error) {
	h := c.n.opts.Hooks
	if h == nil {
		return id, nil
	}
	v, err := h.Login(c.ctx, sdk.LoginEvent{
		Name: id.Name, Display: id.Display, Email: id.Email, Avatar: id.Avatar,
		Admin: id.Admin, Guest: id.Guest, IP: c.ip, By: id.By,
	})
	if err != nil {
		return id, hookRefusal(err, loginUnavailable)
	}
	if v.Deny {
		return id, refusalCode(chat.CodeRefused, v.Reason, "A module refused the login.")
	}
	if v.Display != "" {
		id.Display = v.Display
	}
	switch v.Role {
	case sdk.RoleAdmin:
		id.Admin = true
	case sdk.RoleUser:
		id.Admin = false
	}
	return id, nil
}

// joinHook asks the modules whether the member may enter room.
func (c *Client) joinHook(room int64) error {
	h := c.n.opts.Hooks
	if h == nil {
		return nil
	}
	info, ok := c.n.group.RoomInfo(room)
	view, _ := c.n.group.Room(room)
	if !ok {
		return nil // the group refuses it
	}
	if err := h.Join(c.ctx, sdk.JoinEvent{User: c.caller(info), Room: view}); err != nil {
		return hookRefusal(err, joinUnavailable)
	}
	return nil
}

// say publishes a public message: limits, mute, the message hooks, then
// the group.
func (c *Client) say(req request) error {
	if err := c.allowMessage(); err != nil {
		return err
	}
	g, m := c.n.group, c.member
	h := c.n.opts.Hooks
	if h == nil || !h.HasMessageHooks() {
		_, err := g.Say(m, req.Text, req.Style, req.Emotion)
		return err
	}
	room := g.RoomOf(m)
	if room == 0 {
		return chat.Errorf(chat.CodeNotInRoom, "Join a room before you speak.")
	}
	if err := g.Muted(m, room); err != nil {
		return err
	}
	text, err := g.CleanText(req.Text)
	if err != nil {
		return err
	}
	info, _ := g.RoomInfo(room)
	style := chat.CleanStyle(req.Style)
	cl := c.caller(info)
	cl.Room = room
	ev := sdk.MessageEvent{From: cl, Room: room, Text: text, Style: style}
	c.afterHooks(req, ev, info.PassAllMessage, func(v sdk.MessageVerdict) error {
		if v.Action == sdk.Hold {
			text, style := text, style
			if v.Text != "" { // the message as the modules before the holder left it
				text, style = v.Text, chat.CleanStyle(v.Style)
			}
			return c.hold(req, chat.Message{Group: g.Name(), RoomID: room, From: m.Name, Text: text, Style: style, Emotion: chat.CleanEmotion(req.Emotion)}, v.Note)
		}
		text, style, send, err := c.verdict(v, text, style)
		if !send {
			return err
		}
		_, err = g.Say(m, text, style, req.Emotion)
		return err
	})
	return nil
}

// verdict applies a message verdict other than a hold: the text and style
// to deliver, or send false with the refusal the author gets (nil for a
// silent drop).
func (c *Client) verdict(v sdk.MessageVerdict, text string, style chat.Style) (_ string, _ chat.Style, send bool, _ error) {
	switch v.Action {
	case sdk.Pass:
		return text, style, true, nil
	case sdk.Modify:
		return v.Text, chat.CleanStyle(v.Style), true, nil
	case sdk.Hold: // private messages are not held
		return "", style, false, refusalCode(chat.CodeRejected, v.Note, "A module refused the message.")
	case sdk.Reject:
		return "", style, false, refusalCode(chat.CodeRejected, v.Reason, "A module refused the message.")
	case sdk.Drop:
		return "", style, false, nil
	}
	c.n.log.Warn("message verdict with an unknown action", "action", v.Action)
	return "", style, false, &chat.Error{Code: chat.CodeModuleUnavailable, Message: messageUnavailable}
}

// afterHooks asks the message hooks about ev without waiting for them and
// then applies their verdict, in the order the client said its messages
// (order.go); an error is answered to the request.
func (c *Client) afterHooks(req request, ev sdk.MessageEvent, failClosed bool, apply func(sdk.MessageVerdict) error) {
	seq := c.order.start()
	go func() {
		v, err := c.n.opts.Hooks.Message(c.ctx, ev, failClosed)
		c.order.finish(seq, func() {
			if err != nil {
				err = hookRefusal(err, messageUnavailable)
			} else {
				err = apply(v)
			}
			if err != nil {
				c.reply(chat.ErrorEventOf(req.ID, err))
			}
		})
	}()
}

// refusalCode is an error with code and reason, or def when the reason
// is empty.
func refusalCode(code, reason, def string) error {
	if reason == "" {
		reason = def
	}
	return &chat.Error{Code: code, Message: reason}
}

// hold keeps msg for a moderator and tells the author.
func (c *Client) hold(req request, msg chat.Message, note string) error {
	if c.n.opts.Holder == nil {
		c.n.log.Warn("a module held a message but the server keeps no held messages", "user", msg.From, "room", msg.RoomID)
		return refusalCode(chat.CodeRejected, note, "A module held the message and this server cannot keep it.")
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.n.opts.CallTimeout)
	defer cancel()
	id, err := c.n.opts.Holder.Hold(ctx, msg, note)
	if err != nil {
		c.n.log.Warn("hold message failed", "user", msg.From, "room", msg.RoomID, "error", err)
		return chat.Errorf(chat.CodeModuleUnavailable, "The message was held for a moderator but could not be kept; it was not sent.")
	}
	c.reply(chat.HeldEvent{Type: "held", ID: req.ID, Room: msg.RoomID, Held: id, Note: note})
	return nil
}

// private sends a private message: limits, mute, the message hooks, then
// the group. A hold is a refusal: private messages are not held.
func (c *Client) private(req request) error {
	if req.To == "" {
		return chat.Errorf(chat.CodeBadRequest, "A private message needs a recipient (to).")
	}
	if err := c.allowMessage(); err != nil {
		return err
	}
	if err := c.allowPM(req.To); err != nil {
		return err
	}
	g, m := c.n.group, c.member
	h := c.n.opts.Hooks
	if h == nil || !h.HasMessageHooks() {
		return g.Private(m, req.To, req.Text, req.Style, req.Emotion)
	}
	if err := g.Muted(m, 0); err != nil {
		return err
	}
	text, err := g.CleanText(req.Text)
	if err != nil {
		return err
	}
	style := chat.CleanStyle(req.Style)
	ev := sdk.MessageEvent{From: c.callerHere(), To: req.To, Text: text, Style: style}
	c.afterHooks(req, ev, false, func(v sdk.MessageVerdict) error {
		text, style, send, err := c.verdict(v, text, style)
		if !send {
			return err
		}
		return g.Private(m, req.To, text, style, req.Emotion)
	})
	return nil
}

// command routes a module command (a type containing '.') to the module
// owning its prefix and answers with its result.
func (c *Client) command(req request, raw []byte) error {
	h := c.n.opts.Hooks
	var (
		owner modules.Plugin
		ok    bool
	)
	if h != nil {
		owner, ok = h.Owner(req.Type)
	}
	if !ok {
		return chat.Errorf(chat.CodeUnknownCommand, "No module answers %q.", req.Type)
	}
	cl := c.callerHere()
	room := req.Room
	if room == 0 {
		room = cl.Room
	}
	if room != 0 && room != cl.Room {
		// A room the caller is not in: not one they are kept out of.
		if err := c.n.group.EntrySanctions(c.member, room); err != nil {
			return err
		}
	}
	if !quiet(owner.Capabilities().Quiet, req.Type) {
		if err := c.n.group.Muted(c.member, room); err != nil {
			return err
		}
	}
	if room != cl.Room {
		info, _ := c.n.group.RoomInfo(room)
		cl.Role = chat.RoleIn(c.member, info)
	}
	reply, err := h.Command(c.ctx, sdk.Command{Type: req.Type, Caller: cl, Room: room, Data: append([]byte(nil), raw...)})
	if err != nil {
		return moduleRefusal(owner.Name(), err)
	}
	if len(reply.Data) > 0 && !json.Valid(reply.Data) {
		return moduleRefusal(owner.Name(), fmt.Errorf("command %s: the reply is not JSON", req.Type))
	}
	c.reply(chat.ResultEvent{Type: "result", ID: req.ID, Data: reply.Data})
	return nil
}

// quiet reports whether typ is one of the command types (or prefixes
// ending in '.') a muted user may still send.
func quiet(list []string, typ string) bool {
	for _, q := range list {
		if q == typ || (len(q) > 0 && q[len(q)-1] == '.' && len(typ) > len(q) && typ[:len(q)] == q) {
			return true
		}
	}
	return false
}
