package chat

import (
	"net/url"
	"strconv"
	"strings"
)

// Emoticons is how many built-in pictures the client draws: "e1" to
// "e32", the seed's emoticons and avatars.
const Emoticons = 32

// MaxAvatarURL is the longest avatar URL a member may show (the Host API
// stores account avatars of at most this size).
const MaxAvatarURL = 2048

// emoticon reports whether s is "e1".."e32".
func emoticon(s string) bool {
	if len(s) < 2 || len(s) > 3 || s[0] != 'e' || s[1] == '0' {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	return err == nil && n >= 1 && n <= Emoticons
}

// CleanEmotion returns a message's emoticon if it is "e1".."e32", and
// "" (none) for anything else.
func CleanEmotion(s string) string {
	if emoticon(s) {
		return s
	}
	return ""
}

// CleanAvatar returns an avatar a client may show: an absolute http(s)
// URL with a host (at most MaxAvatarURL bytes) or a built-in picture
// "e1".."e32"; anything else (javascript:, data:, relative paths) is ""
// (none).
func CleanAvatar(s string) string {
	s = strings.TrimSpace(s)
	if emoticon(s) {
		return s
	}
	if len(s) > MaxAvatarURL || strings.ContainsAny(s, " \t\r\n\"'<>\\") {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return s
}
