// Command parlor-plugin-whiteboard is the whiteboard module: a shared
// drawing board in every room whose whiteboard flag is on (the seed's
// wb=1). The module is the single writer of each board: members send
// batches of changes (wb.ops), the module checks them against the
// room's permissions and the limits, numbers every accepted batch and
// relays it to the room (wb.batch); late joiners and reconnecting
// clients catch up with wb.sync. Boards are stored through the Host
// API's documents within save_interval of a change, and every changed
// board is stored when the module is stopped (sdk.Stopper), so they
// survive restarts. With several nodes, the node holding a board's lease
// is its writer and the others forward their members' commands to it
// (cluster.go). docs/whiteboard.md is the protocol; web/ is the web
// client's board.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

//go:embed web
var web embed.FS

// Command types.
const (
	cmdSync     = "wb.sync"
	cmdOps      = "wb.ops"
	cmdCursor   = "wb.cursor"
	cmdClear    = "wb.clear"
	cmdArchive  = "wb.archive"
	cmdArchives = "wb.archives"
)

// Event types.
const (
	evBatch   = "wb.batch"
	evCursors = "wb.cursors"
	evReset   = "wb.reset"
)

// module is the whiteboard module.
type module struct {
	log hclog.Logger

	peers *peers

	mu     sync.Mutex
	cfg    config
	host   sdk.Host
	boards map[int64]*board
	rooms  *roomCache
	leases *sdk.Leases // the leases of the boards this node writes
}

// newModule makes the module; Configure gives it its host.
func newModule(log hclog.Logger) *module {
	return &module{log: log, cfg: defaults(), boards: map[int64]*board{}, peers: newPeers()}
}

func (m *module) Configure(_ context.Context, cfg sdk.Config) error {
	c, err := parseConfig(cfg)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg, m.host = c, cfg.Host
	if cfg.Host != nil {
		m.rooms = newRoomCache(cfg.Host.Rooms())
		m.leases = sdk.NewLeases(cfg.Host.Cluster(), m.lost)
	}
	return nil
}

// Manifest declares the wb. commands (the reads quiet) and the web
// client; OnClusterEvent (cluster.go) declares the cluster events.
func (m *module) Manifest() sdk.Manifest {
	sub, _ := fs.Sub(web, "web")
	return sdk.Manifest{
		Commands: []string{"wb."},
		Quiet:    []string{cmdSync, cmdArchives},
		Assets:   sub,
		Client:   "main.js",
	}
}

// request is the fields of a wb.* frame the module reads.
type request struct {
	Since *int64  `json:"since"`
	Epoch string  `json:"epoch"`
	After int     `json:"after"`
	Ops   []Op    `json:"ops"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
}

// Command answers a member's wb.* command: here when this node writes the
// board, else through the node that does.
func (m *module) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	return m.command(ctx, cmd, false)
}

// command answers cmd; forwarded says another node forwarded it to this
// one as the board's writer (it is not forwarded again).
func (m *module) command(ctx context.Context, cmd sdk.Command, forwarded bool) (sdk.Reply, error) {
	m.mu.Lock()
	cfg, host, rc := m.cfg, m.host, m.rooms
	m.mu.Unlock()
	if host == nil {
		return sdk.Reply{}, fmt.Errorf("whiteboard: no host API")
	}
	if cmd.Type == cmdOps && len(cmd.Data) > cfg.FrameBytes+1024 {
		return sdk.Reply{}, refuse("frame_too_large", "A batch is at most %d bytes; send fewer changes at once.", cfg.FrameBytes)
	}
	var req request
	if err := json.Unmarshal(cmd.Data, &req); err != nil {
		return sdk.Reply{}, refuse("bad_request", "The %s request is not valid JSON of the whiteboard protocol: %v.", cmd.Type, err)
	}
	if cmd.Room == 0 || cmd.Caller.Room != cmd.Room {
		return sdk.Reply{}, refuse("not_in_room", "Enter the room to use its whiteboard.")
	}
	room, err := rc.get(ctx, cmd.Room)
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		return sdk.Reply{}, fmt.Errorf("read room %d: %w", cmd.Room, err)
	}
	if err != nil || !room.Whiteboard {
		return sdk.Reply{}, refuse("no_whiteboard", "This room has no whiteboard.")
	}
	p := permissions(&cfg, cmd.Caller, room)
	// At most two tries: the writer the lease names may have just lost
	// it (it answers codeMoved) or be gone (it does not answer); the
	// lease then names another, or this node takes it once it lapsed.
	var failed string // the writer that did not answer, or was none
	for tries := 0; ; tries++ {
		b, holder, err := m.writer(ctx, cmd.Room)
		if err != nil {
			if forwarded {
				// Unsure whether it is still the writer, this node lets
				// the one asking find out.
				return sdk.Reply{}, refuse(codeMoved, "This server cannot tell whether it keeps the whiteboard; ask again.")
			}
			return sdk.Reply{}, err
		}
		if b != nil {
			reply, err := m.apply(ctx, &cfg, b, cmd, req, p)
			if errors.Is(err, errRetired) {
				if tries < 1 {
					continue
				}
				return sdk.Reply{}, refuse(codeMoved, "The whiteboard moved to another server; try again.")
			}
			return reply, err
		}
		if forwarded {
			return sdk.Reply{}, refuse(codeMoved, "This server no longer keeps the whiteboard; ask again.")
		}
		if holder == failed || tries > 1 {
			return sdk.Reply{}, refuse(codeUnavailable, "The whiteboard's server does not answer; try again in a few seconds.")
		}
		reply, err, retry := m.forward(ctx, host, &cfg, holder, cmd)
		if !retry {
			return reply, err
		}
		failed = holder
		m.boardLeases().Forget(leaseName(cmd.Room))
	}
}

// apply runs cmd on the board this node writes.
func (m *module) apply(ctx context.Context, cfg *config, b *board, cmd sdk.Command, req request, p perms) (sdk.Reply, error) {
	var (
		v   any
		err error
	)
	switch cmd.Type {
	case cmdSync:
		v, err = b.sync(cfg, req, p)
	case cmdOps:
		if !p.Draw {
			return sdk.Reply{}, refuse("not_allowed", "%s", p.why)
		}
		v, err = b.ops(cfg, cmd.Caller.Name, p.Moderate, req.Ops)
	case cmdCursor:
		if !p.Draw {
			return sdk.Reply{}, refuse("not_allowed", "%s", p.why)
		}
		v, err = b.cursor(cfg, cmd.Caller.Name, req.X, req.Y)
	case cmdClear, cmdArchive, cmdArchives:
		if !p.Moderate {
			return sdk.Reply{}, refuse("not_allowed", "Only the room's moderators may do that.")
		}
		switch cmd.Type {
		case cmdClear:
			v, err = b.reset(cmd.Caller.Name, "cleared")
		case cmdArchive:
			v, err = b.archive(ctx, cfg, cmd.Caller.Name)
		default:
			v, err = b.archives(ctx)
		}
	default:
		return sdk.Reply{}, refuse("unknown_command", "The whiteboard knows wb.sync, wb.ops, wb.cursor, wb.clear, wb.archive and wb.archives.")
	}
	if err != nil {
		return sdk.Reply{}, err
	}
	data, err := json.Marshal(v)
	return sdk.Reply{Data: data}, err
}

// Stop stores every board that changed since it was last stored: the
// server calls it before it ends the module's process, while the Host
// API still works. The boards that could not be stored are named in the
// error.
func (m *module) Stop(ctx context.Context) error {
	m.mu.Lock()
	boards := make([]*board, 0, len(m.boards))
	for _, b := range m.boards {
		boards = append(boards, b)
	}
	m.mu.Unlock()
	var errs []error
	saved := 0
	for _, b := range boards {
		n, err := b.saveNow(ctx)
		saved += n
		if err != nil {
			errs = append(errs, fmt.Errorf("room %d: %w", b.room, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store the boards on stop: %w", err)
	}
	m.log.Info("boards stored on stop", "stored", saved)
	// Stored, the boards can move to another node at once.
	if leases := m.boardLeases(); leases != nil {
		if err := leases.Close(ctx); err != nil {
			m.log.Warn("give up the boards' leases", "error", err)
		}
	}
	return nil
}

// board returns the board of a room, loading it from the store the first
// time.
func (m *module) board(ctx context.Context, room int64) (*board, error) {
	m.mu.Lock()
	b, ok := m.boards[room]
	if !ok {
		b = newBoard(room, m.host, m.log, m.cfg)
		b.writer = func(ctx context.Context) bool { return m.stillWriter(ctx, room) }
		m.boards[room] = b
	}
	m.mu.Unlock()
	if err := b.ensureLoaded(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func main() {
	log := sdk.NewLogger("whiteboard")
	sdk.Serve(sdk.ServeOpts{Module: newModule(log), Logger: log})
}
