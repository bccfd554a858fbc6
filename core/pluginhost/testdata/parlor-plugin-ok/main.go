// Command parlor-plugin-ok is a well-behaved test authenticator: password
// "pw" logs in, "admin" is an administrator, "badcode" gets an invalid code.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

type auth struct {
	log      hclog.Logger
	greeting string
}

func (a *auth) Configure(_ context.Context, cfg sdk.Config) error {
	var c struct {
		Greeting string `json:"greeting"`
	}
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	if c.Greeting == "refuse" {
		return fmt.Errorf("greeting %q is refused", c.Greeting)
	}
	a.greeting = c.Greeting
	a.log.Info("configured", "greeting", c.Greeting)
	fmt.Fprintln(os.Stdout, "stdout line from the ok plugin")
	return nil
}

func (a *auth) Authenticate(_ context.Context, req sdk.AuthRequest) (sdk.AuthResult, error) {
	switch {
	case req.Username == "badcode":
		return sdk.AuthResult{Code: 9}, nil
	case req.Password == "":
		return sdk.AuthResult{Code: sdk.NoSuchUser}, nil
	case req.Password != "pw":
		return sdk.AuthResult{Code: sdk.WrongPassword}, nil
	case req.Username == "admin":
		return sdk.AuthResult{Code: sdk.Admin}, nil
	}
	return sdk.AuthResult{Code: sdk.OK, DisplayName: a.greeting + req.Username}, nil
}

func main() {
	log := sdk.NewLogger("ok")
	sdk.Serve(sdk.ServeOpts{Authenticator: &auth{log: log}, Logger: log})
}
