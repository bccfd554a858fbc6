package main

import (
	"fmt"
	"strings"

	"github.com/parlorchat/parlor/sdk"
)

// section is one media section of an SDP.
type section struct {
	kind string // audio, video, application
	port string
	dir  string // sendrecv, sendonly, recvonly, inactive
}

// sections reads the media sections of an SDP and their directions (the
// session's direction, else sendrecv, when a section names none).
func sections(sdp string) []section {
	var out []section
	sessionDir := "sendrecv"
	cur := -1
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		if rest, ok := strings.CutPrefix(line, "m="); ok {
			f := strings.Fields(rest)
			s := section{dir: sessionDir}
			if len(f) > 0 {
				s.kind = f[0]
			}
			if len(f) > 1 {
				s.port = f[1]
			}
			out = append(out, s)
			cur = len(out) - 1
			continue
		}
		switch line {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			if cur < 0 {
				sessionDir = line[2:]
			} else {
				out[cur].dir = line[2:]
			}
		}
	}
	return out
}

// checkSDP refuses a description that would send what the sender may
// not: media at all (a listener in a moderated room) or video (a room
// without video). Sections with port 0 are rejected ones and send
// nothing.
func checkSDP(sdp string, publish, video bool) error {
	for _, s := range sections(sdp) {
		if s.port == "0" || (s.dir != "sendrecv" && s.dir != "sendonly") {
			continue
		}
		switch {
		case (s.kind == "audio" || s.kind == "video") && !publish:
			return refuse("not_allowed", "In a moderated room only speakers and moderators send audio or video; you may listen.")
		case s.kind == "video" && !video:
			return refuse("no_video", "This room's calls are audio only; send no video.")
		}
	}
	return nil
}

// refuse is a refusal the caller sees with code and the sentence.
func refuse(code, format string, args ...any) error {
	return &sdk.Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}
