// Command parlor-plugin-crash is a test authenticator that exits the
// process for the user "crash", panics for "panic" and says OK otherwise.
package main

import (
	"context"
	"os"

	"github.com/parlorchat/parlor/sdk"
)

type auth struct{}

func (auth) Configure(context.Context, sdk.Config) error { return nil }

func (auth) Authenticate(_ context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	switch req.Username {
	case "crash":
		os.Exit(2)
	case "panic":
		panic("test panic")
	}
	return sdk.AuthResult{Code: sdk.OK}, nil
}

func main() {
	sdk.Serve(sdk.ServeOpts{Authenticator: auth{}})
}
