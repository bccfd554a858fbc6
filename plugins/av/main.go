// Command parlor-plugin-av is the audio/video module: calls in the rooms
// whose audio flag is on (with cameras where video is on too). Browsers
// connect to each other directly (a mesh of WebRTC peer connections);
// the module keeps who is in each room's call, relays the SDP offers and
// answers and the ICE candidates between two participants of the same
// call, checks membership, roles, sanctions, the participant cap and the
// size and rate of signals, and hands out the ICE servers, with
// short-lived TURN credentials (coturn's static-auth-secret scheme).
// docs/av.md is the protocol; web/ is the web client's call.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

//go:embed web
var web embed.FS

// Command types.
const (
	cmdState  = "av.state"
	cmdJoin   = "av.join"
	cmdLeave  = "av.leave"
	cmdSignal = "av.signal"
)

// Event types.
const (
	evJoined = "av.joined"
	evLeft   = "av.left"
	evEnded  = "av.ended"
	evSignal = "av.signal"
)

// hostTimeout bounds one Host API call the module makes on its own
// (events, the sweep), outside any command's deadline.
const hostTimeout = 5 * time.Second

// module is the audio/video module.
type module struct {
	log hclog.Logger

	mu    sync.Mutex
	cfg   config
	host  sdk.Host
	calls map[int64]*call
	// version numbers the changes of the calls' participants, so that a
	// client takes the latest of answers and events that cross.
	version int64
	sfu     *sfu // mode sfu: the forwarding unit
	stop    context.CancelFunc
	done    chan struct{}

	// emitMu keeps the membership events in the order of the changes:
	// taken while mu is held, released after sending.
	emitMu sync.Mutex
}

// newModule makes the module; Configure gives it its host.
func newModule(log hclog.Logger) *module {
	return &module{log: log, cfg: defaults(), calls: map[int64]*call{}}
}

// Configure reads the configuration and, the first time, starts the
// loop that ends the calls of a module that ran before and sweeps out
// participants who are gone.
func (m *module) Configure(_ context.Context, cfg sdk.Config) error {
	c, err := parseConfig(cfg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.Mode == modeSFU && m.sfu == nil && cfg.Host != nil {
		s, err := newSFU(m.log, c.UDP, c.PublicIP, signalSender(cfg.Host, m.log))
		if err != nil {
			return err
		}
		m.sfu = s
	}
	m.cfg, m.host = c, cfg.Host
	if cfg.Host != nil && m.stop == nil {
		ctx, stop := context.WithCancel(context.Background())
		m.stop, m.done = stop, make(chan struct{})
		go m.run(ctx)
	}
	return nil
}

// Close stops the loop (tests; the plugin process just ends).
func (m *module) Close() {
	m.mu.Lock()
	stop, done, s := m.stop, m.done, m.sfu
	m.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if s != nil {
		s.Close()
	}
}

func (m *module) Manifest() sdk.Manifest {
	sub, _ := fs.Sub(web, "web")
	return sdk.Manifest{
		Commands: []string{"av."},
		// A muted member still sees who is in the call, and may leave it.
		Quiet:  []string{cmdState, cmdLeave},
		Assets: sub,
		Client: "main.js",
		// Only who goes away matters to a call.
		Notify: []sdk.NotificationKind{sdk.Left, sdk.LoggedOut},
	}
}

// request is the fields of an av.* frame the module reads.
type request struct {
	Publish     *bool           `json:"publish"`
	To          string          `json:"to"`
	Description *description    `json:"description"`
	Candidate   json.RawMessage `json:"candidate"`
}

// description is an RTCSessionDescription.
type description struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

func (m *module) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	m.mu.Lock()
	cfg, host := m.cfg, m.host
	m.mu.Unlock()
	if host == nil {
		return sdk.Reply{}, errors.New("av: no host API")
	}
	if cmd.Type == cmdSignal && len(cmd.Data) > cfg.MaxSignalBytes {
		return sdk.Reply{}, refuse("signal_too_large", "A signal is at most %d bytes (max_signal_bytes); this one has %d.", cfg.MaxSignalBytes, len(cmd.Data))
	}
	var req request
	if err := json.Unmarshal(cmd.Data, &req); err != nil {
		return sdk.Reply{}, refuse("bad_request", "The %s request is not valid JSON of the call protocol: %v.", cmd.Type, err)
	}
	if cmd.Room == 0 || cmd.Caller.Room != cmd.Room {
		if cmd.Type == cmdLeave {
			m.leaveAll(cmd.Caller.Name, "left")
			return reply(leaveReply{Left: true})
		}
		return sdk.Reply{}, refuse("not_in_room", "Enter the room to take part in its call.")
	}
	var (
		v   any
		err error
	)
	switch cmd.Type {
	case cmdState:
		v, err = m.state(ctx, host, cmd)
	case cmdJoin:
		v, err = m.join(ctx, &cfg, host, cmd, req)
	case cmdLeave:
		v = leaveReply{Left: m.leave(cmd.Room, cmd.Caller.Name, "left")}
	case cmdSignal:
		v, err = m.signal(ctx, host, cmd, req)
	default:
		return sdk.Reply{}, refuse("unknown_command", "The call knows av.state, av.join, av.leave and av.signal.")
	}
	if err != nil {
		return sdk.Reply{}, err
	}
	return reply(v)
}

func reply(v any) (sdk.Reply, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("av: encode the answer: %w", err)
	}
	return sdk.Reply{Data: data}, nil
}

// OnNotify takes out of their calls the users who left a room or the
// chat. A notification older than a participant's join (a reload: the
// old connection's logout arrives after the new one joined) is ignored.
func (m *module) OnNotify(_ context.Context, batch []sdk.Notification) {
	for _, n := range batch {
		switch n.Kind {
		case sdk.Left:
			m.leaveIf(n.Room, n.User, "left", n.Time)
		case sdk.LoggedOut:
			m.mu.Lock()
			rooms := make([]int64, 0, len(m.calls))
			for id := range m.calls {
				rooms = append(rooms, id)
			}
			m.mu.Unlock()
			for _, id := range rooms {
				m.leaveIf(id, n.User, "disconnected", n.Time)
			}
		}
	}
}

func main() {
	log := sdk.NewLogger("av")
	sdk.Serve(sdk.ServeOpts{Module: newModule(log), Logger: log})
}
