// Command parlor-plugin-sso is the SSO plugin: a module serving the seed's
// token and user HTTP API under /sso/ (docs/sso.md). A website with its
// own login asks it for access tokens and lets its visitors' browsers
// present them, which logs them in to the chat. Accounts, tokens and
// sessions live in the server's store through the Host API.
package main

import "github.com/parlorchat/parlor/sdk"

func main() {
	log := sdk.NewLogger("sso")
	sdk.Serve(sdk.ServeOpts{Module: New(log), Logger: log})
}
