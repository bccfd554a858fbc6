//go:build !unix

package sdk

import "os/exec"

// NewMessageChannel returns no channel where there are no socket pairs:
// the plugin's messages go on the gRPC stream.
func NewMessageChannel(*exec.Cmd) (*MessageChannel, error) { return nil, nil }
