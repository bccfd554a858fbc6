package server

import (
	"context"
	"fmt"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/hostapi"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// accountParts are the chat's own accounts: login sessions, the Host API
// served to module plugins and the local accounts authenticator.
type accountParts struct {
	store    store.Accounts
	sessions *auth.Sessions
	host     *hostapi.API
}

// startAccounts builds the session manager and the Host API over the
// store and purges expired sessions and KV entries.
func (s *Server) startAccounts(ctx context.Context) error {
	st, ok := s.store.(store.Accounts)
	if !ok {
		return fmt.Errorf("store %T keeps no accounts", s.store)
	}
	s.acct.store = st
	s.acct.sessions = auth.NewSessions(st, auth.SessionOptions{
		TTL: s.cfg.Auth.SessionTTL, SecureCookie: s.cfg.Auth.SecureCookie, ReconnectTTL: s.cfg.Auth.ReconnectTTL,
		Logger: s.log.Named("sessions"),
	})
	s.acct.host = hostapi.New(st, s.acct.sessions, hostapi.Options{
		OnRevoke:             s.endSessions,
		OnAccountEnded:       s.endAccount,
		Prefixes:             s.commandPrefixes,
		OnBan:                s.endBanned,
		Notify:               s.observe,
		MaxDocBytes:          s.cfg.Modules.MaxDocBytes,
		Cluster:              s.hostCluster(),
		MaxClusterEventBytes: s.cfg.Modules.ClusterEventBytes,
		Logger:               s.log.Named("hostapi"),
	})
	if err := s.acct.host.Purge(ctx); err != nil {
		return fmt.Errorf("start accounts: %w", err)
	}
	if err := s.acct.host.Load(ctx); err != nil {
		return fmt.Errorf("start accounts: load sanctions: %w", err)
	}
	return s.logKeyConflicts(ctx)
}

// logKeyConflicts warns, at every start, of the accounts whose name or
// e-mail has no key (docs/operations.md, "Names") until they are renamed.
func (s *Server) logKeyConflicts(ctx context.Context) error {
	conflicts, err := s.acct.store.KeyConflicts(ctx)
	if err != nil {
		return fmt.Errorf("start accounts: %w", err)
	}
	for _, c := range conflicts {
		value := c.Account.Name
		if c.Field == "e-mail" {
			value = c.Account.Email
		}
		if c.HolderID != 0 {
			s.log.Warn("account shares its "+c.Field+" with an older account; rename it to use it",
				"id", c.Account.ID, c.Field, value, "older_account", c.HolderID)
		} else {
			s.log.Warn("account has a "+c.Field+" the chat cannot compare; rename it to use it",
				"id", c.Account.ID, c.Field, value)
		}
	}
	return nil
}

// hostAPIFor is the Host API served to the plugin called name.
func (s *Server) hostAPIFor(name string) sdk.Host { return s.acct.host.For(name) }

// endSessions closes the connections of ended sessions.
func (s *Server) endSessions(hashes [][]byte) {
	if s.node != nil {
		s.node.EndSessions(hashes)
	}
}

// endAccount closes the connection logged in under the former name of a
// deleted or renamed account.
func (s *Server) endAccount(name, reason string) {
	if s.node != nil {
		s.node.EndUser(name, reason)
	}
}

// HostAPI is the Host API as the plugin called plugin sees it, for tools
// and tests that act as a plugin would.
func (s *Server) HostAPI(plugin string) sdk.Host { return s.hostAPIFor(plugin) }

// withLocalAccounts appends the local accounts authenticator to the chain.
func (s *Server) withLocalAccounts(chain []auth.Authenticator) []auth.Authenticator {
	return append(chain, auth.NewLocal(s.acct.store))
}
