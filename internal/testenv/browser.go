package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser launches headless Chromium (see Chromium) with a fresh profile
// and returns a context bound to it; the browser ends when the test does.
// Tabs are opened with chromedp.NewContext on the returned context. The test
// is skipped, or fails when PARLOR_REQUIRE_SERVICES=1, if Chromium cannot
// be started.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first run starts the browser; its context must carry no deadline,
	// or the browser ends with it.
	if err := chromedp.Do(browserCtx); err != nil {
		Missing(t, "Chromium at "+path, err)
	}
	return browserCtx
}

// PollInterval is how often Poll evaluates its function.
const PollInterval = 50 * time.Millisecond

// Poll is a page action that evaluates the JavaScript function fn with args
// every PollInterval until it returns true, failing after timeout. It polls
// on a timer rather than on DOM mutations because some states a test waits
// for change no DOM node: an image finishing its load, a navigation.
func Poll(timeout time.Duration, fn string, args ...any) chromedp.Action[chromedp.Void] {
	return chromedp.PollFunction[chromedp.Void](fn,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingTimeout(timeout),
		chromedp.WithPollingInterval(PollInterval))
}
