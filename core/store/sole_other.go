//go:build !unix

package store

import "os"

// soleWriter would tell that a store is alone on its file; without
// flock(2) no store claims it, and the name filter stays off.
type soleWriter struct{}

func openStores(string) (*soleWriter, *os.File, error) { return nil, nil, nil }

func (*soleWriter) still() bool { return false }
