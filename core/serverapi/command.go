// Package serverapi is Parlor's server API: one command dispatcher behind
// two transports, XML commands over TCP (the seed's format, one command per
// connection, terminated by a zero byte) and their JSON twin under /api/v1
// on the HTTP listener. Commands add, edit and delete rooms, broadcast, send
// private messages, stop and start the group and query numbers and lists.
// docs/server-api.md is the reference.
package serverapi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"

	"github.com/parlorchat/parlor/sdk/schedule"
)

// Limits of a decoded command.
const (
	// DefaultMaxFrameBytes is the largest command the transports accept
	// unless configured otherwise.
	DefaultMaxFrameBytes = 64 << 10
	// maxAttrs bounds the attributes of one command.
	maxAttrs = 64
	// maxTimes bounds the roomOpen/Time entries of one command.
	maxTimes = 64
)

// Command is one server API command.
type Command struct {
	Group    string            // the group it applies to; empty means the default group
	Password string            // api_pwd
	Type     string            // add_room, del_room, ...
	Attrs    map[string]string // the other attributes, by name
	Times    []OpenTime        // roomOpen/Time children (add_room, edit_room)
	// HasTimes is true when the command has a roomOpen (XML) or roomOpen
	// key (JSON), even an empty one: edit_room with an empty <roomOpen/>
	// removes the room's opening times.
	HasTimes bool
	// Remote is the client's address, set by the transport; the allowed
	// addresses of the group are checked against it.
	Remote netip.Addr
}

// OpenTime is one roomOpen/Time entry of add_room and edit_room: on day
// o ("day1" to "day7", "daily", "special" or "hourly") from s to e; the
// schedule package reads it.
type OpenTime = schedule.Entry

// decoding states of DecodeFrame
const (
	stBefore   = iota // before the root element
	stCommand         // inside <Command>
	stRoomOpen        // inside <roomOpen>
	stTime            // inside <Time>
	stAfter           // after </Command>
)

// DecodeFrame parses one XML command frame (the zero byte that ends it may
// be included). It accepts the XML declaration, comments and white space
// around the single <Command> element; a DOCTYPE, other processing
// instructions, text or unknown child elements are errors.
func DecodeFrame(frame []byte) (Command, error) {
	frame = bytes.TrimSuffix(frame, []byte{0})
	if len(bytes.TrimSpace(frame)) == 0 {
		return Command{}, errors.New("empty command")
	}
	dec := xml.NewDecoder(bytes.NewReader(frame))
	dec.Strict = true
	var cmd Command
	state := stBefore
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Command{}, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if state != stBefore || t.Target != "xml" {
				return Command{}, fmt.Errorf("unexpected processing instruction <?%s?>", t.Target)
			}
		case xml.Directive:
			return Command{}, errors.New("a DOCTYPE or other directive is not allowed")
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return Command{}, fmt.Errorf("unexpected text %q", clip(string(bytes.TrimSpace(t)), 40))
			}
		case xml.StartElement:
			if t.Name.Space != "" {
				return Command{}, fmt.Errorf("element <%s> has a namespace; none is expected", t.Name.Local)
			}
			switch {
			case state == stBefore && t.Name.Local == "Command":
				if err := cmd.setAttrs(t.Attr); err != nil {
					return Command{}, err
				}
				state = stCommand
			case state == stBefore:
				return Command{}, fmt.Errorf("the root element is <%s>, want <Command>", t.Name.Local)
			case state == stCommand && t.Name.Local == "roomOpen":
				if len(t.Attr) > 0 {
					return Command{}, errors.New("<roomOpen> takes no attributes")
				}
				if cmd.HasTimes {
					return Command{}, errors.New("<roomOpen> is given twice")
				}
				cmd.HasTimes = true
				state = stRoomOpen
			case state == stRoomOpen && t.Name.Local == "Time":
				ot, err := openTime(t.Attr)
				if err != nil {
					return Command{}, err
				}
				if len(cmd.Times) >= maxTimes {
					return Command{}, fmt.Errorf("more than %d <Time> elements", maxTimes)
				}
				cmd.Times = append(cmd.Times, ot)
				state = stTime
			case state == stAfter:
				return Command{}, fmt.Errorf("unexpected <%s> after </Command>", t.Name.Local)
			default:
				return Command{}, fmt.Errorf("unexpected element <%s>", t.Name.Local)
			}
		case xml.EndElement:
			// The decoder has checked that end tags match start tags.
			switch state {
			case stTime:
				state = stRoomOpen
			case stRoomOpen:
				state = stCommand
			case stCommand:
				state = stAfter
			}
		}
	}
	switch state {
	case stBefore:
		return Command{}, errors.New("no <Command> element")
	case stAfter:
		return cmd, nil
	default:
		return Command{}, errors.New("malformed XML: the <Command> element is not closed")
	}
}

func (c *Command) setAttrs(attrs []xml.Attr) error {
	if len(attrs) > maxAttrs {
		return fmt.Errorf("more than %d attributes", maxAttrs)
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		name := a.Name.Local
		if a.Name.Space != "" {
			name = a.Name.Space + ":" + name
		}
		if seen[name] {
			return fmt.Errorf("attribute %s is given twice", name)
		}
		seen[name] = true
		switch name {
		case "group":
			c.Group = a.Value
		case "api_pwd":
			c.Password = a.Value
		case "type":
			c.Type = a.Value
		default:
			if a.Name.Space != "" {
				return fmt.Errorf("attribute %s has a namespace; none is expected", name)
			}
			if c.Attrs == nil {
				c.Attrs = map[string]string{}
			}
			c.Attrs[name] = a.Value
		}
	}
	return nil
}

func openTime(attrs []xml.Attr) (OpenTime, error) {
	var ot OpenTime
	seen := map[string]bool{}
	for _, a := range attrs {
		if a.Name.Space != "" || seen[a.Name.Local] {
			return OpenTime{}, fmt.Errorf("<Time> attribute %s is repeated or has a namespace", a.Name.Local)
		}
		seen[a.Name.Local] = true
		switch a.Name.Local {
		case "o":
			ot.O = a.Value
		case "s":
			ot.S = a.Value
		case "e":
			ot.E = a.Value
		default:
			return OpenTime{}, fmt.Errorf("<Time> has an unknown attribute %s (known: o, s, e)", a.Name.Local)
		}
	}
	return ot, nil
}

// EncodeCommand renders c as an XML command frame without the ending zero
// byte: the XML declaration, then <Command> with group, api_pwd and type
// first and the other attributes in name order. Remote is not encoded.
func EncodeCommand(c Command) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Command`)
	attr(&b, "group", c.Group)
	attr(&b, "api_pwd", c.Password)
	attr(&b, "type", c.Type)
	names := make([]string, 0, len(c.Attrs))
	for k := range c.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		attr(&b, k, c.Attrs[k])
	}
	if len(c.Times) == 0 && !c.HasTimes {
		b.WriteString("/>")
		return b.Bytes()
	}
	b.WriteString("><roomOpen>")
	for _, t := range c.Times {
		b.WriteString("<Time")
		attr(&b, "o", t.O)
		attr(&b, "s", t.S)
		attr(&b, "e", t.E)
		b.WriteString("/>")
	}
	b.WriteString("</roomOpen></Command>")
	return b.Bytes()
}

// attr writes ` name="value"` with the value escaped for an attribute.
func attr(b *bytes.Buffer, name, value string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	_ = xml.EscapeText(b, []byte(value)) // writes to a bytes.Buffer never fail
	b.WriteByte('"')
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
