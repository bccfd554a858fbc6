//go:build unix

package sdk

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// NewMessageChannel makes a message channel for the plugin process cmd is
// about to start: a socket pair whose one end cmd passes to the plugin
// (as its next extra descriptor, named in MessageChannelEnv), the other
// staying here. Call Started once cmd has started, then hand the channel
// to the plugin's ModuleClient with UseChannel, or Close it.
func NewMessageChannel(cmd *exec.Cmd) (*MessageChannel, error) {
	// Close-on-exec before any other process can be started, so that only
	// cmd gets the plugin's end (as the descriptor ExtraFiles makes).
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("message channel: %w", err)
	}
	ch := &MessageChannel{
		host:   os.NewFile(uintptr(fds[0]), "parlor message channel"),
		plugin: os.NewFile(uintptr(fds[1]), "parlor message channel (plugin)"),
	}
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, ch.plugin)
	cmd.Env = append(cmd.Env, MessageChannelEnv+"="+strconv.Itoa(fd))
	return ch, nil
}
