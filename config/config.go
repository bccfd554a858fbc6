// Package config holds Parlor's configuration files. parlor.yaml is the
// server's embedded defaults: a server started without --config runs with
// exactly that file, and an operator's file overrides it key by key.
package config

import _ "embed"

// Defaults is the text of parlor.yaml.
//
//go:embed parlor.yaml
var Defaults []byte
