//go:build !unix

package websocket

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
