package serverapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// APIKeyHeader carries the group's api_pwd on the JSON twin.
const APIKeyHeader = "X-Parlor-Api-Key"

// HTTPPrefix is where the JSON twin is served.
const HTTPPrefix = "/api/v1/"

// HTTPHandler serves the JSON twin of the XML commands under /api/v1/:
//
//	POST /api/v1/        {"group":"default","type":"add_room","name":"Room",...}
//	POST /api/v1/TYPE    {"name":"Room",...}
//	GET  /api/v1/TYPE?group=default&room_id=1   (query commands only)
//
// The api_pwd goes in the X-Parlor-Api-Key header. Attribute values may be
// JSON strings, numbers or booleans; roomOpen is a list of {"o","s","e"}.
// The answer is the reply as JSON with an HTTP status that follows its code.
func (d *Dispatcher) HTTPHandler() http.Handler {
	return http.HandlerFunc(d.serveHTTP)
}

func (d *Dispatcher) serveHTTP(w http.ResponseWriter, r *http.Request) {
	cmd, reply, status := d.httpCommand(w, r)
	if status == 0 {
		reply = d.Do(r.Context(), cmd)
		status = reply.Code.HTTPStatus()
	} else {
		d.log.Warn("server API request refused", "remote", r.RemoteAddr, "path", clip(r.URL.Path, 64), "result", reply.Message)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if reply.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((reply.RetryAfter+time.Second-1)/time.Second), 10))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(reply)
}

// httpCommand builds the command of a request; when it cannot, it returns
// the error reply and the HTTP status to answer with (0 otherwise).
func (d *Dispatcher) httpCommand(w http.ResponseWriter, r *http.Request) (Command, Reply, int) {
	cmd := Command{Password: r.Header.Get(APIKeyHeader), Attrs: map[string]string{}}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		cmd.Remote = ap.Addr().Unmap()
	}
	pathType := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(HTTPPrefix, "/"))
	pathType = strings.Trim(pathType, "/")
	if strings.Contains(pathType, "/") {
		return cmd, Fail(CodeUnknownType, "Unknown path %s: use %sTYPE.", clip(r.URL.Path, 64), HTTPPrefix), CodeUnknownType.HTTPStatus()
	}
	cmd.Type = pathType
	switch r.Method {
	case http.MethodGet:
		if pathType == "" || !isQuery(pathType) {
			return cmd, Fail(CodeBadArgument, "GET is for the query commands (get_online, get_rooms, get_room_users); send other commands with POST."), CodeBadArgument.HTTPStatus()
		}
		for k, vs := range r.URL.Query() {
			if len(vs) != 1 {
				return cmd, Fail(CodeBadArgument, "Parameter %s is given %d times.", clip(k, 32), len(vs)), CodeBadArgument.HTTPStatus()
			}
			if err := cmd.set(k, vs[0]); err != nil {
				return cmd, failErr(CodeBadArgument, err), CodeBadArgument.HTTPStatus()
			}
		}
	case http.MethodPost:
		body := http.MaxBytesReader(w, r.Body, int64(d.maxBody))
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return cmd, Fail(CodeMalformed, "The command is larger than %d bytes.", d.maxBody), http.StatusRequestEntityTooLarge
			}
			return cmd, Fail(CodeMalformed, "The request body could not be read: %v", err), CodeMalformed.HTTPStatus()
		}
		if len(bytes.TrimSpace(buf.Bytes())) > 0 {
			if err := cmd.setJSON(buf.Bytes()); err != nil {
				return cmd, Fail(CodeMalformed, "Not a command: %v", err), CodeMalformed.HTTPStatus()
			}
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		return cmd, Fail(CodeBadArgument, "Method %s is not supported; use POST (or GET for queries).", r.Method), http.StatusMethodNotAllowed
	}
	if cmd.Type == "" {
		return cmd, Fail(CodeBadArgument, "missing type (in the body or as %sTYPE)", HTTPPrefix), CodeBadArgument.HTTPStatus()
	}
	return cmd, Reply{}, 0
}

// set stores one attribute given by name, routing group and type to
// their fields.
func (c *Command) set(k, v string) error {
	switch k {
	case "api_pwd":
		return fmt.Errorf("send api_pwd in the %s header, not in the request", APIKeyHeader)
	case "group":
		c.Group = v
	case "type":
		if c.Type != "" && c.Type != v {
			return fmt.Errorf("type %q disagrees with the path's %q", clip(v, 32), clip(c.Type, 32))
		}
		c.Type = v
	default:
		if len(c.Attrs) >= maxAttrs {
			return fmt.Errorf("more than %d attributes", maxAttrs)
		}
		c.Attrs[k] = v
	}
	return nil
}

// setJSON reads a JSON object of attributes.
func (c *Command) setJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("the body is not a JSON object: %w", err)
	}
	if dec.More() {
		return errors.New("the body holds more than one JSON value")
	}
	for k, raw := range obj {
		if k == "roomOpen" {
			c.HasTimes = true
			if err := json.Unmarshal(raw, &c.Times); err != nil {
				return fmt.Errorf(`roomOpen must be a list of {"o","s","e"}: %w`, err)
			}
			if len(c.Times) > maxTimes {
				return fmt.Errorf("more than %d roomOpen entries", maxTimes)
			}
			continue
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("%s: %w", clip(k, 32), err)
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = "false"
			if x {
				s = "true"
			}
		default:
			return fmt.Errorf("%s must be a string, a number or a boolean", clip(k, 32))
		}
		if err := c.set(k, s); err != nil {
			return err
		}
	}
	return nil
}
