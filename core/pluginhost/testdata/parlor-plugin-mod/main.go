// Command parlor-plugin-mod is a test module. Started as parlor-plugin-mod
// it implements every hook and owns the "mod." commands; started through a
// link whose name ends in -bare it implements no hook and serves only HTTP
// and assets; through one that ends in -nochannel it leaves the message
// channel the host offers alone, as a plugin of an earlier sdk does. Its
// OnMessage hangs for "hang" (ignoring cancellation), exits for "crash", exits once for "crash-once" (while the file named by
// the config key "crash_file" does not exist: it creates it first), and
// holds a text that starts with "hold" (note "test hold"), and upper-cases
// any other text. "mod.seen" answers how many notifications arrived;
// "mod.queue" the held-queue notifications, as "kind id text actor
// reason" strings; "mod.kinds" the kinds of the notifications that
// arrived, in order, each once; a batch naming the user "hang" blocks its
// stream for good. "mod.cluster" answers the cluster events that
// arrived, as "node topic data" strings. The config key "notify" lists the kinds it wants
// (Manifest.Notify). Its Stop appends "+" to the KV key "stops" through
// the Host API; with the config key "stop" set to "hang" it first sets
// "stopping" and then never returns, ignoring its deadline.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"

	"github.com/parlorchat/parlor/sdk"
)

type config struct {
	CrashFile string                 `json:"crash_file"`
	Prefix    string                 `json:"prefix"`
	Notify    []sdk.NotificationKind `json:"notify"`
	Stop      string                 `json:"stop"`
}

// bare serves HTTP and assets only.
type bare struct {
	cfg config
}

func (b *bare) Configure(_ context.Context, cfg sdk.Config) error {
	return cfg.Decode(&b.cfg)
}

func (b *bare) Manifest() sdk.Manifest {
	prefix := b.cfg.Prefix
	if prefix == "" {
		prefix = "/mod/"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+prefix+"echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s from %s cookie %q", r.FormValue("say"), sdk.ClientIP(r), r.Header.Get("Cookie"))
	})
	return sdk.Manifest{
		HTTPPrefix: prefix,
		HTTP:       mux,
		Assets: fstest.MapFS{
			"main.js":       {Data: []byte("export default function init(api) {}\n")},
			"css/panel.css": {Data: []byte(".panel{}\n")},
			"LICENSE":       {Data: []byte("MIT\n")},
		},
		Client: "main.js",
	}
}

// full implements every hook and the mod. commands.
type full struct {
	bare
	host sdk.Host
	seen atomic.Int64

	mu      sync.Mutex
	queue   []string               // the held-queue notifications, in order
	kinds   []sdk.NotificationKind // the kinds seen, each once
	cluster []string               // the cluster events, in order
}

func (f *full) Configure(ctx context.Context, cfg sdk.Config) error {
	f.host = cfg.Host
	return f.bare.Configure(ctx, cfg)
}

func (f *full) Manifest() sdk.Manifest {
	m := f.bare.Manifest()
	m.Commands = []string{"mod."}
	m.Quiet = []string{"mod.seen"}
	m.Notify = f.cfg.Notify
	return m
}

func (f *full) Stop(ctx context.Context) error {
	if f.host == nil {
		return errors.New("no host API")
	}
	if f.cfg.Stop == "hang" {
		if err := f.host.KV().Set(ctx, "stopping", []byte("yes"), 0); err != nil {
			return err
		}
		select {}
	}
	v, _, err := f.host.KV().Get(ctx, "stops")
	if err != nil {
		return err
	}
	return f.host.KV().Set(ctx, "stops", append(v, '+'), 0)
}

func (f *full) OnLogin(_ context.Context, ev sdk.LoginEvent) (sdk.LoginVerdict, error) {
	if ev.Name == "mallory" {
		return sdk.LoginVerdict{Deny: true, Reason: "not you, " + ev.Name}, nil
	}
	return sdk.LoginVerdict{Display: strings.ToUpper(ev.Name)}, nil
}

func (f *full) OnJoin(_ context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	if ev.Room.Moderated && ev.User.Role != sdk.RoleModerator {
		return sdk.JoinVerdict{}, &sdk.Refusal{Code: "closed", Message: "Room " + ev.Room.Name + " is closed."}
	}
	return sdk.JoinVerdict{}, nil
}

func (f *full) OnMessage(_ context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	switch ev.Text {
	case "hang":
		select {}
	case "crash":
		os.Exit(2)
	case "crash-once":
		if _, err := os.Stat(f.cfg.CrashFile); errors.Is(err, os.ErrNotExist) {
			_ = os.WriteFile(f.cfg.CrashFile, nil, 0o600)
			os.Exit(2)
		}
		return sdk.MessageVerdict{}, nil
	case "refuse":
		return sdk.MessageVerdict{}, &sdk.Refusal{Code: "flood", Message: "Slow down."}
	}
	if strings.HasPrefix(ev.Text, "hold") {
		return sdk.MessageVerdict{Action: sdk.Hold, Note: "test hold"}, nil
	}
	return sdk.MessageVerdict{Action: sdk.Modify, Text: strings.ToUpper(ev.Text), Style: ev.Style}, nil
}

func (f *full) Command(_ context.Context, cmd sdk.Command) (sdk.Reply, error) {
	switch cmd.Type {
	case "mod.seen":
		b, _ := json.Marshal(f.seen.Load())
		return sdk.Reply{Data: b}, nil
	case "mod.queue":
		f.mu.Lock()
		b, _ := json.Marshal(f.queue)
		f.mu.Unlock()
		return sdk.Reply{Data: b}, nil
	case "mod.kinds":
		f.mu.Lock()
		b, _ := json.Marshal(f.kinds)
		f.mu.Unlock()
		return sdk.Reply{Data: b}, nil
	case "mod.cluster":
		f.mu.Lock()
		b, _ := json.Marshal(f.cluster)
		f.mu.Unlock()
		return sdk.Reply{Data: b}, nil
	case "mod.echo":
		b, _ := json.Marshal(map[string]any{"caller": cmd.Caller.Name, "role": cmd.Caller.Role, "room": cmd.Room, "frame": json.RawMessage(cmd.Data)})
		return sdk.Reply{Data: b}, nil
	}
	return sdk.Reply{}, &sdk.Refusal{Code: "unknown", Message: "No such command " + cmd.Type + "."}
}

func (f *full) OnNotify(_ context.Context, batch []sdk.Notification) {
	for _, n := range batch {
		if n.User == "hang" {
			select {}
		}
		f.mu.Lock()
		if !slices.Contains(f.kinds, n.Kind) {
			f.kinds = append(f.kinds, n.Kind)
		}
		f.mu.Unlock()
		switch n.Kind {
		case sdk.MessageHeld, sdk.MessageReleased, sdk.MessageDeclined:
			f.mu.Lock()
			f.queue = append(f.queue, fmt.Sprintf("%s %d %s %s %s", n.Kind, n.Held.ID, n.Held.Message.Text, n.Resolution.Actor, n.Resolution.Reason))
			f.mu.Unlock()
		}
	}
	f.seen.Add(int64(len(batch)))
}

func (f *full) OnClusterEvent(_ context.Context, ev sdk.ClusterEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cluster = append(f.cluster, ev.Node+" "+ev.Topic+" "+string(ev.Data))
}

func main() {
	log := sdk.NewLogger("mod")
	var m sdk.Module = &full{}
	if strings.HasSuffix(os.Args[0], "-bare") {
		m = &bare{}
	}
	if strings.HasSuffix(os.Args[0], "-nochannel") {
		// As a plugin built with an sdk from before the message channel.
		_ = os.Unsetenv(sdk.MessageChannelEnv)
	}
	sdk.Serve(sdk.ServeOpts{Module: m, Logger: log})
}
