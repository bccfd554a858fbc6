// Command parlor-plugin-hang is a test authenticator that never answers
// for the user "hang" (ignoring cancellation) and says OK to everyone else.
package main

import (
	"context"

	"github.com/parlorchat/parlor/sdk"
)

type auth struct{}

func (auth) Configure(context.Context, sdk.Config) error { return nil }

func (auth) Authenticate(_ context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	if req.Username == "hang" {
		select {}
	}
	return sdk.AuthResult{Code: sdk.OK}, nil
}

func main() {
	sdk.Serve(sdk.ServeOpts{Authenticator: auth{}})
}
