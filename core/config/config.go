// Package config loads Parlor's configuration with koanf: embedded
// defaults, then the YAML file, then PARLOR_* environment variables, then
// command-line flags. The result is typed and validated; a bad value, or a
// key that is not a setting (the settings are Config's koanf tags), stops
// start-up with a message naming the key.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"

	defaults "github.com/parlorchat/parlor/config"
	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// EnvPrefix is the prefix of environment overrides: PARLOR_HTTP__ADDR sets
// http.addr (a double underscore separates levels). A PARLOR_ variable that
// is not a setting is refused, unless notConfigEnv lists it.
const EnvPrefix = "PARLOR_"

// Config is the whole server configuration.
type Config struct {
	DataDir string `koanf:"data_dir"`
	Log     Log    `koanf:"log"`
	HTTP    HTTP   `koanf:"http"`
	// TCP configures the chat protocol over plain TCP (docs/protocol.md).
	TCP     TCP     `koanf:"tcp"`
	Chat    Chat    `koanf:"chat"`
	Auth    Auth    `koanf:"auth"`
	Plugins Plugins `koanf:"plugins"`
	Modules Modules `koanf:"modules"`
	Rooms   []Room  `koanf:"rooms"`
	// ServerAPI configures the server API (docs/server-api.md).
	ServerAPI ServerAPI `koanf:"server_api"`
	// Status configures the status files under <data_dir>/<group>/.
	Status Status `koanf:"status"`
	// Limits are the abuse limits of client connections (limits.go).
	Limits Limits `koanf:"limits"`
	// Admin configures the listener of /metrics and /healthz (limits.go).
	Admin Admin `koanf:"admin"`
	// Cluster makes the server one node of several (cluster.go).
	Cluster Cluster `koanf:"cluster"`
	// Store chooses SQLite or PostgreSQL for the durable state (store.go).
	Store Store `koanf:"store"`
}

// ServerAPI configures the server API: XML commands over TCP and their
// JSON twin under /api/v1 on the HTTP listener.
type ServerAPI struct {
	// Addr is the TCP listener of XML commands; empty turns it off.
	Addr string `koanf:"addr"`
	// HTTP serves the JSON twin under /api/v1 on http.addr.
	HTTP bool `koanf:"http"`
	// ReadTimeout bounds how long a client may take to send its command.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// MaxFrameBytes is the largest command accepted.
	MaxFrameBytes int `koanf:"max_frame_bytes"`
	// MaxConns bounds the TCP connections served at once.
	MaxConns int `koanf:"max_conns"`
	// MaxConnsPerAddr bounds the TCP connections of one address (an IPv6
	// /64) served at once, so that one client cannot take every slot.
	MaxConnsPerAddr int `koanf:"max_conns_per_addr"`
	// FailedPasswordsPerAddr throttles wrong api_pwd from one address, on
	// TCP and HTTP alike.
	FailedPasswordsPerAddr limit.Rate `koanf:"failed_passwords_per_addr"`
	// Groups holds each group's password and allowed addresses, by group
	// name. A group without a password refuses every command.
	Groups map[string]APIGroup `koanf:"groups"`
}

// APIGroup is one group's server API access.
type APIGroup struct {
	// Password is the api_pwd commands must carry; empty disables the API
	// for the group.
	Password string `koanf:"api_pwd"`
	// AllowFrom lists the client addresses allowed: IPs, CIDRs or "*".
	AllowFrom []string `koanf:"allow_from"`
}

// MinAPIPasswordLen is the shortest api_pwd accepted.
const MinAPIPasswordLen = 8

// Status configures the status files (online.txt, room_<id>.txt).
type Status struct {
	Enabled bool `koanf:"enabled"`
	// MinInterval is the shortest time between two rewrites.
	MinInterval time.Duration `koanf:"min_interval"`
}

// Log configures logging.
type Log struct {
	Level string `koanf:"level"` // trace, debug, info, warn, error
	JSON  bool   `koanf:"json"`
}

// HTTP configures the web listener (web client, WebSocket, metrics).
type HTTP struct {
	Addr          string        `koanf:"addr"`
	MaxFrameBytes int64         `koanf:"max_frame_bytes"`
	SendQueue     int           `koanf:"send_queue"`
	LoginTimeout  time.Duration `koanf:"login_timeout"`
	WriteTimeout  time.Duration `koanf:"write_timeout"`
	PingInterval  time.Duration `koanf:"ping_interval"`
	// SendQueueBytes bounds the bytes queued per connection, next to
	// SendQueue's frames.
	SendQueueBytes int `koanf:"send_queue_bytes"`
	// The timeouts and header limit of the HTTP server (plain requests;
	// a WebSocket is bounded by the keys above once it is open).
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	ResponseTimeout   time.Duration `koanf:"response_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	// PublicNames are the host names the WebSocket may be opened under
	// (Host header); empty accepts any.
	PublicNames []string `koanf:"public_names"`
	// WSURLs are the WebSocket URLs the web client connects to, in order
	// (webclient.go); empty: the page's own /ws.
	WSURLs []string `koanf:"ws_urls"`
	// AllowedOrigins are the origins of pages other than the chat's own
	// that may open the WebSocket (webclient.go).
	AllowedOrigins []string `koanf:"allowed_origins"`
}

// TCP configures the chat protocol over TCP: the JSON frames of the
// WebSocket, one a line. The frame limits, queues and timeouts of the
// http section apply to it as well.
type TCP struct {
	// Addr is the listener; empty (the default) turns it off.
	Addr string `koanf:"addr"`
	// TLSCert and TLSKey are PEM files; set both to serve TLS.
	TLSCert string `koanf:"tls_cert"`
	TLSKey  string `koanf:"tls_key"`
	// KeepAlive is the period of TCP keep-alive probes that find dead
	// peers.
	KeepAlive time.Duration `koanf:"keep_alive"`
	// IdleTimeout closes a connection that sent nothing for this long;
	// 0 never does.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
}

// Chat configures the chat domain.
type Chat struct {
	Group           string `koanf:"group"`
	History         int    `koanf:"history"`
	MaxMessageChars int    `koanf:"max_message_chars"`
	Guests          bool   `koanf:"guests"`
	// SaveTimeout bounds one store write of the group commit; messages
	// whose write fails or times out reach nobody.
	SaveTimeout time.Duration `koanf:"save_timeout"`
	// MaxUnsaved is how many of one member's messages may wait to be
	// saved before its next say waits for its own.
	MaxUnsaved int `koanf:"max_unsaved"`
	// RoomListDelay is how long room list changes (head counts, rooms
	// added, changed or removed) are gathered before they go to the
	// logged-in users as one small rooms_delta event; 0 sends each change
	// at once.
	RoomListDelay time.Duration `koanf:"room_list_delay"`
	// PresenceBatch is how many presence events of one room wait at most
	// for the next rooms_delta before they are sent.
	PresenceBatch int `koanf:"presence_batch"`
	// RoomListWrites bounds the writes per second the deltas cost: with
	// more than room_list_delay x room_list_writes users online, changes
	// are gathered users / room_list_writes seconds (at most 10s); 0 keeps
	// room_list_delay whatever the number of users.
	RoomListWrites int `koanf:"room_list_writes"`
	// ModeratorsSeeIP lets a room's moderators and the administrators see
	// the members' IP addresses in the member list (off by default).
	ModeratorsSeeIP bool `koanf:"moderators_see_ip"`
	// TimeZone is the IANA zone rooms' opening times are read in, unless
	// a room names its own (rooms[].tz, the server API's tz).
	TimeZone string `koanf:"time_zone"`
}

// Auth configures the login pipeline.
type Auth struct {
	// Chain lists the authenticator plugins asked, in order.
	Chain []string `koanf:"chain"`
	// SessionTTL is the lifetime of a login session (the chat's login
	// cookie, issued for example by SSO), and the longest one allowed.
	SessionTTL time.Duration `koanf:"session_ttl"`
	// SecureCookie marks the login cookie Secure; turn it on when the chat
	// is served over HTTPS.
	SecureCookie bool `koanf:"secure_cookie"`
	// MaxPasswordChecks bounds the logins with a password checked at once;
	// 0 means twice the number of CPUs. Guests never wait for it.
	MaxPasswordChecks int `koanf:"max_password_checks"`
	// PasswordCheckWait is how long a login waits for a free password
	// check before it is refused as busy.
	PasswordCheckWait time.Duration `koanf:"password_check_wait"`
	// ReconnectTTL is how long the reconnect token of a password login
	// stays good after the client's connection ended.
	ReconnectTTL time.Duration `koanf:"reconnect_ttl"`
	// Limits throttle failed logins.
	Limits AuthLimits `koanf:"limits"`
}

// AuthLimits throttle password guessing at login (docs/operations.md,
// "Passwords").
type AuthLimits struct {
	// FailedLoginsPerAccount: wrong passwords for one name, from any address.
	FailedLoginsPerAccount limit.Rate `koanf:"failed_logins_per_account"`
	// FailedLoginsPerAddr: failed password logins from one address, for any name.
	FailedLoginsPerAddr limit.Rate `koanf:"failed_logins_per_addr"`
}

// Plugins configures the plugin host and the plugins it runs.
type Plugins struct {
	Dir            string                `koanf:"dir"`
	CallTimeout    time.Duration         `koanf:"call_timeout"`
	HealthInterval time.Duration         `koanf:"health_interval"`
	MaxBackoff     time.Duration         `koanf:"max_backoff"`
	Load           map[string]PluginSpec `koanf:"load"`
}

// Modules configures the module pipeline (core/modules) and what the
// Host API lets modules store.
type Modules struct {
	// Order is the order in which modules' hooks are asked, by plugin
	// name; modules not listed follow in name order.
	Order []string `koanf:"order"`
	// HookTimeout bounds one decision hook (OnLogin, OnJoin, OnMessage).
	HookTimeout time.Duration `koanf:"hook_timeout"`
	// CommandTimeout bounds one client command a module answers.
	CommandTimeout time.Duration `koanf:"command_timeout"`
	// NotifyQueue bounds the notifications waiting for one module; more
	// are dropped and counted.
	NotifyQueue int `koanf:"notify_queue"`
	// NotifyBatch is the most notifications sent in one call.
	NotifyBatch int `koanf:"notify_batch"`
	// NotifyTimeout bounds one batch of notifications.
	NotifyTimeout time.Duration `koanf:"notify_timeout"`
	// StopTimeout bounds a module's Stop hook, called when the server
	// shuts down, before the module's process is stopped.
	StopTimeout time.Duration `koanf:"stop_timeout"`
	// MaxDocBytes is the largest document a module may store.
	MaxDocBytes int `koanf:"max_doc_bytes"`
	// MessagesInFlight bounds the messages of one connection whose
	// OnMessage hooks are being asked at once; they are still delivered in
	// the order they were said.
	MessagesInFlight int `koanf:"messages_in_flight"`
	// ClusterEventBytes is the most data one cluster event of a module
	// carries to its processes on the other nodes.
	ClusterEventBytes int `koanf:"cluster_event_bytes"`
	// ClusterQueue bounds the cluster events from other nodes waiting for
	// one module; more are dropped and counted.
	ClusterQueue int `koanf:"cluster_queue"`
}

// PluginSpec is one plugin to run.
type PluginSpec struct {
	// Path is the binary; empty means <plugins.dir>/parlor-plugin-<name>.
	Path string `koanf:"path"`
	// Disabled keeps a configured plugin from starting.
	Disabled bool `koanf:"disabled"`
	// Config is handed to the plugin's Configure as JSON.
	Config map[string]any `koanf:"config"`
}

// Room is a room defined in the configuration file, with the seed's
// add_room properties.
type Room struct {
	ID             int64  `koanf:"id"`
	Name           string `koanf:"name"`
	Owner          string `koanf:"owner"`
	Desc           string `koanf:"desc"`
	Max            int    `koanf:"max"`
	Speaker        string `koanf:"speaker"`
	Member         bool   `koanf:"member"`
	Password       string `koanf:"pwd"`
	PassAllMessage bool   `koanf:"passallmessage"`
	Open           bool   `koanf:"en"`
	ST             int    `koanf:"st"`
	Welcome        string `koanf:"wm"`
	Audio          bool   `koanf:"audio"`
	Video          bool   `koanf:"video"`
	Whiteboard     bool   `koanf:"wb"`
	// OpenTimes are the room's opening times, as the server API's
	// roomOpen/Time entries (applied by the schedule module).
	OpenTimes []OpenTime `koanf:"open_times"`
	// TZ is the room's own IANA zone for its times; empty: chat.time_zone.
	TZ string `koanf:"tz"`
}

// OpenTime is one opening window of a room: o (daily, day1 for Monday to
// day7, special or hourly), s and e, as docs/server-api.md gives them.
type OpenTime struct {
	O string `koanf:"o"`
	S string `koanf:"s"`
	E string `koanf:"e"`
}

// Entries returns the times as sdk/schedule reads them.
func (r Room) Entries() []schedule.Entry {
	if len(r.OpenTimes) == 0 {
		return nil
	}
	out := make([]schedule.Entry, len(r.OpenTimes))
	for i, t := range r.OpenTimes {
		out[i] = schedule.Entry{O: t.O, S: t.S, E: t.E}
	}
	return out
}

// Default returns the embedded defaults (config/parlor.yaml's values).
func Default() *Config {
	c, err := Load("", nil, nil)
	if err != nil {
		// The embedded defaults are tested; failing here is a build defect.
		panic(fmt.Sprintf("embedded defaults: %v", err))
	}
	return c
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then environment variables from environ (PARLOR_*),
// then overrides (flat koanf keys such as "http.addr", usually from flags).
// A key that is not a setting is refused, with the setting it is probably
// meant to be; every unknown key and bad value is reported at once.
func Load(path string, environ []string, overrides map[string]any) (*Config, error) {
	k := koanf.New(".")
	var errs []error
	// layer loads one source on its own, refuses its unknown keys (saying
	// where they were found) and merges it over the sources before it.
	layer := func(p koanf.Provider, parser koanf.Parser, where string) error {
		l := koanf.New(".")
		if err := l.Load(p, parser); err != nil {
			return err
		}
		for _, u := range unknownKeys(l.Raw()) {
			errs = append(errs, u.describe(where))
		}
		return k.Merge(l)
	}
	if err := layer(rawbytes.Provider(defaults.Defaults), yaml.Parser(), "in the embedded defaults"); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		if err := layer(file.Provider(path), yaml.Parser(), "in "+path); err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if len(environ) > 0 {
		for _, kv := range environ {
			name, v, _ := strings.Cut(kv, "=")
			if key, val := configEnvKey(name, v); key != "" {
				errs = append(errs, unknownAt(key, val, "from "+name)...)
			}
		}
		envp := env.Provider(".", env.Opt{
			Prefix:        EnvPrefix,
			TransformFunc: configEnvKey,
			EnvironFunc:   func() []string { return environ },
		})
		if err := k.Load(envp, nil); err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
	}
	for key, v := range overrides {
		errs = append(errs, unknownAt(key, v, "from the command line")...)
		if err := k.Set(key, v); err != nil {
			return nil, fmt.Errorf("flag %s: %w", key, err)
		}
	}
	if err := defaultRooms(k); err != nil {
		return nil, err
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", FlatPaths: false}); err != nil {
		return nil, errors.Join(append(errs, explainDecode(err))...)
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &c, nil
}

// unknownAt refuses the flat key (such as http.addr) set to v if it is not
// a setting, saying where it came from.
func unknownAt(key string, v any, where string) []error {
	l := koanf.New(".")
	if err := l.Set(key, v); err != nil {
		return []error{fmt.Errorf("config key %s %s: %w", key, where, err)}
	}
	var errs []error
	for _, u := range unknownKeys(l.Raw()) {
		errs = append(errs, u.describe(where))
	}
	return errs
}

// configEnvKey is envKey for the variables that are config keys, and ""
// for the others (other prefixes, and those notConfigEnv lists).
func configEnvKey(name, v string) (string, any) {
	if !strings.HasPrefix(name, EnvPrefix) || notConfigEnv(name) {
		return "", nil
	}
	return envKey(name, v)
}

// envKey maps PARLOR_HTTP__MAX_FRAME_BYTES to http.max_frame_bytes. A value
// holding commas becomes a list (PARLOR_AUTH__CHAIN=authurl,users).
func envKey(k, v string) (string, any) {
	key := strings.ToLower(strings.TrimPrefix(k, EnvPrefix))
	key = strings.ReplaceAll(key, "__", ".")
	if key == "auth.chain" || key == "http.public_names" || key == "http.ws_urls" || key == "http.allowed_origins" || (strings.HasPrefix(key, "server_api.groups.") && strings.HasSuffix(key, ".allow_from")) {
		if v == "" {
			return key, []string{}
		}
		parts := strings.Split(v, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return key, parts
	}
	return key, v
}

// pluginName is what a plugin's name under plugins.load may be: it names
// the plugin's binary, and it has no '.', the mark of the core's own
// names in the plugins' key-value store (core/store, CoreKVPrefix).
var pluginName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

var decodeLine = regexp.MustCompile(`(?m)^'([A-Za-z0-9_.\[\]]+)' (.*)$`)

// explainDecode turns mapstructure's report into one line per bad key:
// "config key http.send_queue: cannot parse value as 'int': ...".
func explainDecode(err error) error {
	lines := decodeLine.FindAllStringSubmatch(err.Error(), -1)
	if len(lines) == 0 {
		return fmt.Errorf("config: %w", err)
	}
	errs := make([]error, 0, len(lines))
	for _, m := range lines {
		errs = append(errs, fmt.Errorf("config key %s: %s", strings.ToLower(m[1]), m[2]))
	}
	return errors.Join(errs...)
}

// Validate checks every value, naming the key at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("config key %s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of trace, debug, info, warn, error", c.Log.Level)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "%q is not host:port (%v)", c.HTTP.Addr, err)
	}
	if c.HTTP.MaxFrameBytes < 512 {
		bad("http.max_frame_bytes", "%d is below the minimum of 512", c.HTTP.MaxFrameBytes)
	}
	if c.HTTP.SendQueue < 1 {
		bad("http.send_queue", "must be at least 1")
	}
	positive := map[string]time.Duration{
		"http.login_timeout":      c.HTTP.LoginTimeout,
		"http.write_timeout":      c.HTTP.WriteTimeout,
		"http.ping_interval":      c.HTTP.PingInterval,
		"plugins.call_timeout":    c.Plugins.CallTimeout,
		"plugins.health_interval": c.Plugins.HealthInterval,
		"plugins.max_backoff":     c.Plugins.MaxBackoff,
		"auth.session_ttl":        c.Auth.SessionTTL,
		"modules.hook_timeout":    c.Modules.HookTimeout,
		"modules.command_timeout": c.Modules.CommandTimeout,
		"modules.notify_timeout":  c.Modules.NotifyTimeout,
		"modules.stop_timeout":    c.Modules.StopTimeout,
	}
	names := make([]string, 0, len(c.Plugins.Load))
	for name := range c.Plugins.Load {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !pluginName.MatchString(name) {
			bad("plugins.load", "%q is not a plugin name: letters, digits, '-' and '_', starting with a letter or digit", name)
		}
	}
	for _, name := range c.Modules.Order {
		if _, ok := c.Plugins.Load[name]; !ok {
			bad("modules.order", "%q is not a plugin of plugins.load", name)
		}
	}
	for key, n := range map[string]int{"modules.notify_queue": c.Modules.NotifyQueue, "modules.notify_batch": c.Modules.NotifyBatch, "modules.max_doc_bytes": c.Modules.MaxDocBytes, "modules.messages_in_flight": c.Modules.MessagesInFlight,
		"modules.cluster_event_bytes": c.Modules.ClusterEventBytes, "modules.cluster_queue": c.Modules.ClusterQueue} {
		if n < 1 {
			bad(key, "must be at least 1")
		}
	}
	for _, key := range []string{"http.login_timeout", "http.write_timeout", "http.ping_interval", "plugins.call_timeout", "plugins.health_interval", "plugins.max_backoff", "auth.session_ttl", "modules.hook_timeout", "modules.command_timeout", "modules.notify_timeout", "modules.stop_timeout"} {
		if positive[key] <= 0 {
			bad(key, "must be a positive duration such as 5s")
		}
	}
	if c.Auth.ReconnectTTL <= 0 {
		bad("auth.reconnect_ttl", "must be a positive duration such as 30m")
	}
	if c.Chat.Group == "" {
		bad("chat.group", "must not be empty")
	}
	if c.Chat.History < 0 || c.Chat.History > 1000 {
		bad("chat.history", "%d is outside 0..1000", c.Chat.History)
	}
	if c.Chat.MaxMessageChars < 1 {
		bad("chat.max_message_chars", "must be at least 1")
	}
	if c.Chat.SaveTimeout <= 0 {
		bad("chat.save_timeout", "must be a positive duration such as 10s")
	}
	if c.Chat.MaxUnsaved < 1 {
		bad("chat.max_unsaved", "must be at least 1")
	}
	if c.Chat.RoomListDelay < 0 || c.Chat.RoomListDelay > 10*time.Second {
		bad("chat.room_list_delay", "%s is outside 0s..10s", c.Chat.RoomListDelay)
	}
	if c.Chat.PresenceBatch < 1 || c.Chat.PresenceBatch > 1000 {
		bad("chat.presence_batch", "%d is outside 1..1000", c.Chat.PresenceBatch)
	}
	if c.Chat.RoomListWrites < 0 || c.Chat.RoomListWrites > 10_000_000 {
		bad("chat.room_list_writes", "%d is outside 0..10000000", c.Chat.RoomListWrites)
	}
	for i, name := range c.Auth.Chain {
		spec, ok := c.Plugins.Load[name]
		if !ok {
			bad(fmt.Sprintf("auth.chain[%d]", i), "plugin %q is not configured under plugins.load", name)
		} else if spec.Disabled {
			bad(fmt.Sprintf("auth.chain[%d]", i), "plugin %q is disabled", name)
		}
	}
	seen := map[int64]bool{}
	for i, r := range c.Rooms {
		key := fmt.Sprintf("rooms[%d]", i)
		if r.ID <= 0 {
			bad(key+".id", "must be a positive number")
		} else if seen[r.ID] {
			bad(key+".id", "room id %d is used twice", r.ID)
		}
		seen[r.ID] = true
		if strings.TrimSpace(r.Name) == "" {
			bad(key+".name", "must not be empty")
		}
		if r.Max < 0 {
			bad(key+".max", "must not be negative")
		}
		if r.ST != 0 && r.ST != 2 {
			bad(key+".st", "%d is not 0 or 2", r.ST)
		}
		if _, err := schedule.ParseAll(r.Entries()); err != nil {
			bad(key+".open_times", "room %q: %v", r.Name, err)
		}
		if r.TZ != "" {
			if _, err := schedule.LoadZone(r.TZ); err != nil {
				bad(key+".tz", "room %q: %v", r.Name, err)
			}
		}
	}
	if _, err := schedule.LoadZone(c.Chat.TimeZone); err != nil {
		bad("chat.time_zone", "%v", err)
	}
	c.validateServerAPI(bad)
	c.validateTCP(bad)
	c.validateAuthLimits(bad)
	c.validateLimits(bad)
	c.validateCluster(bad)
	c.validateWebClient(bad)
	c.validateStore(bad)
	return errors.Join(errs...)
}

// validateTCP checks the tcp section.
func (c *Config) validateTCP(bad func(key, format string, a ...any)) {
	t := c.TCP
	if t.Addr != "" {
		if _, _, err := net.SplitHostPort(t.Addr); err != nil {
			bad("tcp.addr", "%q is not host:port (%v); leave it empty to turn the TCP listener off", t.Addr, err)
		}
	}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		bad("tcp.tls_cert", "tcp.tls_cert and tcp.tls_key must be set together")
	}
	if t.KeepAlive <= 0 {
		bad("tcp.keep_alive", "must be a positive duration such as 30s")
	}
	if t.IdleTimeout < 0 {
		bad("tcp.idle_timeout", "must not be negative (0: no idle timeout)")
	}
}

// validateAuthLimits checks the limits of the login pipeline.
func (c *Config) validateAuthLimits(bad func(key, format string, a ...any)) {
	a := c.Auth
	if a.MaxPasswordChecks < 0 || a.MaxPasswordChecks > 10000 {
		bad("auth.max_password_checks", "%d is outside 0..10000 (0: twice the number of CPUs)", a.MaxPasswordChecks)
	}
	if a.PasswordCheckWait <= 0 {
		bad("auth.password_check_wait", "must be a positive duration such as 2s")
	}
	if err := a.Limits.FailedLoginsPerAccount.Validate(); err != nil {
		bad("auth.limits.failed_logins_per_account", "%v", err)
	}
	if err := a.Limits.FailedLoginsPerAddr.Validate(); err != nil {
		bad("auth.limits.failed_logins_per_addr", "%v", err)
	}
}

// validateServerAPI checks the server_api and status sections, reporting
// each bad value through bad with the key at fault.
func (c *Config) validateServerAPI(bad func(key, format string, a ...any)) {
	a := c.ServerAPI
	if a.Addr != "" {
		if _, _, err := net.SplitHostPort(a.Addr); err != nil {
			bad("server_api.addr", "%q is not host:port (%v); leave it empty to turn the TCP listener off", a.Addr, err)
		}
	}
	if a.ReadTimeout <= 0 {
		bad("server_api.read_timeout", "must be a positive duration such as 10s")
	}
	if a.MaxFrameBytes < 512 || a.MaxFrameBytes > 16<<20 {
		bad("server_api.max_frame_bytes", "%d is outside 512..16777216", a.MaxFrameBytes)
	}
	if a.MaxConns < 1 {
		bad("server_api.max_conns", "must be at least 1")
	}
	if a.MaxConnsPerAddr < 1 {
		bad("server_api.max_conns_per_addr", "must be at least 1")
	}
	if err := a.FailedPasswordsPerAddr.Validate(); err != nil {
		bad("server_api.failed_passwords_per_addr", "%v", err)
	}
	names := make([]string, 0, len(a.Groups))
	for name := range a.Groups {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		g := a.Groups[name]
		key := "server_api.groups." + name
		if strings.TrimSpace(name) == "" {
			bad("server_api.groups", "a group name must not be empty")
		}
		if g.Password != "" && len(g.Password) < MinAPIPasswordLen {
			bad(key+".api_pwd", "is shorter than %d characters", MinAPIPasswordLen)
		}
		for i, entry := range g.AllowFrom {
			if err := CheckAllowFrom(entry); err != nil {
				bad(fmt.Sprintf("%s.allow_from[%d]", key, i), "%v", err)
			}
		}
	}
	if c.Status.Enabled && c.Status.MinInterval < 10*time.Millisecond {
		bad("status.min_interval", "must be at least 10ms")
	}
}

// CheckAllowFrom reports whether entry is an allowed-address entry: "*",
// an IP address or a CIDR prefix.
func CheckAllowFrom(entry string) error {
	entry = strings.TrimSpace(entry)
	switch {
	case entry == "*":
		return nil
	case strings.Contains(entry, "/"):
		if _, err := netip.ParsePrefix(entry); err != nil {
			return fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", entry)
		}
	default:
		if _, err := netip.ParseAddr(entry); err != nil {
			return fmt.Errorf("%q is not an IP address, a CIDR prefix or \"*\"", entry)
		}
	}
	return nil
}
