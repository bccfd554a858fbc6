package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

// Defaults and limits.
const (
	// DefaultTokenTTL is how long an access token stays valid.
	DefaultTokenTTL = time.Hour
	// MinAPIKeyLen is the shortest API key accepted.
	MinAPIKeyLen = 16
	// tokenBytes is the random size of an access token (192 bits).
	tokenBytes = 24
	// maxPasswordBytes is the longest password the chat can check.
	maxPasswordBytes = 72
	// maxEmails bounds the e-mails one delete request may name.
	maxEmails = 1000
)

// Pixel is the 43-byte transparent 1x1 GIF the login and logout endpoints
// answer, so that an IMG tag on the website loads them quietly.
var Pixel = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// Config is the plugin's `config` block.
type Config struct {
	// APIKey is the operator's secret; every API call but the browser's
	// login and logout must carry it. Required, 16 characters or more.
	APIKey string `json:"api_key"`
	// TokenTTL is how long an access token is valid ("1h" by default).
	TokenTTL string `json:"token_ttl"`
	// SessionTTL is how long a chat login made with a token lasts; empty
	// takes the server's auth.session_ttl.
	SessionTTL string `json:"session_ttl"`
	// LoginURL is the website's login page: the chat's "Log in" link.
	LoginURL string `json:"login_url"`
	// LogoutURL is where the chat sends users after they log out.
	LogoutURL string `json:"logout_url"`
	// RegisterURL is the website's registration page: the chat's
	// "Create account" link.
	RegisterURL string `json:"register_url"`
	// APIKeyFailures is how many wrong apikeys one client address (an IPv6
	// /64) may send before it is locked out (DefaultAPIKeyFailures when 0).
	APIKeyFailures int `json:"apikey_failures"`
	// APIKeyLockout is how long a locked-out address waits for each
	// further try ("1m" by default; "0s" turns the throttle off).
	APIKeyLockout string `json:"apikey_lockout"`
}

// settings is a validated configuration.
type settings struct {
	keySum     [32]byte
	tokenTTL   time.Duration
	sessionTTL time.Duration
	public     publicSettings
	// keyFailures and keyLockout configure the apikey throttle.
	keyFailures int
	keyLockout  time.Duration
}

// publicSettings are the settings the web client reads at /sso/settings.
type publicSettings struct {
	LoginURL    string `json:"login_url"`
	LogoutURL   string `json:"logout_url"`
	RegisterURL string `json:"register_url"`
}

func (c Config) validate() (settings, error) {
	var errs []error
	s := settings{tokenTTL: DefaultTokenTTL, keyFailures: DefaultAPIKeyFailures, keyLockout: DefaultAPIKeyLockout}
	if len(c.APIKey) < MinAPIKeyLen {
		errs = append(errs, fmt.Errorf("api_key must be at least %d characters", MinAPIKeyLen))
	}
	s.keySum = sha256.Sum256([]byte(c.APIKey))
	if c.TokenTTL != "" {
		d, err := time.ParseDuration(c.TokenTTL)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("token_ttl %q is not a positive duration such as 1h", c.TokenTTL))
		}
		s.tokenTTL = d
	}
	if c.SessionTTL != "" {
		d, err := time.ParseDuration(c.SessionTTL)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("session_ttl %q is not a positive duration such as 720h", c.SessionTTL))
		}
		s.sessionTTL = d
	}
	switch {
	case c.APIKeyFailures < 0:
		errs = append(errs, fmt.Errorf("apikey_failures %d must not be negative", c.APIKeyFailures))
	case c.APIKeyFailures > 0:
		s.keyFailures = c.APIKeyFailures
	}
	if c.APIKeyLockout != "" {
		d, err := time.ParseDuration(c.APIKeyLockout)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("apikey_lockout %q is not a duration such as 1m (0s turns the throttle off)", c.APIKeyLockout))
		}
		s.keyLockout = d
	}
	for _, u := range []struct{ key, v string }{{"login_url", c.LoginURL}, {"logout_url", c.LogoutURL}, {"register_url", c.RegisterURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute http:// or https:// URL", u.key, u.v))
		}
	}
	s.public = publicSettings{LoginURL: c.LoginURL, LogoutURL: c.LogoutURL, RegisterURL: c.RegisterURL}
	if err := errors.Join(errs...); err != nil {
		return settings{}, fmt.Errorf("sso config: %w", err)
	}
	return s, nil
}

// SSO is the plugin's module.
type SSO struct {
	log hclog.Logger

	mu    sync.RWMutex // guards host, set, fails
	host  sdk.Host
	set   settings
	fails *throttle // wrong apikeys by client address
}

// New makes the module; Configure completes it.
func New(log hclog.Logger) *SSO {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &SSO{log: log}
}

// Configure validates the configuration and keeps the Host API.
func (s *SSO) Configure(_ context.Context, cfg sdk.Config) error {
	var c Config
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	set, err := c.validate()
	if err != nil {
		return err
	}
	if cfg.Host == nil {
		return errors.New("sso: the host offers no Host API")
	}
	s.mu.Lock()
	s.host, s.set = cfg.Host, set
	s.fails = newThrottle(set.keyLockout, set.keyFailures)
	s.mu.Unlock()
	return nil
}

func (s *SSO) state() (sdk.Host, settings, *throttle) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.host, s.set, s.fails
}

// Response is the JSON answer of every API endpoint.
type Response struct {
	Success     bool   `json:"success"`
	Message     string `json:"message"`
	AccessToken string `json:"access_token"`
}

// apiError is a refusal the caller sees as the message.
type apiError struct{ msg string }

func (e *apiError) Error() string { return e.msg }

func refuse(format string, a ...any) error { return &apiError{msg: fmt.Sprintf(format, a...)} }

// Prefix is the URL path the module serves.
const Prefix = "/sso/"

// Manifest declares the HTTP API under Prefix.
func (s *SSO) Manifest() sdk.Manifest {
	return sdk.Manifest{HTTPPrefix: Prefix, HTTP: s.routes()}
}

// routes is the HTTP API: the browser's login and logout pixels, the web
// client's settings and the website's token and user calls. Each path is
// also served with a trailing '/'.
func (s *SSO) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, f func(http.ResponseWriter, *http.Request)) {
		mux.HandleFunc(path, f)
		mux.HandleFunc(path+"/{$}", f)
	}
	handle("/sso/settings", func(w http.ResponseWriter, _ *http.Request) {
		_, set, _ := s.state()
		writeJSON(w, http.StatusOK, set.public)
	})
	handle("/sso/token/login", s.serve((*handler).login))
	handle("/sso/token/logout", s.serve((*handler).logout))
	handle("/sso/token/generate", s.api((*handler).generate))
	handle("/sso/user/register", s.api((*handler).register))
	handle("/sso/user/delete", s.api((*handler).delete))
	handle("/sso/user/edit", s.api((*handler).edit))
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		jsonAnswer(w, http.StatusNotFound, Response{Message: "Unknown SSO endpoint " + r.URL.Path + "."})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodHead:
			mux.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, HEAD")
			jsonAnswer(w, http.StatusMethodNotAllowed, Response{Message: "Use GET or POST."})
		}
	})
}

// serve runs f with a handler for the request: the query and, for a form
// POST, the body are parsed first.
func (s *SSO) serve(f func(*handler, http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, set, fails := s.state()
		if host == nil {
			jsonAnswer(w, http.StatusServiceUnavailable, Response{Message: "The SSO module is not configured yet."})
			return
		}
		if err := r.ParseForm(); err != nil {
			jsonAnswer(w, http.StatusOK, Response{Message: "The request parameters are malformed."})
			return
		}
		f(&handler{s: s, host: host, set: set, fails: fails, r: r, ip: sdk.ClientIP(r)}, w)
	}
}

// api serves an endpoint answering a JSON Response.
func (s *SSO) api(f func(*handler, context.Context) (Response, error)) http.HandlerFunc {
	return s.serve(func(h *handler, w http.ResponseWriter) {
		res, err := f(h, h.r.Context())
		if err != nil {
			h.failure(w, err)
			return
		}
		res.Success = true
		jsonAnswer(w, http.StatusOK, res)
	})
}

// writeJSON encodes v with the API's headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonAnswer writes res; API answers use status 200 whether or not they
// succeed (success says which), so that simple clients can read them.
func jsonAnswer(w http.ResponseWriter, status int, res Response) { writeJSON(w, status, res) }

// pixel answers the 1x1 GIF with the cookie header.
func pixel(w http.ResponseWriter, setCookie string) {
	w.Header().Set("Content-Type", "image/gif")
	w.Header().Set("Cache-Control", "no-store, private")
	if setCookie != "" {
		w.Header().Set("Set-Cookie", setCookie)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(Pixel)
}

// handler serves one request.
type handler struct {
	s     *SSO
	host  sdk.Host
	set   settings
	fails *throttle
	r     *http.Request // its form is parsed
	ip    string        // the client's address, as the core saw it
}

// failure answers err as a JSON refusal; unexpected errors are logged and
// answered with a generic message.
func (h *handler) failure(w http.ResponseWriter, err error) {
	path := h.r.URL.Path
	var ae *apiError
	if errors.As(err, &ae) {
		h.s.log.Info("sso request refused", "path", path, "remote", h.ip, "reason", ae.msg)
		jsonAnswer(w, http.StatusOK, Response{Message: ae.msg})
		return
	}
	h.s.log.Error("sso request failed", "path", path, "remote", h.ip, "error", err)
	jsonAnswer(w, http.StatusOK, Response{Message: "The chat could not complete the request; please try again later."})
}

// checkKey requires the API key, compared in constant time. An address
// that has sent too many wrong keys is refused without a comparison until
// its lock-out passes; the right key clears its failures.
func (h *handler) checkKey() error {
	key, ok := h.r.Form["apikey"]
	if !ok || key[0] == "" {
		return refuse("The apikey parameter is required.")
	}
	if retry, ok := h.fails.check(h.ip); !ok {
		retry = max(retry.Round(time.Second), time.Second)
		who := h.ip
		if who == "" {
			who = "your address"
		}
		return refuse("Too many wrong apikeys from %s; try again in %s.", who, retry)
	}
	sum := sha256.Sum256([]byte(key[0]))
	if subtle.ConstantTimeCompare(sum[:], h.set.keySum[:]) != 1 {
		h.fails.fail(h.ip)
		return refuse("The apikey is wrong.")
	}
	h.fails.reset(h.ip)
	return nil
}

func (h *handler) get(name string) string { return strings.TrimSpace(h.r.Form.Get(name)) }

// checkEmail accepts a bare address such as alice@example.com.
func checkEmail(param, email string) error {
	if email == "" {
		return refuse("The %s parameter is required.", param)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || len(email) > 254 {
		return refuse("%q is not a valid e-mail address.", email)
	}
	return nil
}

// hostRefusal turns Host API refusals into API messages.
func hostRefusal(err error, what string) error {
	switch {
	case errors.Is(err, sdk.ErrExists):
		if strings.Contains(sdk.Reason(err), "e-mail") {
			return refuse("The e-mail address of %s belongs to another account.", what)
		}
		return refuse("The username of %s is taken by another account.", what)
	case errors.Is(err, sdk.ErrInvalid):
		return refuse("The chat refused %s: %s.", what, sdk.Reason(err))
	}
	return err
}

// tokenRecord is what an access token stands for, kept in the KV store
// under the token's hash.
type tokenRecord struct {
	UserID int64 `json:"user_id"`
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:])
}

// newToken stores a fresh access token for the user.
func (h *handler) newToken(ctx context.Context, userID int64) (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	rec, _ := json.Marshal(tokenRecord{UserID: userID})
	if err := h.host.KV().Set(ctx, tokenKey(token), rec, h.set.tokenTTL); err != nil {
		return "", fmt.Errorf("store access token: %w", err)
	}
	return token, nil
}

// tokenUser returns the account of a valid access token.
func (h *handler) tokenUser(ctx context.Context) (string, sdk.User, error) {
	token := h.get("access_token")
	if token == "" {
		return "", sdk.User{}, refuse("The access_token parameter is required.")
	}
	raw, found, err := h.host.KV().Get(ctx, tokenKey(token))
	if err != nil {
		return "", sdk.User{}, fmt.Errorf("look up access token: %w", err)
	}
	if !found {
		return "", sdk.User{}, refuse("The access token is unknown or has expired; generate a new one.")
	}
	var rec tokenRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return "", sdk.User{}, fmt.Errorf("decode access token record: %w", err)
	}
	u, err := h.host.Users().ByID(ctx, rec.UserID)
	if errors.Is(err, sdk.ErrNotFound) {
		return "", sdk.User{}, refuse("The user of this access token no longer exists.")
	}
	if err != nil {
		return "", sdk.User{}, fmt.Errorf("look up the token's user: %w", err)
	}
	return token, u, nil
}

// generate: GET /sso/token/generate?apikey&username&email[&avatarUrl&password]
func (h *handler) generate(ctx context.Context) (Response, error) {
	if err := h.checkKey(); err != nil {
		return Response{}, err
	}
	name, email := h.get("username"), h.get("email")
	if name == "" {
		return Response{}, refuse("The username parameter is required.")
	}
	if err := checkEmail("email", email); err != nil {
		return Response{}, err
	}
	u, err := h.host.Users().ByEmail(ctx, email)
	msg := "Access token generated."
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		if u, err = h.create(ctx, name, email); err != nil {
			return Response{}, err
		}
		msg = "User created; access token generated."
	case err != nil:
		return Response{}, fmt.Errorf("look up %q: %w", email, err)
	}
	token, err := h.newToken(ctx, u.ID)
	if err != nil {
		return Response{}, err
	}
	h.s.log.Info("access token generated", "user", u.Name, "id", u.ID, "remote", h.ip)
	return Response{Message: msg, AccessToken: token}, nil
}

// create makes the account of name and email with the optional password
// and avatarUrl parameters.
func (h *handler) create(ctx context.Context, name, email string) (sdk.User, error) {
	pw := h.r.Form.Get("password")
	if len(pw) > maxPasswordBytes {
		return sdk.User{}, refuse("The password is longer than %d bytes.", maxPasswordBytes)
	}
	u, err := h.host.Users().Create(ctx, sdk.NewUser{Name: name, Email: email, Password: pw, Avatar: h.get("avatarUrl")})
	if err != nil {
		return sdk.User{}, hostRefusal(err, fmt.Sprintf("the user %q", name))
	}
	h.s.log.Info("user created", "user", u.Name, "id", u.ID, "password", u.HasPassword, "remote", h.ip)
	return u, nil
}

// register: GET /sso/user/register?apikey&username&email[&password&avatarUrl]
func (h *handler) register(ctx context.Context) (Response, error) {
	if err := h.checkKey(); err != nil {
		return Response{}, err
	}
	name, email := h.get("username"), h.get("email")
	if name == "" {
		return Response{}, refuse("The username parameter is required.")
	}
	if err := checkEmail("email", email); err != nil {
		return Response{}, err
	}
	switch _, err := h.host.Users().ByEmail(ctx, email); {
	case err == nil:
		return Response{}, refuse("A user with the e-mail address %s is registered already.", email)
	case !errors.Is(err, sdk.ErrNotFound):
		return Response{}, fmt.Errorf("look up %q: %w", email, err)
	}
	u, err := h.create(ctx, name, email)
	if err != nil {
		return Response{}, err
	}
	token, err := h.newToken(ctx, u.ID)
	if err != nil {
		return Response{}, err
	}
	return Response{Message: "User registered.", AccessToken: token}, nil
}

// delete: GET /sso/user/delete?apikey&emails=a@x,b@y
func (h *handler) delete(ctx context.Context) (Response, error) {
	if err := h.checkKey(); err != nil {
		return Response{}, err
	}
	var emails []string
	for _, e := range strings.Split(h.get("emails"), ",") {
		if e = strings.TrimSpace(e); e != "" {
			emails = append(emails, e)
		}
	}
	if len(emails) == 0 {
		return Response{}, refuse("The emails parameter is required: one e-mail address or several separated by commas.")
	}
	if len(emails) > maxEmails {
		return Response{}, refuse("At most %d e-mail addresses may be deleted at once.", maxEmails)
	}
	for _, e := range emails {
		if err := checkEmail("emails", e); err != nil {
			return Response{}, err
		}
	}
	// Check every address first, so that a bad one changes nothing.
	ids := make([]int64, 0, len(emails))
	seen := map[int64]bool{}
	var unknown []string
	for _, e := range emails {
		u, err := h.host.Users().ByEmail(ctx, e)
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			unknown = append(unknown, e)
		case err != nil:
			return Response{}, fmt.Errorf("look up %q: %w", e, err)
		case !seen[u.ID]:
			seen[u.ID] = true
			ids = append(ids, u.ID)
		}
	}
	if len(unknown) > 0 {
		return Response{}, refuse("No user has the e-mail address %s; nothing was deleted.", strings.Join(unknown, ", "))
	}
	for _, id := range ids {
		if err := h.host.Users().Delete(ctx, id); err != nil && !errors.Is(err, sdk.ErrNotFound) {
			return Response{}, fmt.Errorf("delete user %d: %w", id, err)
		}
	}
	h.s.log.Info("users deleted", "count", len(ids), "remote", h.ip)
	return Response{Message: "Deleted " + strconv.Itoa(len(ids)) + " user(s)."}, nil
}

// edit: GET /sso/user/edit?apikey&user=EMAIL[&username&email&password&avatarUrl]
func (h *handler) edit(ctx context.Context) (Response, error) {
	if err := h.checkKey(); err != nil {
		return Response{}, err
	}
	current := h.get("user")
	if err := checkEmail("user", current); err != nil {
		return Response{}, err
	}
	var e sdk.UserEdit
	if v := h.get("username"); v != "" {
		e.Name = &v
	}
	if v := h.get("email"); v != "" {
		if err := checkEmail("email", v); err != nil {
			return Response{}, err
		}
		e.Email = &v
	}
	if vs, ok := h.r.Form["avatarUrl"]; ok {
		v := strings.TrimSpace(vs[0])
		e.Avatar = &v
	}
	pw := h.r.Form.Get("password")
	if len(pw) > maxPasswordBytes {
		return Response{}, refuse("The password is longer than %d bytes.", maxPasswordBytes)
	}
	u, err := h.host.Users().ByEmail(ctx, current)
	if errors.Is(err, sdk.ErrNotFound) {
		return Response{}, refuse("No user has the e-mail address %s.", current)
	}
	if err != nil {
		return Response{}, fmt.Errorf("look up %q: %w", current, err)
	}
	if e.Name != nil || e.Email != nil || e.Avatar != nil {
		if u, err = h.host.Users().Edit(ctx, u.ID, e); err != nil {
			return Response{}, hostRefusal(err, fmt.Sprintf("the changes to %s", current))
		}
	}
	if pw != "" {
		if err := h.host.Users().SetPassword(ctx, u.ID, pw); err != nil {
			return Response{}, hostRefusal(err, "the password")
		}
	}
	h.s.log.Info("user edited", "user", u.Name, "id", u.ID, "remote", h.ip)
	return Response{Message: "User updated."}, nil
}

// login: GET /sso/token/login?access_token&rememberMe - sets the chat's
// login cookie and answers the 1x1 GIF.
func (h *handler) login(w http.ResponseWriter) {
	ctx := h.r.Context()
	persistent := false
	switch h.get("rememberMe") {
	case "", "0":
	case "1":
		persistent = true
	default:
		h.failure(w, refuse("rememberMe must be 0 or 1."))
		return
	}
	_, u, err := h.tokenUser(ctx)
	if err != nil {
		h.failure(w, err)
		return
	}
	sess, err := h.host.Sessions().Issue(ctx, u.ID, h.set.sessionTTL, persistent)
	if err != nil {
		h.failure(w, fmt.Errorf("issue session: %w", err))
		return
	}
	h.s.log.Info("browser logged in", "user", u.Name, "id", u.ID, "persistent", persistent, "remote", h.ip)
	pixel(w, sess.SetCookie)
}

// logout: GET /sso/token/logout?access_token - ends the user's chat
// sessions made through SSO, clears the cookie and answers the GIF.
func (h *handler) logout(w http.ResponseWriter) {
	ctx := h.r.Context()
	token, u, err := h.tokenUser(ctx)
	if err != nil {
		h.failure(w, err)
		return
	}
	n, clear, err := h.host.Sessions().RevokeUser(ctx, u.ID)
	if err != nil {
		h.failure(w, fmt.Errorf("revoke sessions: %w", err))
		return
	}
	if err := h.host.KV().Delete(ctx, tokenKey(token)); err != nil {
		h.failure(w, fmt.Errorf("delete access token: %w", err))
		return
	}
	h.s.log.Info("browser logged out", "user", u.Name, "id", u.ID, "sessions", n, "remote", h.ip)
	pixel(w, clear)
}
