package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parlorchat/parlor/sdk"
)

// With several nodes every node runs the module, and each board has one
// writer: the node holding the lease "board.<room>" (docs/whiteboard.md,
// "Several nodes"). A node takes the lease when a command for the board
// arrives and the lease is free; while it holds it, it applies, numbers,
// stores and relays as a single server does (the relay is a room event,
// which reaches the members on every node). Another node keeps no copy
// of the board: it forwards each wb.* command of its members to the
// writer as a cluster event and answers the member with the writer's
// answer, so snapshots and the batches since a seq always come from the
// writer. When the writer stops answering and its lease lapses, the next
// command takes the lease and the board is loaded from the store under a
// new epoch, its seq going on from the stored one.

// Topics of the module's cluster events.
const (
	topicRequest = "wb.request" // a member's command, forwarded to the board's writer
	topicAnswer  = "wb.answer"  // the writer's answer, to the node that forwarded it
)

// maxServing bounds the forwarded commands a writer serves at once;
// beyond it the module takes no more cluster events until one is done
// (the host queues them, and drops past modules.cluster_queue).
const maxServing = 64

// Refusal codes of the board's moves between nodes; the web client
// reloads the board after either.
const (
	codeUnavailable = "board_unavailable" // the writer does not answer, or the lease cannot be read
	codeMoved       = "board_moved"       // the node asked is no longer the writer
)

// errRetired is what a board answers once its lease is lost: the command
// is asked again of the board's new writer.
var errRetired = errors.New("the board moved to another node")

// forwarded is a command forwarded to the board's writer.
type forwarded struct {
	ID     string          `json:"id"`   // unique among the requests of the sending process
	From   string          `json:"from"` // the node waiting for the answer
	To     string          `json:"to"`   // the writer it is for
	Type   string          `json:"type"`
	Caller sdk.Caller      `json:"caller"`
	Room   int64           `json:"room"`
	Data   json.RawMessage `json:"data"`
}

// answer is the writer's answer to a forwarded command: the reply's data, a
// refusal, or an error.
type answer struct {
	ID      string          `json:"id"`
	To      string          `json:"to"`
	Data    json.RawMessage `json:"data,omitempty"`
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// reply is the answer as the command's outcome on the forwarding node.
func (a answer) reply() (sdk.Reply, error) {
	switch {
	case a.Code != "":
		return sdk.Reply{}, &sdk.Refusal{Code: a.Code, Message: a.Message}
	case a.Error != "":
		return sdk.Reply{}, fmt.Errorf("the board's writer failed: %s", a.Error)
	}
	return sdk.Reply{Data: a.Data}, nil
}

// peers is the module's side of the cluster: the requests it waits for,
// and the node it runs on.
type peers struct {
	prefix  string // makes request ids unique to this process
	next    atomic.Int64
	serving chan struct{}

	mu      sync.Mutex
	node    string
	pending map[string]chan answer
}

func newPeers() *peers {
	return &peers{prefix: newEpoch() + "-", serving: make(chan struct{}, maxServing), pending: map[string]chan answer{}}
}

// leaseName is the lease of a room's board.
func leaseName(room int64) string { return "board." + strconv.FormatInt(room, 10) }

// roomOf is the room of a board's lease name; 0 for another name.
func roomOf(lease string) int64 {
	id, err := strconv.ParseInt(strings.TrimPrefix(lease, "board."), 10, 64)
	if err != nil || !strings.HasPrefix(lease, "board.") {
		return 0
	}
	return id
}

// nodeName is the node the module runs on.
func (m *module) nodeName(ctx context.Context, host sdk.Host) (string, error) {
	m.peers.mu.Lock()
	node := m.peers.node
	m.peers.mu.Unlock()
	if node != "" {
		return node, nil
	}
	node, err := host.Cluster().Node(ctx)
	if err != nil {
		return "", err
	}
	m.peers.mu.Lock()
	m.peers.node = node
	m.peers.mu.Unlock()
	return node, nil
}

// writer returns the board of room when this node is its writer, taking
// the lease when it is free; otherwise the node that is.
func (m *module) writer(ctx context.Context, room int64) (*board, string, error) {
	lease, err := m.boardLeases().Hold(ctx, leaseName(room))
	if err != nil {
		m.log.Warn("the board's lease cannot be read", "room", room, "error", err)
		return nil, "", refuse(codeUnavailable, "The whiteboard is not available right now; try again in a moment.")
	}
	if !lease.Mine {
		return nil, lease.Holder, nil
	}
	b, err := m.board(ctx, room)
	return b, "", err
}

// lost follows a board's lease that this node lost: the board stops
// taking changes here, and the next command finds the new writer.
func (m *module) lost(name string) {
	room := roomOf(name)
	if room == 0 {
		return
	}
	m.mu.Lock()
	b := m.boards[room]
	delete(m.boards, room)
	m.mu.Unlock()
	if b != nil {
		m.log.Warn("lost the lease of a board; another node writes it now", "room", room)
		go b.retire()
	}
}

// stillWriter reports whether this node holds the lease of room.
func (m *module) stillWriter(ctx context.Context, room int64) bool {
	lease, err := m.boardLeases().Hold(ctx, leaseName(room))
	return err == nil && lease.Mine
}

// boardLeases are the leases of the boards; Configure made them.
func (m *module) boardLeases() *sdk.Leases {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leases
}

// forward asks the board's writer to answer cmd and waits for its answer,
// up to forward_timeout. again is true when the command should be asked
// once more of the writer the lease names then: the writer was no longer
// one, or did not answer (its lease lapses when its node is gone).
func (m *module) forward(ctx context.Context, host sdk.Host, cfg *config, to string, cmd sdk.Command) (_ sdk.Reply, _ error, again bool) {
	node, err := m.nodeName(ctx, host)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("forward %s: %w", cmd.Type, err), false
	}
	p := m.peers
	req := forwarded{ID: p.prefix + strconv.FormatInt(p.next.Add(1), 10), From: node, To: to,
		Type: cmd.Type, Caller: cmd.Caller, Room: cmd.Room, Data: cmd.Data}
	data, err := json.Marshal(req)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("forward %s: %w", cmd.Type, err), false
	}
	ch := make(chan answer, 1)
	p.mu.Lock()
	p.pending[req.ID] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, req.ID)
		p.mu.Unlock()
	}()
	if err := host.Cluster().Publish(ctx, topicRequest, data); err != nil {
		if errors.Is(err, sdk.ErrInvalid) {
			return sdk.Reply{}, refuse("frame_too_large", "This request is too large to reach the whiteboard's server; send fewer changes at once."), false
		}
		m.log.Warn("forward a command to the board's writer", "room", cmd.Room, "writer", to, "error", err)
		return sdk.Reply{}, refuse(codeUnavailable, "The whiteboard is not available right now; try again in a moment."), false
	}
	wait, cancel := context.WithTimeout(ctx, cfg.ForwardTimeout)
	defer cancel()
	select {
	case a := <-ch:
		if a.Code == codeMoved {
			return sdk.Reply{}, nil, true
		}
		r, err := a.reply()
		return r, err, false
	case <-wait.Done():
		if ctx.Err() != nil {
			return sdk.Reply{}, fmt.Errorf("forward %s: %w", cmd.Type, ctx.Err()), false
		}
		m.log.Warn("the board's writer did not answer", "room", cmd.Room, "writer", to, "after", cfg.ForwardTimeout)
		return sdk.Reply{}, nil, true
	}
}

// OnClusterEvent serves the commands other nodes forward to the boards
// this node writes, and takes the answers to the commands it forwarded.
func (m *module) OnClusterEvent(ctx context.Context, ev sdk.ClusterEvent) {
	m.mu.Lock()
	host := m.host
	m.mu.Unlock()
	if host == nil {
		return
	}
	node, err := m.nodeName(ctx, host)
	if err != nil {
		m.log.Warn("cluster event dropped: this node's name is unknown", "topic", ev.Topic, "error", err)
		return
	}
	switch ev.Topic {
	case topicRequest:
		var req forwarded
		if err := json.Unmarshal(ev.Data, &req); err != nil {
			m.log.Warn("a forwarded command cannot be read", "from", ev.Node, "error", err)
			return
		}
		if req.To != node {
			return
		}
		select {
		case m.peers.serving <- struct{}{}:
		case <-ctx.Done():
			return
		}
		go func() {
			defer func() { <-m.peers.serving }()
			m.serve(host, req)
		}()
	case topicAnswer:
		var a answer
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			m.log.Warn("an answer from the board's writer cannot be read", "from", ev.Node, "error", err)
			return
		}
		if a.To != node {
			return
		}
		m.peers.mu.Lock()
		ch := m.peers.pending[a.ID]
		m.peers.mu.Unlock()
		if ch != nil {
			select {
			case ch <- a:
			default:
			}
		}
	}
}

// serve answers a forwarded command as if a member of this node had sent
// it, and publishes the answer for the node waiting for it.
func (m *module) serve(host sdk.Host, req forwarded) {
	m.mu.Lock()
	timeout := m.cfg.ForwardTimeout
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	reply, err := m.command(ctx, sdk.Command{Type: req.Type, Caller: req.Caller, Room: req.Room, Data: req.Data}, true)
	a := answer{ID: req.ID, To: req.From, Data: reply.Data}
	var r *sdk.Refusal
	switch {
	case errors.As(err, &r):
		a.Code, a.Message = r.Code, r.Message
	case err != nil:
		m.log.Warn("a forwarded command failed", "room", req.Room, "command", req.Type, "from", req.From, "error", err)
		a.Error = "the command failed"
	}
	data, err := json.Marshal(a)
	if err == nil {
		err = host.Cluster().Publish(ctx, topicAnswer, data)
		if errors.Is(err, sdk.ErrInvalid) {
			// An answer over the host's limit: say so, in few bytes.
			data, _ = json.Marshal(answer{ID: req.ID, To: req.From, Code: "frame_too_large",
				Message: "The answer is too large to reach this server (modules.cluster_event_bytes)."})
			err = host.Cluster().Publish(ctx, topicAnswer, data)
		}
	}
	if err != nil {
		m.log.Warn("answer a forwarded command", "room", req.Room, "to", req.From, "error", err)
	}
}
