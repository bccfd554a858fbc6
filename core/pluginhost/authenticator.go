package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	m := a.m
	start := time.Now()
	parentDeadline, hasParentDeadline := ctx.Deadline()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()

	fail := func(res sdk.AuthResult, err error) (sdk.AuthResult, error) {
		res.Code = sdk.LoginError
		// The server side of the deadline may fire a moment before ours.
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
			limit := m.timeout
			if hasParentDeadline && parentDeadline.Before(start.Add(m.timeout)) {
				limit = time.Since(start).Round(time.Millisecond)
			}
			return res, fmt.Errorf("plugin %q: authenticate timed out after %s: %w", m.name, limit, context.DeadlineExceeded)
		}
		return res, fmt.Errorf("plugin %q: %w", m.name, err)
	}

	inst, err := m.current(ctx)
	if err != nil {
		return fail(sdk.AuthResult{}, err)
	}
	res, err := inst.auth.Authenticate(ctx, req)
	if err == nil {
		return res, nil
	}
	if ctx.Err() == nil && lostConnection(inst, err) {
		m.log.Warn("lost the plugin during a call; restarting it", "error", err)
		inst, rerr := m.ensure(ctx, inst)
		if rerr != nil {
			return fail(sdk.AuthResult{}, fmt.Errorf("%w (restart: %w)", err, rerr))
		}
		res, err = inst.auth.Authenticate(ctx, req)
		if err == nil {
			return res, nil
		}
	}
	return fail(res, err)
}
