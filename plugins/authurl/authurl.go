package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

// Defaults for the configuration.
const (
	DefaultMethod        = http.MethodGet
	DefaultUsernameParam = "username"
	DefaultPasswordParam = "password"
	DefaultTimeout       = 3 * time.Second
)

// maxBody is the most of an answer that is read; an answer is one digit.
const maxBody = 1 << 10

// Config is the plugin's configuration block.
type Config struct {
	// URL is the Auth URL page; required, absolute http or https.
	URL string `json:"url"`
	// Method is GET (query parameters) or POST (form body); default GET.
	Method string `json:"method"`
	// UsernameParam names the parameter carrying the user name.
	UsernameParam string `json:"username_param"`
	// PasswordParam names the parameter carrying the password.
	PasswordParam string `json:"password_param"`
	// Timeout bounds one request, as a Go duration ("3s").
	Timeout string `json:"timeout"`
	// Params are extra fixed parameters sent with every request.
	Params map[string]string `json:"params"`
}

// settings is a validated Config.
type settings struct {
	url       *url.URL
	method    string
	userParam string
	passParam string
	timeout   time.Duration
	params    url.Values
}

// parseConfig validates raw (JSON) and fills in the defaults.
func parseConfig(raw []byte) (*settings, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("authurl config: %w", err)
		}
	}
	if c.URL == "" {
		return nil, errors.New("authurl config: url is required")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("authurl config: url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("authurl config: url %q must be an absolute http:// or https:// URL", c.URL)
	}
	s := &settings{
		url:       u,
		method:    strings.ToUpper(strings.TrimSpace(c.Method)),
		userParam: c.UsernameParam,
		passParam: c.PasswordParam,
		timeout:   DefaultTimeout,
		params:    url.Values{},
	}
	switch s.method {
	case "":
		s.method = DefaultMethod
	case http.MethodGet, http.MethodPost:
	default:
		return nil, fmt.Errorf("authurl config: method %q: use GET or POST", c.Method)
	}
	if s.userParam == "" {
		s.userParam = DefaultUsernameParam
	}
	if s.passParam == "" {
		s.passParam = DefaultPasswordParam
	}
	if s.userParam == s.passParam {
		return nil, fmt.Errorf("authurl config: username_param and password_param are both %q", s.userParam)
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil {
			return nil, fmt.Errorf("authurl config: timeout: %w", err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("authurl config: timeout %q must be positive", c.Timeout)
		}
		s.timeout = d
	}
	for k, v := range c.Params {
		s.params.Set(k, v)
	}
	return s, nil
}

// Authenticator asks the configured Auth URL. It is safe for concurrent
// use; Configure may be called again at any time.
type Authenticator struct {
	log    hclog.Logger
	client *http.Client
	cfg    atomic.Pointer[settings]
}

// New returns an unconfigured Authenticator that logs to log (nil: no
// logging). Its HTTP client keeps connections alive between logins.
func New(log hclog.Logger) *Authenticator {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Authenticator{log: log, client: &http.Client{Transport: transport}}
}

// Configure validates and applies the configuration.
func (a *Authenticator) Configure(_ context.Context, cfg sdk.Config) error {
	s, err := parseConfig(cfg.Raw)
	if err != nil {
		return err
	}
	a.cfg.Store(s)
	a.log.Info("configured", "url", redactURL(s.url), "method", s.method, "timeout", s.timeout)
	return nil
}

// Authenticate sends the login attempt to the Auth URL and maps its digit
// to a result. Every failure (no answer, timeout, HTTP error, anything but
// one digit 0-5) is LoginError with a message; the password never appears
// in messages or logs.
func (a *Authenticator) Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	s := a.cfg.Load()
	if s == nil {
		return sdk.AuthResult{Code: sdk.LoginError, Message: "the auth URL plugin is not configured"}, nil
	}
	code, msg := a.ask(ctx, s, req)
	if msg != "" {
		a.log.Warn("auth URL failed", "user", req.Username, "url", redactURL(s.url), "reason", msg)
		return sdk.AuthResult{Code: sdk.LoginError, Message: msg}, nil
	}
	return sdk.AuthResult{Code: code}, nil
}

// ask performs the request. It returns the page's code, or a message
// saying why there is none.
func (a *Authenticator) ask(ctx context.Context, s *settings, req sdk.AuthRequest) (sdk.Code, string) {
	limit := s.timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < limit {
		limit = time.Until(dl).Round(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	values := make(url.Values, len(s.params)+4)
	for k, v := range s.params {
		values[k] = v
	}
	values.Set("group", req.Group)
	values.Set("ip", req.RemoteIP)
	values.Set(s.userParam, req.Username)
	values.Set(s.passParam, req.Password)

	var (
		httpReq *http.Request
		err     error
	)
	if s.method == http.MethodPost {
		httpReq, err = http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), strings.NewReader(values.Encode()))
		if err == nil {
			httpReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		u := *s.url
		q := u.Query()
		for k, v := range values {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		httpReq, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	if err != nil {
		return sdk.LoginError, fmt.Sprintf("build request: %s", unwrapURLError(err))
	}
	httpReq.Header.Set("User-Agent", "parlor-plugin-authurl")
	httpReq.Header.Set("Accept", "text/plain")

	resp, err := a.client.Do(httpReq)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.LoginError, fmt.Sprintf("auth URL timed out after %s", limit)
		}
		return sdk.LoginError, fmt.Sprintf("auth URL unreachable: %s", unwrapURLError(err))
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return sdk.LoginError, fmt.Sprintf("auth URL answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return sdk.LoginError, fmt.Sprintf("auth URL timed out after %s", limit)
		}
		return sdk.LoginError, fmt.Sprintf("read auth URL answer: %s", unwrapURLError(err))
	}
	answer := strings.TrimSpace(strings.TrimPrefix(string(body), "\ufeff"))
	if len(answer) == 1 && answer[0] >= '0' && answer[0] <= '5' {
		return sdk.Code(answer[0] - '0'), ""
	}
	return sdk.LoginError, fmt.Sprintf("auth URL answered %q, not a digit 0-5", snippet(answer, req.Password))
}

// unwrapURLError drops the *url.Error wrapper, whose text contains the
// request URL and with it, for GET, the password.
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// redactURL is u without its query, user info and fragment, for logs.
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.Fragment = ""
	return c.String()
}

// snippet shortens an unexpected answer for a message and removes the
// password should the page have echoed it.
func snippet(s, password string) string {
	if password != "" {
		s = strings.ReplaceAll(s, password, "***")
	}
	const limit = 40
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "..."
	}
	return s
}
