package server

import (
	"context"
	"fmt"

	"github.com/parlorchat/parlor/core/chat"
)

// saveMessages is the chat group's SaveMessages: it stores public messages
// in one transaction before any member gets them (the group commit in
// core/chat). A failure is logged here; the speakers get not_saved and
// the messages go to nobody.
func (s *Server) saveMessages(ctx context.Context, msgs []chat.Message) error {
	if err := s.store.AppendMessages(ctx, msgs); err != nil {
		s.log.Error("messages not saved, so not delivered; their speakers were told", "messages", len(msgs), "error", err)
		return fmt.Errorf("save messages: %w", err)
	}
	return nil
}
