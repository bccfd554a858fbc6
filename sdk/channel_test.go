//go:build unix

package sdk

import (
	"context"
	"encoding/binary"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// channelPair offers a message channel as the host does and returns the
// host's client on it (already taken up) and the plugin's end.
func channelPair(t *testing.T) (*ModuleClient, *frames) {
	t.Helper()
	cmd := exec.Command("true")
	ch, err := NewMessageChannel(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmd.ExtraFiles) != 1 || !slices.Contains(cmd.Env, MessageChannelEnv+"=3") {
		t.Fatalf("the plugin's end is not passed as descriptor 3: %v %v", cmd.ExtraFiles, cmd.Env)
	}
	conn, err := net.FileConn(cmd.ExtraFiles[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &ModuleClient{}
	if err := c.takeChannel(ch); err != nil {
		t.Fatal(err)
	}
	if !c.OnChannel() {
		t.Fatal("the client does not use the channel it took")
	}
	return c, newFrames(conn)
}

// Calls on the channel are answered each with its own verdict, several at
// once.
func TestChannelCarriesCalls(t *testing.T) {
	c, plugin := channelPair(t)
	srv := &moduleServer{impl: exclaim{}, log: NewLogger("test")}
	go srv.serveChannel(plugin)
	var wg sync.WaitGroup
	for _, text := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		wg.Go(func() {
			v, err := c.OnMessage(context.Background(), MessageEvent{Text: text})
			if err != nil || v.Text != text+"!" {
				t.Errorf("%q: %+v, %v", text, v, err)
			}
		})
	}
	wg.Wait()
}

// A frame over the size limit ends the channel: the call waiting gets an
// Unavailable error (the host then treats the plugin as lost) rather than
// waiting for ever.
func TestChannelRefusesAnOversizedFrame(t *testing.T) {
	c, plugin := channelPair(t)
	got := make(chan error, 1)
	c.OnMessageAsync(context.Background(), MessageEvent{Text: "a"}, func(_ MessageVerdict, err error) { got <- err })
	// The plugin's end answers with the length of a frame too large.
	if _, err := plugin.conn.Write(binary.AppendUvarint(nil, maxFrame+1)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "over the limit") {
			t.Fatalf("call after an oversized frame: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call never ended")
	}
}

// A plugin's end that gets what is not a call stops serving the channel
// (closing it) rather than answering garbage.
func TestChannelPluginSideEndsOnGarbage(t *testing.T) {
	c, plugin := channelPair(t)
	done := make(chan struct{})
	go func() {
		(&moduleServer{impl: exclaim{}, log: NewLogger("test")}).serveChannel(plugin)
		close(done)
	}()
	// A frame of three bytes that are not a MessageCall.
	host := c.messages.stream.(channelStream).f
	if _, err := host.conn.Write([]byte{3, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the plugin side went on serving after garbage")
	}
	// The host's reader sees the channel end and stops using it.
	for deadline := time.Now().Add(5 * time.Second); c.OnChannel(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the host still uses a channel its plugin closed")
		}
	}
}
