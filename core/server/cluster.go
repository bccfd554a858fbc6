package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/cluster"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// startCluster connects to NATS when cluster.nats.url is set; the node is
// started with the group once the rooms are loaded (joinCluster).
func (s *Server) startCluster(ctx context.Context) error {
	cc := s.cfg.Cluster
	if !cc.Enabled() {
		return nil
	}
	if s.cfg.Store.Driver != config.StoreDriverPostgres {
		s.log.Warn("cluster.nats.url is set but store.driver is not postgres: each node keeps its own rooms, accounts, sanctions and history; messages and presence still cross nodes")
	}
	n, err := cluster.New(ctx, cluster.Options{
		URL: cc.NATS.URL, Name: cc.Node, Prefix: cc.Prefix, Lease: cc.Lease,
		RequestTimeout: cc.RequestTimeout, PendingBytes: cc.PendingBytes,
		History: func(ctx context.Context, room int64) ([]chat.Message, error) {
			return s.store.RecentMessages(ctx, s.cfg.Chat.Group, room, s.cfg.Chat.History)
		},
		RoomChanged: s.reloadRoom,
		SanctionsChanged: func(ctx context.Context) {
			if err := s.acct.host.Load(ctx); err != nil {
				s.log.Warn("cannot reload the sanctions another node changed", "error", err)
			}
		},
		ModuleEvent: func(ev cluster.ModuleEvent) {
			if p := s.mods.pipe.Load(); p != nil {
				p.ClusterEvent(ev.Plugin, sdk.ClusterEvent{Node: ev.Node, Topic: ev.Topic, Data: ev.Data})
			}
		},
		Log: s.log.Named("cluster"),
	})
	if err != nil {
		return err
	}
	s.cluster = n
	return nil
}

// hostCluster is what the Host API knows of the nodes: this node, or
// none (nil: one node).
func (s *Server) hostCluster() hostapi.Cluster {
	if s.cluster == nil {
		return nil
	}
	return s.cluster
}

// link is the group's chat.Link: the cluster node, or none.
func (s *Server) link() (chat.Link, int) {
	if s.cluster == nil {
		return nil, 0
	}
	return s.cluster, s.cluster.Slot()
}

// joinCluster starts the node with the group: it subscribes and fetches
// the other nodes' members.
func (s *Server) joinCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	if err := s.cluster.Start(ctx, s.group); err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	return nil
}

// reloadRoom reads a room another node changed from the store into the
// group (removed: takes it out). A room's opening state stays as this
// node's schedule module set it.
func (s *Server) reloadRoom(ctx context.Context, id int64, removed bool) {
	if removed {
		if err := s.group.RemoveRoom(id); err != nil && !isNoSuchRoom(err) {
			s.log.Warn("cannot remove a room another node removed", "room", id, "error", err)
		}
		return
	}
	rooms, err := s.store.Rooms(ctx, s.cfg.Chat.Group)
	if err != nil {
		s.log.Warn("cannot reload a room another node changed", "room", id, "error", err)
		return
	}
	for _, r := range rooms {
		if r.ID != id {
			continue
		}
		if cur, ok := s.group.RoomInfo(id); ok {
			r.Sched = cur.Sched
		}
		s.group.PutRoom(r, nil)
		s.cluster.RoomLoaded(id)
		return
	}
	s.log.Warn("a room another node changed is not in the store", "room", id, "error", store.ErrNotFound)
}

// isNoSuchRoom reports whether err is the chat's no_such_room.
func isNoSuchRoom(err error) bool {
	var ce *chat.Error
	return errors.As(err, &ce) && ce.Code == chat.CodeNoSuchRoom
}

// leaveCluster gives back the node's lease, slot and names.
func (s *Server) leaveCluster() {
	if s.cluster != nil {
		s.cluster.Leave()
	}
}
