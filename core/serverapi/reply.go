package serverapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Code is the result code of a reply; docs/server-api.md lists them.
type Code int

// Result codes.
const (
	CodeOK          Code = 0  // done
	CodeMalformed   Code = 1  // not a command: bad XML or JSON, too large, incomplete
	CodeUnknownType Code = 2  // no such command type
	CodeBadArgument Code = 3  // an attribute is missing, unknown or invalid
	CodeDenied      Code = 4  // wrong api_pwd, or the address is not allowed
	CodeDisabled    Code = 5  // the group has no api_pwd, so its API is off
	CodeNoSuchGroup Code = 6  // the group does not exist on this server
	CodeNotFound    Code = 7  // no such room, or the user is not online
	CodeBusy        Code = 8  // too many API connections at once
	CodeInternal    Code = 9  // the server failed (store error); see its log
	CodeTimeout     Code = 10 // the command did not arrive (or finish) in time
	CodeRateLimited Code = 11 // too many wrong api_pwd from the address; retry later
)

var codeNames = map[Code]string{
	CodeOK: "ok", CodeMalformed: "malformed", CodeUnknownType: "unknown_type",
	CodeBadArgument: "bad_argument", CodeDenied: "denied", CodeDisabled: "disabled",
	CodeNoSuchGroup: "no_such_group", CodeNotFound: "not_found", CodeBusy: "busy",
	CodeInternal: "internal", CodeTimeout: "timeout", CodeRateLimited: "rate_limited",
}

// String returns the code's name, such as "bad_argument".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "code_" + strconv.Itoa(int(c))
}

// HTTPStatus is the HTTP status the JSON twin answers with for c.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeOK:
		return http.StatusOK
	case CodeMalformed, CodeUnknownType, CodeBadArgument:
		return http.StatusBadRequest
	case CodeDenied, CodeDisabled:
		return http.StatusForbidden
	case CodeNoSuchGroup, CodeNotFound:
		return http.StatusNotFound
	case CodeBusy:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusGatewayTimeout
	case CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// Reply is the answer to one command: a code, a sentence and, for some
// commands, data.
type Reply struct {
	Code    Code
	Type    string // the command's type, when known
	Message string
	Count   *int       // connections reached (broadcast) or closed (stop_group)
	Room    *Room      // add_room, edit_room, del_room
	Rooms   []Room     // get_rooms (non-nil, possibly empty)
	Users   *RoomUsers // get_room_users
	Online  *Online    // get_online
	// Sanction is the sanction ban and mute added; Sanctions those
	// get_sanctions lists and unban and unmute lifted.
	Sanction  *Sanction
	Sanctions []Sanction
	Held      []Held       // get_held; approve: the published message
	Audit     []AuditEntry // get_audit
	// RetryAfter, with CodeRateLimited, is how long until the address may
	// try again (retry_after_ms in XML and JSON, Retry-After over HTTP).
	RetryAfter time.Duration
}

// Room is a room in a reply. The password is never sent; Locked tells
// whether there is one.
type Room struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	Owner          string `json:"owner"`
	Desc           string `json:"desc"`
	Max            int    `json:"max"`
	Speaker        string `json:"speaker"`
	Member         bool   `json:"member"`
	Locked         bool   `json:"locked"`
	PassAllMessage bool   `json:"passallmessage"`
	Open           bool   `json:"en"`
	ST             int    `json:"st"`
	Welcome        string `json:"wm"`
	Audio          bool   `json:"audio"`
	Video          bool   `json:"video"`
	Whiteboard     bool   `json:"wb"`
	Count          int    `json:"count"` // users in the room
	// The opening times, for a room that has them: the entries, the zone
	// they are read in, the state ("open", "closed", or "off" while no
	// module applies them) and the next change (RFC 3339 in the zone):
	// Opens while closed, Closes while open.
	Times    []OpenTime `json:"roomOpen,omitempty"`
	Zone     string     `json:"tz,omitempty"`
	Schedule string     `json:"schedule,omitempty"`
	Opens    string     `json:"opens,omitempty"`
	Closes   string     `json:"closes,omitempty"`
}

// RoomUsers is the user list of a room.
type RoomUsers struct {
	Room  int64    `json:"room"`
	Users []string `json:"users"`
}

// Online holds the numbers of online.txt.
type Online struct {
	Connections int `json:"connections"`
	Users       int `json:"users"`
	Rooms       int `json:"rooms"`
}

// Fail builds an error reply.
func Fail(code Code, format string, a ...any) Reply {
	return Reply{Code: code, Message: fmt.Sprintf(format, a...)}
}

// failErr builds an error reply whose message is err, ended with a period.
// Attribute names at its start keep their case.
func failErr(code Code, err error) Reply {
	msg := err.Error()
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return Reply{Code: code, Message: msg}
}

// XML renders the reply as an XML document, one element a line:
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<Result code="0" type="add_room" message="Room 7 added.">
//	<Room id="7" name="test room" .../>
//	</Result>
func (r Reply) XML() []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Result")
	attr(&b, "code", strconv.Itoa(int(r.Code)))
	if r.Type != "" {
		attr(&b, "type", r.Type)
	}
	attr(&b, "message", r.Message)
	if r.Count != nil {
		attr(&b, "count", strconv.Itoa(*r.Count))
	}
	if r.RetryAfter > 0 {
		attr(&b, "retry_after_ms", strconv.FormatInt(r.RetryAfter.Milliseconds(), 10))
	}
	if r.Room == nil && r.Rooms == nil && r.Users == nil && r.Online == nil && r.Sanction == nil &&
		r.Sanctions == nil && r.Held == nil && r.Audit == nil {
		b.WriteString("/>\n")
		return b.Bytes()
	}
	b.WriteString(">\n")
	if r.Room != nil {
		r.Room.xml(&b)
	}
	for _, room := range r.Rooms {
		room.xml(&b)
	}
	if u := r.Users; u != nil {
		b.WriteString("<Users")
		attr(&b, "room", strconv.FormatInt(u.Room, 10))
		attr(&b, "count", strconv.Itoa(len(u.Users)))
		if len(u.Users) == 0 {
			b.WriteString("/>\n")
		} else {
			b.WriteString(">\n")
			for _, name := range u.Users {
				b.WriteString("<User")
				attr(&b, "name", name)
				b.WriteString("/>\n")
			}
			b.WriteString("</Users>\n")
		}
	}
	if o := r.Online; o != nil {
		b.WriteString("<Online")
		attr(&b, "connections", strconv.Itoa(o.Connections))
		attr(&b, "users", strconv.Itoa(o.Users))
		attr(&b, "rooms", strconv.Itoa(o.Rooms))
		b.WriteString("/>\n")
	}
	if r.Sanction != nil {
		r.Sanction.xml(&b)
	}
	for _, s := range r.Sanctions {
		s.xml(&b)
	}
	for _, h := range r.Held {
		h.xml(&b)
	}
	for _, e := range r.Audit {
		e.xml(&b)
	}
	b.WriteString("</Result>\n")
	return b.Bytes()
}

func (r Room) xml(b *bytes.Buffer) {
	bit := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	b.WriteString("<Room")
	attr(b, "id", strconv.FormatInt(r.ID, 10))
	attr(b, "name", r.Name)
	attr(b, "owner", r.Owner)
	attr(b, "desc", r.Desc)
	attr(b, "max", strconv.Itoa(r.Max))
	attr(b, "speaker", r.Speaker)
	attr(b, "member", bit(r.Member))
	attr(b, "locked", bit(r.Locked))
	attr(b, "passallmessage", bit(r.PassAllMessage))
	attr(b, "en", bit(r.Open))
	attr(b, "st", strconv.Itoa(r.ST))
	attr(b, "wm", r.Welcome)
	attr(b, "audio", bit(r.Audio))
	attr(b, "video", bit(r.Video))
	attr(b, "wb", bit(r.Whiteboard))
	attr(b, "count", strconv.Itoa(r.Count))
	if r.Schedule == "" {
		b.WriteString("/>\n")
		return
	}
	attr(b, "tz", r.Zone)
	attr(b, "schedule", r.Schedule)
	if r.Opens != "" {
		attr(b, "opens", r.Opens)
	}
	if r.Closes != "" {
		attr(b, "closes", r.Closes)
	}
	b.WriteString(">\n<roomOpen>\n")
	for _, t := range r.Times {
		b.WriteString("<Time")
		attr(b, "o", t.O)
		attr(b, "s", t.S)
		attr(b, "e", t.E)
		b.WriteString("/>\n")
	}
	b.WriteString("</roomOpen>\n</Room>\n")
}

// replyJSON is the JSON form of a Reply.
type replyJSON struct {
	Code    Code       `json:"code"`
	Status  string     `json:"status"`
	Type    string     `json:"type,omitempty"`
	Message string     `json:"message"`
	Count   *int       `json:"count,omitempty"`
	Room    *Room      `json:"room,omitempty"`
	Rooms   *[]Room    `json:"rooms,omitempty"`
	Users   *RoomUsers `json:"users,omitempty"`
	Online  *Online    `json:"online,omitempty"`
	// Sanction, Sanctions, Held and Audit are the moderation commands'.
	Sanction  *Sanction     `json:"sanction,omitempty"`
	Sanctions *[]Sanction   `json:"sanctions,omitempty"`
	Held      *[]Held       `json:"held,omitempty"`
	Audit     *[]AuditEntry `json:"audit,omitempty"`
	// RetryAfterMS is Reply.RetryAfter in milliseconds.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// MarshalJSON renders the reply as the JSON twin's answer:
// {"code":0,"status":"ok","type":"add_room","message":"...","room":{...}}.
func (r Reply) MarshalJSON() ([]byte, error) {
	j := replyJSON{Code: r.Code, Status: r.Code.String(), Type: r.Type, Message: r.Message,
		Count: r.Count, Room: r.Room, Users: r.Users, Online: r.Online, RetryAfterMS: r.RetryAfter.Milliseconds()}
	if r.Rooms != nil {
		j.Rooms = &r.Rooms
	}
	j.Sanction = r.Sanction
	if r.Sanctions != nil {
		j.Sanctions = &r.Sanctions
	}
	if r.Held != nil {
		j.Held = &r.Held
	}
	if r.Audit != nil {
		j.Audit = &r.Audit
	}
	return json.Marshal(j)
}

// ReplyCode reads the result code of an XML reply document (for clients
// such as parlorctl).
func ReplyCode(doc []byte) (Code, string, error) {
	doc = bytes.TrimRight(doc, "\x00\r\n\t ")
	dec := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return 0, "", fmt.Errorf("read reply: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "Result" {
				return 0, "", fmt.Errorf("read reply: root element <%s>, want <Result>", se.Name.Local)
			}
			var code Code = -1
			var msg string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "code":
					n, err := strconv.Atoi(a.Value)
					if err != nil {
						return 0, "", fmt.Errorf("read reply: code %q: %w", a.Value, err)
					}
					code = Code(n)
				case "message":
					msg = a.Value
				}
			}
			if code < 0 {
				return 0, "", fmt.Errorf("read reply: <Result> has no code")
			}
			return code, msg, nil
		}
	}
}
