// Command parlor-plugin-authurl is Parlor's Auth URL authenticator: it asks
// a web page (PHP, ASP, JSP, ...) whether a user may log in. The page gets
// the user name and password as query parameters (GET) or a form body
// (POST) and answers a single digit: 0 ok, 1 wrong password, 2 name
// unusable, 3 error, 4 no such user, 5 administrator.
//
// Configuration (the plugin's `config` block in parlor.yaml):
//
//	url: http://127.0.0.1/auth.php   # required, absolute http or https
//	method: GET                      # or POST
//	username_param: username
//	password_param: password
//	timeout: 3s
//	params: {site: main}             # optional extra parameters
//
// The group and the client's IP address are sent as the parameters
// `group` and `ip`.
package main

import "github.com/parlorchat/parlor/sdk"

func main() {
	log := sdk.NewLogger("authurl")
	sdk.Serve(sdk.ServeOpts{Authenticator: New(log), Logger: log})
}
