package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// NATS returns the URL of the NATS server (with JetStream) tests use,
// nats://127.0.0.1:4222 unless PARLOR_TEST_NATS_URL says otherwise, and a
// subject and bucket prefix of the test's own, so tests running at once
// (and earlier runs' leftovers) do not meet. The test is skipped, or
// fails when PARLOR_REQUIRE_SERVICES=1, if the default server is absent.
func NATS(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv("PARLOR_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
		TCP(t, "NATS at 127.0.0.1:4222", "127.0.0.1:4222")
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return url, "t" + hex.EncodeToString(b)
}
