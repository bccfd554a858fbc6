package chat

import (
	"fmt"
	"testing"
	"time"
)

var benchMessage = MessageEvent{Type: "message", Message: Message{
	ID: 123456, RoomID: 1, From: "alice", Text: "The quick brown fox jumps over the lazy dog, twice.",
	Style: Style{Bold: true, Color: "#336699"}, Time: time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC),
}}

// BenchmarkFrameJSON is the one encoding a public message costs.
func BenchmarkFrameJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if len(NewFrame(benchMessage).JSON()) == 0 {
			b.Fatal("empty encoding")
		}
	}
}

// BenchmarkSayFanout1000 is Group.Say into a room of 1000 members whose
// connections accept every frame: the hub's own cost per message.
func BenchmarkSayFanout1000(b *testing.B) {
	g := NewGroup(Options{History: 50, MaxMessageChars: 2000, Guests: true})
	g.PutRoom(RoomInfo{ID: 1, Name: "Bench", Member: true, Open: true}, nil)
	var first *Member
	for i := range 1000 {
		m := &Member{Name: fmt.Sprintf("user%d", i), Guest: true, Conn: nopConn{}}
		if err := g.Login(m); err != nil {
			b.Fatal(err)
		}
		if _, err := g.Join(m, 1, ""); err != nil {
			b.Fatal(err)
		}
		if first == nil {
			first = m
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Say(first, "hello everyone", Style{}, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/delivery")
}

// encodeConn encodes every frame it is sent, as a connection does.
type encodeConn struct{}

func (encodeConn) Send(f *Frame) bool { return len(f.JSON()) > 0 }
func (encodeConn) Close(string)       {}

// BenchmarkJoinWithHistory is a member entering and leaving a room of 100
// with a full history of 50 messages, its joined frame encoded.
func BenchmarkJoinWithHistory(b *testing.B) {
	g := NewGroup(Options{History: 50, MaxMessageChars: 2000, Guests: true, RoomListDelay: -1})
	g.PutRoom(RoomInfo{ID: 1, Name: "Bench", Member: true, Open: true}, nil)
	var members []*Member
	for i := range 101 {
		m := &Member{Name: fmt.Sprintf("user%d", i), Guest: true, Conn: encodeConn{}}
		if err := g.Login(m); err != nil {
			b.Fatal(err)
		}
		members = append(members, m)
	}
	for _, m := range members[1:] {
		if err := g.Enter(m, 1, "", ""); err != nil {
			b.Fatal(err)
		}
	}
	for range 50 {
		if _, err := g.Say(members[1], benchMessage.Text, benchMessage.Style, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Enter(members[0], 1, "", "j"); err != nil {
			b.Fatal(err)
		}
		g.Leave(members[0])
	}
}
