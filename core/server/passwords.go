package server

import "github.com/parlorchat/parlor/core/auth"

// authLimits are the login pipeline's limits from auth.* of the config,
// counted in the server's refusals.
func (s *Server) authLimits() auth.Limits {
	a := s.cfg.Auth
	return auth.Limits{
		FailuresPerAccount: a.Limits.FailedLoginsPerAccount,
		FailuresPerAddr:    a.Limits.FailedLoginsPerAddr,
		MaxPasswordChecks:  a.MaxPasswordChecks,
		PasswordCheckWait:  a.PasswordCheckWait,
		Refusals:           s.refusals,
	}
}
