// Command parlorctl is the operator's command line for a running Parlor.
//
//	parlorctl [--url http://127.0.0.1:8080] health
//	parlorctl [--addr 127.0.0.1:51127] [--group default] [--password P] TYPE [key=value ...]
//	parlorctl [--addr 127.0.0.1:51127] --raw '<Command .../>'
//
// health prints the server's /healthz report and exits non-zero when the
// server is unhealthy or unreachable.
//
// TYPE sends a server API command (docs/server-api.md) over TCP: add_room,
// edit_room, del_room, broadcast, private_message, start_group, stop_group,
// get_online, get_rooms, get_room_users. Each key=value becomes an
// attribute; time=o,s,e adds a roomOpen/Time entry. The password comes from
// --password or the PARLOR_API_PASSWORD environment variable. --raw sends
// an XML command as it is. The reply is printed indented (--plain prints it
// as received).
//
// Exit status: 0 done, 1 the server could not be reached or answered
// something unreadable, 2 bad usage, 3 the server answered with an error
// code.
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
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "parlorctl:", err)
	var ue usageError
	var re resultError
	switch {
	case errors.As(err, &ue):
		os.Exit(2)
	case errors.As(err, &re):
		os.Exit(3)
	default:
		os.Exit(1)
	}
}

const usage = `usage:
  parlorctl [--url URL] health
  parlorctl [--addr HOST:PORT] [--group G] [--password P] TYPE [key=value ...] [time=o,s,e ...]
  parlorctl [--addr HOST:PORT] --raw '<Command .../>'`

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("parlorctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("url", "http://127.0.0.1:8080", "base URL of the server's HTTP listener (health)")
	addr := fs.String("addr", "127.0.0.1:51127", "server API address (server_api.addr)")
	group := fs.String("group", "default", "group the command applies to")
	password := fs.String("password", "", "server API password (api_pwd); default $"+PasswordEnv)
	raw := fs.String("raw", "", "send this XML command as it is")
	plain := fs.Bool("plain", false, "print the reply as received instead of indented")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for an answer")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("%v\n%s", err, usage)}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *raw != "" {
		if fs.NArg() > 0 {
			return usageError{"--raw takes no further arguments\n" + usage}
		}
		return exchange(ctx, *addr, []byte(*raw), *plain, out)
	}
	switch fs.Arg(0) {
	case "":
		return usageError{usage}
	case "health":
		return health(ctx, *base, out)
	}
	pwd := *password
	if pwd == "" {
		pwd = getenv(PasswordEnv)
	}
	if pwd == "" {
		return usageError{"no password: give --password or set " + PasswordEnv}
	}
	cmd, err := buildCommand(*group, pwd, fs.Arg(0), fs.Args()[1:])
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
