// Command parlorctl is the operator's command line for a running Parlor.
//
//	parlorctl health [--url http://127.0.0.1:8080]
//	parlorctl TYPE [key=value ...] [--addr 127.0.0.1:51127] [--group default] [--password P]
//	parlorctl --raw '<Command .../>' [--addr 127.0.0.1:51127]
//	parlorctl --help | --version
//
// Flags may come before or after the command and its arguments.
//
// health prints the server's /healthz report and exits non-zero when the
// server is unhealthy or unreachable.
//
// TYPE sends a server API command (docs/server-api.md) over TCP: add_room,
// edit_room, del_room, broadcast, private_message, start_group, stop_group,
// get_online, get_rooms, get_room_users, and the moderation commands kick,
// ban, unban, mute, unmute, get_sanctions, get_held, approve, decline and
// get_audit. Each key=value becomes an
// attribute; time=o,s,e adds a roomOpen/Time entry (time=none sends an
// empty roomOpen). The password comes from
// --password or the PARLOR_API_PASSWORD environment variable. --raw sends
// an XML command as it is. The reply is printed indented (--plain prints it
// as received).
//
// Exit status: 0 done (or --help, --version), 1 the server could not be
// reached or answered something unreadable, 2 bad usage, 3 the server
// answered with an error code.
package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/core/version"
)

// PasswordEnv is the environment variable holding the API password.
const PasswordEnv = "PARLOR_API_PASSWORD"

// maxReply bounds the reply read from the server.
const maxReply = 16 << 20

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

// Error returns the explanation.
func (e usageError) Error() string { return e.msg }

// resultError is an error code answered by the server (exit status 3).
type resultError struct {
	code serverapi.Code
	msg  string
}

// Error names the code and gives the server's message.
func (e resultError) Error() string {
	return fmt.Sprintf("server answered code %d (%s): %s", int(e.code), e.code, e.msg)
}

func main() {
	err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parlorctl:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the exit status for the outcome err of run.
func exitCode(err error) int {
	var ue usageError
	var re resultError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &re):
		return 3
	default:
		return 1
	}
}

const usage = `usage:
  parlorctl health [--url URL]
  parlorctl TYPE [key=value ...] [time=o,s,e ...] [--addr HOST:PORT] [--group G] [--password P]
  parlorctl --raw '<Command .../>' [--addr HOST:PORT]
  parlorctl --help | --version
Run parlorctl --help for the commands and flags.`

const help = `Usage:
  parlorctl health [--url URL]
  parlorctl TYPE [key=value ...] [time=o,s,e ...] [--addr HOST:PORT] [--group G] [--password P]
  parlorctl --raw '<Command .../>' [--addr HOST:PORT]
  parlorctl --help | --version

The operator's command line for a running Parlor. Flags may come before or
after the command.

Commands:
  health           print the server's /healthz report (from --url); fail when unhealthy
  add_room         add a room: name=... [max=... member=... en=... pwd=... ...]
  edit_room        change a room: room_id=... and the properties to change
  del_room         delete a room: room_id=...
  broadcast        send a notice to everyone: msg=... userid=(the sender's name)
  private_message  send a private message: dest_uid=... msg=...
  start_group      open the group to logins
  stop_group       close the group and disconnect everyone [msg=...]
  get_online       print the numbers of connections, users and rooms
  get_rooms        list the rooms
  get_room_users   list a room's users: room_id=...
  kick             kick a user out of a room: user=... room_id=... [reason=... minutes=(cooldown)]
  ban              ban a user and/or an address: user=... and/or ip=(IP or CIDR) [room_id=(0: all)
                   minutes=(0: permanent) or until=RFC3339, reason=... actor=...]
  unban            lift bans: id=... or user=.../ip=... [room_id=...]
  mute             mute a user: user=... [room_id=(0: everywhere) minutes=... reason=...]
  unmute           lift mutes: id=... or user=... [room_id=...]
  get_sanctions    list sanctions [kind=... user=... ip=... room_id=... active=0 (all, not only in force)]
  get_held         list the messages held for a moderator [room_id=...]
  approve          publish a held message: id=... [text=(edited text) actor=...]
  decline          decline a held message: id=... [reason=... actor=...]
  get_audit        list the moderation log, newest first [room_id= target= action= since=RFC3339 limit=]
The server API commands (all but health) go to --addr over TCP with the
password of --password or $` + PasswordEnv + `; docs/server-api.md describes
their attributes. time=o,s,e adds an opening time (day2,00:00:00,10:00:00);
edit_room with time=none removes a room's opening times.

Exit status: 0 done, 1 server unreachable or reply unreadable, 2 bad usage,
3 the server answered with an error code.

Flags:
`

// parseAnywhere parses the flags of args wherever they are, before, between
// or after the other arguments, and returns those others in order. After
// "--" everything is an argument.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("parlorctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", "http://127.0.0.1:8080", "base `URL` of the server's HTTP listener (health)")
	addr := fs.String("addr", "127.0.0.1:51127", "server API address, `host:port` (server_api.addr)")
	group := fs.String("group", "default", "`group` the command applies to")
	password := fs.String("password", "", "server API `password` (api_pwd); default $"+PasswordEnv)
	raw := fs.String("raw", "", "send this XML `command` as it is")
	plain := fs.Bool("plain", false, "print the reply as received instead of indented")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	showVersion := fs.Bool("version", false, "print the version and exit")
	words, err := parseAnywhere(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(out, help)
		fs.SetOutput(out)
		fs.PrintDefaults()
		fmt.Fprint(out, "  -h, -help\n    \tprint this help and exit\n")
		return nil
	}
	if err != nil {
		return usageError{fmt.Sprintf("%v\n%s", err, usage)}
	}
	if *showVersion {
		_, err := fmt.Fprintln(out, "parlorctl", version.Number)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *raw != "" {
		if len(words) > 0 {
			return usageError{"--raw takes no further arguments\n" + usage}
		}
		return exchange(ctx, *addr, []byte(*raw), *plain, out)
	}
	if len(words) == 0 {
		return usageError{usage}
	}
	if words[0] == "health" {
		if len(words) > 1 {
			return usageError{"health takes no arguments\n" + usage}
		}
		return health(ctx, *base, out)
	}
	pwd := *password
	if pwd == "" {
		pwd = getenv(PasswordEnv)
	}
	if pwd == "" {
		return usageError{"no password: give --password or set " + PasswordEnv}
	}
	cmd, err := buildCommand(*group, pwd, words[0], words[1:])
	if err != nil {
		return usageError{err.Error()}
	}
	return exchange(ctx, *addr, serverapi.EncodeCommand(cmd), *plain, out)
}

// buildCommand turns TYPE key=value ... into a command.
func buildCommand(group, password, typ string, pairs []string) (serverapi.Command, error) {
	cmd := serverapi.Command{Group: group, Password: password, Type: typ, Attrs: map[string]string{}}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return cmd, fmt.Errorf("argument %q is not key=value", p)
		}
		if k == "time" {
			cmd.HasTimes = true
			if v == "none" {
				continue // an empty roomOpen: edit_room removes the room's times
			}
			parts := strings.Split(v, ",")
			if len(parts) != 3 {
				return cmd, fmt.Errorf("time=%q must be o,s,e such as day2,00:00:00,10:00:00", v)
			}
			cmd.Times = append(cmd.Times, serverapi.OpenTime{O: parts[0], S: parts[1], E: parts[2]})
			continue
		}
		switch k {
		case "group", "api_pwd", "type":
			return cmd, fmt.Errorf("give %s with its flag or as TYPE, not as key=value", k)
		}
		if _, dup := cmd.Attrs[k]; dup {
			return cmd, fmt.Errorf("attribute %s is given twice", k)
		}
		cmd.Attrs[k] = v
	}
	return cmd, nil
}

// exchange sends one command frame and prints the reply.
func exchange(ctx context.Context, addr string, frame []byte, plain bool, out io.Writer) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to the server API at %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(append(frame, 0)); err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxReply))
	if err != nil && len(reply) == 0 {
		return fmt.Errorf("read reply: %w", err)
	}
	if i := bytes.IndexByte(reply, 0); i >= 0 {
		reply = reply[:i]
	}
	code, msg, err := serverapi.ReplyCode(reply)
	if err != nil {
		_, _ = out.Write(reply)
		return err
	}
	if plain {
		_, err = out.Write(reply)
	} else {
		err = indent(out, reply)
	}
	if err != nil {
		return fmt.Errorf("print reply: %w", err)
	}
	if code != serverapi.CodeOK {
		return resultError{code: code, msg: msg}
	}
	return nil
}

// indent prints an XML document with one element a line, indented by
// depth; an element without children is written as <X .../>.
func indent(out io.Writer, doc []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var b bytes.Buffer
	var pending *xml.StartElement // written up to its attributes
	depth := 0
	open := func(se xml.StartElement) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString("<" + se.Name.Local)
		for _, a := range se.Attr {
			b.WriteString(" " + a.Name.Local + `="`)
			_ = xml.EscapeText(&b, []byte(a.Value)) // a bytes.Buffer does not fail
			b.WriteString(`"`)
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if pending != nil {
				b.WriteString(">\n")
				depth++
			}
			open(t)
			se := t.Copy()
			pending = &se
		case xml.EndElement:
			if pending != nil {
				b.WriteString("/>\n")
				pending = nil
				continue
			}
			depth--
			b.WriteString(strings.Repeat("  ", depth) + "</" + t.Name.Local + ">\n")
		case xml.CharData:
			if text := bytes.TrimSpace(t); len(text) > 0 {
				if pending != nil {
					b.WriteString(">\n")
					depth++
					pending = nil
				}
				b.WriteString(strings.Repeat("  ", depth))
				_ = xml.EscapeText(&b, text)
				b.WriteString("\n")
			}
		}
	}
	_, err := out.Write(b.Bytes())
	return err
}

func health(ctx context.Context, base string, out io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return fmt.Errorf("health: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: server answered %s", resp.Status)
	}
	return nil
}
