package hostapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// checkText accepts valid UTF-8 of at most max characters without
// control characters.
func checkText(what, s string, max int) error {
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid("%s is too long (%d characters, at most %d)", what, n, max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return invalid("%s has a control character", what)
	}
	return nil
}

// checkEmotion accepts "" and the seed's emoticons "e1".."e32".
func checkEmotion(e string) error {
	if e == "" {
		return nil
	}
	if chat.CleanEmotion(e) == e {
		return nil
	}
	return invalid("emotion %q is not e1 to e32", e)
}

type messages struct{ h *host }

// send delivers f to the audience and returns how many users got it.
func (m messages) send(c Chat, to sdk.Audience, f *chat.Frame) (int, error) {
	switch to.Kind {
	case "user":
		if to.User == "" {
			return 0, invalid("give the user's name")
		}
		if !c.SendUser(to.User, f) {
			return 0, notFound("%q is not online", to.User)
		}
		return 1, nil
	case "room", "moderators":
		if _, ok := c.RoomInfo(to.Room); !ok {
			return 0, notFound("there is no room %d", to.Room)
		}
		if to.Kind == "moderators" {
			return c.SendModerators(to.Room, f), nil
		}
		n, err := c.SendRoom(to.Room, f)
		return n, chatErr(err)
	case "all":
		return c.SendAll(f), nil
	}
	return 0, invalid("audience %q is not user, room, moderators or all", to.Kind)
}

func (m messages) Notice(ctx context.Context, to sdk.Audience, text string) (int, error) {
	c, err := m.h.chat()
	if err != nil {
		return 0, err
	}
	if text == "" {
		return 0, invalid("the notice is empty")
	}
	if len(text) > MaxNoticeBytes || !utf8.ValidString(text) {
		return 0, invalid("a notice must be valid UTF-8 of at most %d bytes", MaxNoticeBytes)
	}
	n, err := m.send(c, to, chat.NewFrame(chat.NoticeEvent{Type: "notice", Text: text}))
	if err != nil {
		return 0, err
	}
	return n, ctx.Err()
}

// checkEventType accepts a type that starts with one of the plugin's
// command prefixes and goes on after it.
func (m messages) checkEventType(typ string) error {
	if typ == "" || len(typ) > MaxEventTypeBytes {
		return invalid("an event type must be 1 to %d bytes", MaxEventTypeBytes)
	}
	for _, r := range typ {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return invalid("event type %q has a character other than letters, digits, '.', '_' and '-'", typ)
		}
	}
	var prefixes []string
	if m.h.api.opts.Prefixes != nil {
		prefixes = m.h.api.opts.Prefixes(m.h.plugin)
	}
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(typ, p) && len(typ) > len(p) {
			return nil
		}
	}
	if len(prefixes) == 0 {
		return denied("event type %q: the %s module declared no command prefix, so it sends no events", typ, m.h.plugin)
	}
	return denied("event type %q does not start with a prefix the %s module owns (%s)", typ, m.h.plugin, strings.Join(prefixes, ", "))
}

func (m messages) Event(ctx context.Context, to sdk.Audience, ev sdk.Event) (int, error) {
	c, err := m.h.chat()
	if err != nil {
		return 0, err
	}
	if err := m.checkEventType(ev.Type); err != nil {
		return 0, err
	}
	if len(ev.Data) > MaxEventBytes {
		return 0, invalid("event data must be at most %d bytes", MaxEventBytes)
	}
	if len(ev.Data) > 0 && !json.Valid(ev.Data) {
		return 0, invalid("event data is not a JSON value")
	}
	if to.Kind == "room" || to.Kind == "moderators" {
		ev.Room = to.Room
	}
	if ev.Room < 0 {
		return 0, invalid("room %d is not a room id", ev.Room)
	}
	f := chat.NewFrame(chat.ModuleEvent{Type: ev.Type, Module: m.h.plugin, Room: ev.Room, Data: json.RawMessage(ev.Data)})
	n, err := m.send(c, to, f)
	if err != nil {
		return 0, err
	}
	return n, ctx.Err()
}

func (m messages) SayAs(ctx context.Context, s sdk.Say) (sdk.Message, error) {
	c, err := m.h.chat()
	if err != nil {
		return sdk.Message{}, err
	}
	var errs []error
	if err := checkName(s.From); err != nil {
		errs = append(errs, err)
	}
	if s.Room <= 0 {
		errs = append(errs, invalid("give the room (a positive id)"))
	}
	if s.Text == "" {
		errs = append(errs, invalid("the message is empty"))
	}
	errs = append(errs, checkEmotion(s.Emotion))
	if err := errors.Join(errs...); err != nil {
		return sdk.Message{}, err
	}
	msg, err := c.SayAs(s.From, s.Room, s.Text, s.Style, s.Emotion)
	if err != nil {
		return sdk.Message{}, chatErr(err)
	}
	m.h.api.log.Debug("message said as a user", "plugin", m.h.plugin, "user", s.From, "room", s.Room, "id", msg.ID)
	return msg.SDK(), ctx.Err()
}
