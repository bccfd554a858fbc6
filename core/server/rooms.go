package server

import (
	"context"
	"fmt"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
)

// loadRooms reconciles the rooms of the config file with the store and
// loads them, with their recent history, into the group.
//
// A room from the config file is written to the store at every start (so
// editing the file takes effect) unless it has since been changed at run
// time (origin "api"), in which case the store's version wins. A config
// room that left the file is deleted. Rooms created at run time stay.
func (s *Server) loadRooms(ctx context.Context) error {
	group := s.cfg.Chat.Group
	stored, err := s.store.Rooms(ctx, group)
	if err != nil {
		return fmt.Errorf("load rooms: %w", err)
	}
	byID := make(map[int64]chat.RoomInfo, len(stored))
	for _, r := range stored {
		byID[r.ID] = r
	}
	inConfig := map[int64]bool{}
	for _, rc := range s.cfg.Rooms {
		inConfig[rc.ID] = true
		if cur, ok := byID[rc.ID]; ok && cur.Origin == chat.OriginAPI {
			continue
		}
		if _, err := s.store.SaveRoom(ctx, roomFromConfig(group, rc)); err != nil {
			return fmt.Errorf("load rooms: save config room %d: %w", rc.ID, err)
		}
	}
	for _, r := range stored {
		if r.Origin == chat.OriginConfig && !inConfig[r.ID] {
			if err := s.store.DeleteRoom(ctx, group, r.ID); err != nil {
				return fmt.Errorf("load rooms: delete room %d removed from config: %w", r.ID, err)
			}
			s.log.Info("room removed from the config file is deleted", "room", r.ID, "name", r.Name)
		}
	}
	last, err := s.store.LastMessageID(ctx)
	if err != nil {
		return fmt.Errorf("load rooms: %w", err)
	}
	s.group.SetLastMessageID(last)
	rooms, err := s.store.Rooms(ctx, group)
	if err != nil {
		return fmt.Errorf("load rooms: %w", err)
	}
	for _, r := range rooms {
		hist, err := s.store.RecentMessages(ctx, group, r.ID, s.cfg.Chat.History)
		if err != nil {
			return fmt.Errorf("load history of room %d: %w", r.ID, err)
		}
		s.group.PutRoom(r, hist)
	}
	return nil
}

func roomFromConfig(group string, rc config.Room) chat.RoomInfo {
	return chat.RoomInfo{
		ID: rc.ID, Group: group, Name: rc.Name, Owner: rc.Owner, Desc: rc.Desc, Max: rc.Max,
		Speaker: rc.Speaker, Member: rc.Member, Password: rc.Password, PassAllMessage: rc.PassAllMessage,
		Open: rc.Open, ST: rc.ST, Welcome: rc.Welcome, Audio: rc.Audio, Video: rc.Video,
		Whiteboard: rc.Whiteboard, Origin: chat.OriginConfig, Schedule: rc.Entries(), Zone: rc.TZ,
	}
}
