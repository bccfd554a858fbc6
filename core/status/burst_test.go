package status

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/chat"
)

// nopConn is a connection that takes every frame (id keeps two apart).
type nopConn struct{ id int }

func (nopConn) Send(*chat.Frame) bool { return true }
func (nopConn) Close(string)          {}

// TestFilesAreRightAfterABurst logs 300 users in and into three rooms at
// once, then takes 30 of them out again, with the writer coalescing the
// rewrites: the files end up holding exactly who is where.
func TestFilesAreRightAfterABurst(t *testing.T) {
	dir := t.TempDir()
	var w *Writer
	var wmu sync.Mutex
	g := chat.NewGroup(chat.Options{Guests: true, OnChange: func() {
		wmu.Lock()
		defer wmu.Unlock()
		if w != nil {
			w.Notify()
		}
	}})
	for id := int64(1); id <= 3; id++ {
		g.PutRoom(chat.RoomInfo{ID: id, Name: fmt.Sprintf("Room %d", id), Member: true, Open: true}, nil)
	}
	var err error
	wmu.Lock()
	w, err = New(dir, g, Options{MinInterval: 50 * time.Millisecond})
	wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	const n = 300
	members := make([]*chat.Member, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := &chat.Member{Name: fmt.Sprintf("u%03d", i), Guest: true, Conn: nopConn{id: i}}
			g.Connect(m.Conn)
			if err := g.Login(m); err != nil {
				t.Errorf("login %s: %v", m.Name, err)
				return
			}
			if _, err := g.Join(m, int64(i%3+1), ""); err != nil {
				t.Errorf("join %s: %v", m.Name, err)
			}
			members[i] = m
		})
	}
	wg.Wait()
	for i := 0; i < n; i += 10 { // every tenth leaves the chat
		wg.Go(func() { g.Disconnect(members[i].Conn, members[i]) })
	}
	wg.Wait()

	want := map[int64][]string{}
	for i := range n {
		if i%10 != 0 {
			want[int64(i%3+1)] = append(want[int64(i%3+1)], fmt.Sprintf("u%03d", i))
		}
	}
	eventually(t, filepath.Join(dir, OnlineFile), fmt.Sprintf("%d|%d|3", n-n/10, n-n/10))
	for id, names := range want {
		slices.Sort(names)
		path := filepath.Join(dir, RoomFile(id))
		deadline := time.Now().Add(3 * time.Second)
		for {
			b, err := os.ReadFile(path)
			got := strings.Fields(string(b)) // in join order
			slices.Sort(got)
			if err == nil && slices.Equal(got, names) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d names (%v), want the %d of the room", RoomFile(id), len(got), err, len(names))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
