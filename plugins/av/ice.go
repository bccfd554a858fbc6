package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"
)

// iceServer is an entry of RTCConfiguration.iceServers as browsers take it.
type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// turnCredential is coturn's static-auth-secret scheme (the "TURN REST
// API"): the user name is the expiry in Unix seconds and the user's name,
// joined by a colon; the password is base64(HMAC-SHA1(secret, username)).
// The TURN server checks the password with the same secret and refuses
// the name once the expiry has passed.
func turnCredential(secret, name string, expires time.Time) (username, password string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + name
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// iceServers are the servers a client of name gets at now.
func iceServers(c *config, name string, now time.Time) []iceServer {
	out := []iceServer{}
	if len(c.STUN) > 0 {
		out = append(out, iceServer{URLs: c.STUN})
	}
	if len(c.TURN) > 0 {
		u, p := turnCredential(c.TURNSecret, name, now.Add(c.TTL))
		out = append(out, iceServer{URLs: c.TURN, Username: u, Credential: p})
	}
	return out
}
