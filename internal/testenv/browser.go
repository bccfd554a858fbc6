package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser launches headless Chromium (see Chromium) with a fresh profile
// and returns a context bound to it; the browser ends when the test does.
// Tabs are opened with chromedp.NewContext on the returned context. The test
// is skipped, or fails when PARLOR_REQUIRE_SERVICES=1, if Chromium cannot
// be started. Options in extra come after the defaults (such as
// chromedp.Flag("use-fake-device-for-media-stream", true)).
func Browser(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
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
	opts = append(opts, extra...)
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

// PageWatch records, for one tab, what the page reports as going wrong
// (console errors, uncaught exceptions, error entries of the browser log,
// HTTP responses with a status of 400 or more), the URLs it requested and
// the text of the WebSocket frames it sent. See WatchPage.
type PageWatch struct {
	mu       sync.Mutex
	problems []string
	requests []string
	sent     []string
}

// WatchPage starts recording the tab of ctx (a chromedp context that has
// run once) until the test ends. Call it before the navigation it is to
// see.
func WatchPage(t testing.TB, ctx context.Context) *PageWatch {
	t.Helper()
	w := &PageWatch{}
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Listen(lctx, w.record); err != nil {
		t.Fatalf("watch the page: %v", err)
	}
	return w
}

// record runs on the tab's event loop: it must return fast.
func (w *PageWatch) record(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			w.problems = append(w.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		w.problems = append(w.problems, "uncaught exception: "+ev.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			w.problems = append(w.problems, "browser log ("+string(ev.Entry.Source)+"): "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		w.requests = append(w.requests, ev.Request.URL)
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.problems = append(w.problems, fmt.Sprintf("HTTP %d for %s", ev.Response.Status, ev.Response.URL))
		}
	case *network.EventWebSocketFrameSent:
		if ev.Response != nil && ev.Response.Opcode == 1 {
			w.sent = append(w.sent, string(ev.Response.PayloadData))
		}
	}
}

// Problems returns what went wrong so far.
func (w *PageWatch) Problems() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.problems)
}

// Requests returns the URLs the page requested so far.
func (w *PageWatch) Requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.requests)
}

// SentFrames returns the text WebSocket frames the page sent so far.
func (w *PageWatch) SentFrames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.sent)
}

// Screenshot keeps a picture of the page of ctx (a Browser tab) as
// <dir>/<test>-<name>.png when PARLOR_SCREENSHOT_DIR names dir; otherwise
// it does nothing. A failure is logged, not fatal.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PARLOR_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100)) // quality 100 gives PNG
	if err == nil {
		file := strings.ReplaceAll(t.Name(), "/", "_") + "-" + name + ".png"
		err = os.WriteFile(filepath.Join(dir, file), png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
	}
}
