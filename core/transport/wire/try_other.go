//go:build !unix

package wire

import "syscall"

const canTryWrite = false

// tryState is unused where there are no non-blocking writes.
type tryState struct{ fn func(uintptr) bool }

func (t *tryState) run(syscall.RawConn, []byte, []byte) (int, error) { return 0, nil }

func (t *tryState) write(uintptr) bool { return true }
