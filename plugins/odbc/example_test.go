package main

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/plugins/internal/dbauth"
	"github.com/parlorchat/parlor/plugins/internal/dbauth/dbauthtest"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// TestExampleConfig loads config/odbc.yaml with the server's loader and
// checks its plugin block as Configure would, without a server.
func TestExampleConfig(t *testing.T) {
	m := dbauthtest.ExampleConfig(t, "odbc", "")
	impl := dbauth.New(hclog.NewNullLogger(), dbauth.ODBC)
	if err := impl.Check(sdktest.Config(t, m)); err != nil {
		t.Fatalf("config/odbc.yaml: %v", err)
	}
}
