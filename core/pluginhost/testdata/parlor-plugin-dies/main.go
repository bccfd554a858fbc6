// Command parlor-plugin-dies is a test authenticator that dies during
// start-up: its Configure exits the process, within milliseconds of the
// launch, for as long as the file named by the config key "ready_file"
// does not exist. Once it does, the plugin starts and logs in password
// "pw"; a login without a password gets "no such user" (the guest rule).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/parlorchat/parlor/sdk"
)

type auth struct{}

func (auth) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		ReadyFile string `json:"ready_file"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	if _, err := os.Stat(c.ReadyFile); err != nil {
		fmt.Fprintln(os.Stderr, "not ready, exiting:", err)
		os.Exit(3)
	}
	return nil
}

func (auth) Authenticate(_ context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	switch req.Password {
	case "":
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	case "pw":
		return sdk.AuthResult{Code: sdk.OK}, nil
	}
	return sdk.AuthResult{Code: sdk.WrongPassword}, nil
}

func main() {
	sdk.Serve(sdk.ServeOpts{Authenticator: auth{}})
}
