package pluginhost

import (
	"context"

	"github.com/parlorchat/parlor/sdk"
)

// Authenticator is the host's handle on an authenticator plugin. It stays
// valid across restarts of the plugin: every call goes to the process
// running at that moment. It is safe for concurrent use.
type Authenticator struct {
	m *managed
}

// Name returns the plugin's configured name.
func (a *Authenticator) Name() string { return a.m.name }

// Authenticate asks the plugin about one login attempt, bounded by the
// host's CallTimeout (and ctx). If the plugin is down it is restarted
// first; if the connection breaks during the call, the plugin is restarted
// and the call retried once. Whenever no answer comes, the result is
// LoginError and the error names the plugin and the cause, such as
// `plugin "authurl": authenticate timed out after 3s`.
func (a *Authenticator) Authenticate(ctx context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	var res sdk.AuthResult
	err := a.m.call(ctx, MethodAuthenticate, func(ctx context.Context, inst *instance) error {
		var err error
		res, err = inst.auth.Authenticate(ctx, req)
		return err
	})
	if err != nil {
		res.Code = sdk.LoginError
	}
	return res, err
}
