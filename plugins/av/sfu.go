package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/parlorchat/parlor/sdk"
)

// pliInterval is how often the SFU asks each video publisher for a key
// frame, so that a subscriber who came late, or lost packets, gets a
// picture soon.
const pliInterval = 2 * time.Second

// sfu is the module's selective forwarding unit (mode sfu): every
// participant has one peer connection with the module, over one UDP
// port; the module receives each participant's tracks once and forwards
// them to the others. The module makes every offer; clients answer.
type sfu struct {
	log  hclog.Logger
	api  *webrtc.API
	conn net.PacketConn
	ice  []webrtc.ICEServer
	// send delivers an av.signal event to a participant.
	send func(room int64, to string, ev signalEvent)

	mu    sync.Mutex
	calls map[int64]*sfuCall
}

// sfuCall is the forwarding state of one room's call.
type sfuCall struct {
	id     string
	peers  map[string]*sfuPeer // by key
	tracks map[*forwarded]bool
}

// forwarded is a publisher's track as the SFU sends it on.
type forwarded struct {
	owner string // key of the publisher
	local *webrtc.TrackLocalStaticRTP
}

// sfuPeer is one participant's connection with the module.
type sfuPeer struct {
	name    string
	room    int64
	call    string
	pc      *webrtc.PeerConnection
	senders map[*forwarded]*webrtc.RTPSender

	negMu   sync.Mutex
	offered bool // an offer waits for its answer
	again   bool // the tracks changed meanwhile: offer again after it
	early   []webrtc.ICECandidateInit
	closed  bool
}

// newSFU listens on addr (one UDP port for every call) and announces
// publicIP, when given, in its candidates.
func newSFU(log hclog.Logger, addr, publicIP string, send func(int64, string, signalEvent)) (*sfu, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("av: sfu: listen on udp %s: %w", addr, err)
	}
	var se webrtc.SettingEngine
	se.SetICEUDPMux(webrtc.NewICEUDPMux(nil, conn))
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if publicIP != "" {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: []string{publicIP}, AsCandidateType: webrtc.ICECandidateTypeHost}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("av: sfu: public_ip %s: %w", publicIP, err)
		}
	}
	return &sfu{log: log, api: webrtc.NewAPI(webrtc.WithSettingEngine(se)), conn: conn, send: send, calls: map[int64]*sfuCall{}}, nil
}

// Addr is the UDP address the SFU listens on.
func (s *sfu) Addr() net.Addr { return s.conn.LocalAddr() }

// Close ends every connection and the port.
func (s *sfu) Close() {
	s.mu.Lock()
	var peers []*sfuPeer
	for _, c := range s.calls {
		for _, p := range c.peers {
			peers = append(peers, p)
		}
	}
	s.calls = map[int64]*sfuCall{}
	s.mu.Unlock()
	for _, p := range peers {
		_ = p.pc.Close()
	}
	_ = s.conn.Close()
}

// join makes the participant's connection: receivers for what it
// publishes, senders for the tracks of the others; then the first offer.
func (s *sfu) join(room int64, callID string, p participant) error {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("av: sfu: new peer connection: %w", err)
	}
	k := key(p.Name)
	peer := &sfuPeer{name: p.Name, room: room, call: callID, pc: pc, senders: map[*forwarded]*webrtc.RTPSender{}}
	if p.Publish {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			pc.Close()
			return fmt.Errorf("av: sfu: audio receiver: %w", err)
		}
		if p.Video {
			if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				pc.Close()
				return fmt.Errorf("av: sfu: video receiver: %w", err)
			}
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		data, _ := json.Marshal(c.ToJSON())
		s.send(room, p.Name, signalEvent{Call: callID, Candidate: data})
	})
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { s.publish(room, k, peer, remote) })
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.log.Debug("sfu connection", "user", p.Name, "state", st.String())
	})

	s.mu.Lock()
	c := s.calls[room]
	if c == nil || c.id != callID {
		if c != nil {
			s.endLocked(room)
		}
		c = &sfuCall{id: callID, peers: map[string]*sfuPeer{}, tracks: map[*forwarded]bool{}}
		s.calls[room] = c
	}
	if old := c.peers[k]; old != nil {
		s.dropLocked(c, k)
	}
	c.peers[k] = peer
	for f := range c.tracks {
		if f.owner == k {
			continue
		}
		if err := peer.addSender(f); err != nil {
			s.log.Warn("sfu: forward a track", "to", p.Name, "err", err)
		}
	}
	s.mu.Unlock()
	s.negotiate(peer)
	return nil
}

// addSender forwards f on the peer's connection.
func (p *sfuPeer) addSender(f *forwarded) error {
	sender, err := p.pc.AddTrack(f.local)
	if err != nil {
		return err
	}
	p.senders[f] = sender
	go func() { // RTCP from the subscriber: read, so that it flows
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	return nil
}

// publish forwards a track a participant sends to every other one.
func (s *sfu) publish(room int64, owner string, from *sfuPeer, remote *webrtc.TrackRemote) {
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.Kind().String()+"-"+owner, from.name)
	if err != nil {
		s.log.Warn("sfu: a forwarding track", "user", from.name, "err", err)
		return
	}
	f := &forwarded{owner: owner, local: local}
	var renegotiate []*sfuPeer
	s.mu.Lock()
	c := s.calls[room]
	if c == nil || c.peers[owner] != from {
		s.mu.Unlock()
		return
	}
	c.tracks[f] = true
	for k, p := range c.peers {
		if k == owner {
			continue
		}
		if err := p.addSender(f); err != nil {
			s.log.Warn("sfu: forward a track", "to", p.name, "err", err)
			continue
		}
		renegotiate = append(renegotiate, p)
	}
	s.mu.Unlock()
	for _, p := range renegotiate {
		s.negotiate(p)
	}
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		go func() {
			t := time.NewTicker(pliInterval)
			defer t.Stop()
			for range t.C {
				if err := from.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(remote.SSRC())}}); err != nil {
					return
				}
			}
		}()
	}
	for {
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			break
		}
		if err := local.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			break
		}
	}
	s.unpublish(room, f)
}

// unpublish stops forwarding f.
func (s *sfu) unpublish(room int64, f *forwarded) {
	var renegotiate []*sfuPeer
	s.mu.Lock()
	c := s.calls[room]
	if c == nil || !c.tracks[f] {
		s.mu.Unlock()
		return
	}
	delete(c.tracks, f)
	for _, p := range c.peers {
		if sender := p.senders[f]; sender != nil {
			delete(p.senders, f)
			_ = p.pc.RemoveTrack(sender)
			renegotiate = append(renegotiate, p)
		}
	}
	s.mu.Unlock()
	for _, p := range renegotiate {
		s.negotiate(p)
	}
}

// negotiate sends the peer an offer, or marks that one is due once the
// answer to the one out has come.
func (s *sfu) negotiate(p *sfuPeer) {
	p.negMu.Lock()
	if p.closed {
		p.negMu.Unlock()
		return
	}
	if p.offered {
		p.again = true
		p.negMu.Unlock()
		return
	}
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.negMu.Unlock()
		s.log.Warn("sfu: offer", "to", p.name, "err", err)
		return
	}
	p.offered = true
	p.negMu.Unlock()
	s.send(p.room, p.name, signalEvent{Call: p.call, Description: &description{Type: "offer", SDP: offer.SDP}})
}

// signal takes a participant's answer or candidate.
func (s *sfu) signal(room int64, name string, req request) error {
	s.mu.Lock()
	c := s.calls[room]
	var p *sfuPeer
	if c != nil {
		p = c.peers[key(name)]
	}
	s.mu.Unlock()
	if p == nil {
		return refuse("not_in_call", "You are not in this room's call; join it first.")
	}
	if req.Description != nil {
		if req.Description.Type != "answer" {
			return refuse("bad_signal", "In this call the server makes the offers; send it answers.")
		}
		p.negMu.Lock()
		if !p.offered {
			p.negMu.Unlock()
			return refuse("bad_signal", "There is no offer to answer.")
		}
		err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: req.Description.SDP})
		p.offered = false
		again := p.again
		p.again = false
		early := p.early
		p.early = nil
		p.negMu.Unlock()
		if err != nil {
			return refuse("bad_signal", "The answer does not fit the offer: %v.", err)
		}
		for _, c := range early {
			_ = p.pc.AddICECandidate(c)
		}
		if again {
			s.negotiate(p)
		}
		return nil
	}
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal(req.Candidate, &cand); err != nil {
		return refuse("bad_signal", "An ICE candidate is an RTCIceCandidateInit: %v.", err)
	}
	if cand.Candidate == "" {
		return nil
	}
	p.negMu.Lock()
	if p.pc.RemoteDescription() == nil {
		p.early = append(p.early, cand)
		p.negMu.Unlock()
		return nil
	}
	p.negMu.Unlock()
	if err := p.pc.AddICECandidate(cand); err != nil {
		return refuse("bad_signal", "The ICE candidate was not taken: %v.", err)
	}
	return nil
}

// leave ends a participant's connection and stops forwarding its tracks.
func (s *sfu) leave(room int64, name string) {
	s.mu.Lock()
	c := s.calls[room]
	if c == nil {
		s.mu.Unlock()
		return
	}
	renegotiate := s.dropLocked(c, key(name))
	if len(c.peers) == 0 {
		delete(s.calls, room)
	}
	s.mu.Unlock()
	for _, p := range renegotiate {
		s.negotiate(p)
	}
}

// dropLocked closes the peer k of c and takes its tracks from the others;
// the answer is the peers to offer again.
func (s *sfu) dropLocked(c *sfuCall, k string) []*sfuPeer {
	p := c.peers[k]
	if p == nil {
		return nil
	}
	delete(c.peers, k)
	p.negMu.Lock()
	p.closed = true
	p.negMu.Unlock()
	go p.pc.Close()
	changed := map[*sfuPeer]bool{}
	for f := range c.tracks {
		if f.owner != k {
			continue
		}
		delete(c.tracks, f)
		for _, o := range c.peers {
			if sender := o.senders[f]; sender != nil {
				delete(o.senders, f)
				_ = o.pc.RemoveTrack(sender)
				changed[o] = true
			}
		}
	}
	out := make([]*sfuPeer, 0, len(changed))
	for o := range changed {
		out = append(out, o)
	}
	return out
}

// end closes the room's call.
func (s *sfu) end(room int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(room)
}

func (s *sfu) endLocked(room int64) {
	c := s.calls[room]
	if c == nil {
		return
	}
	for k := range c.peers {
		s.dropLocked(c, k)
	}
	delete(s.calls, room)
}

// signalSender is the SFU's way to a participant through host: an
// av.signal event from the module (from ""). It takes no lock of the
// module's: the SFU sends while the module's events are sent.
func signalSender(host sdk.Host, log hclog.Logger) func(room int64, to string, ev signalEvent) {
	return func(room int64, to string, ev signalEvent) {
		sendSignal(host, log, room, to, ev)
	}
}

func sendSignal(host sdk.Host, log hclog.Logger, room int64, to string, ev signalEvent) {
	data, err := json.Marshal(ev)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), hostTimeout)
		_, err = host.Messages().Event(ctx, sdk.ToUser(to), sdk.Event{Type: evSignal, Room: room, Data: data})
		cancel()
	}
	if err != nil {
		log.Debug("sfu: signal", "to", to, "err", err)
	}
}
