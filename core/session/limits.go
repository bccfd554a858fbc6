package session

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/limit"
)

// Limits are the abuse limits of client connections. A Rate that is Off
// and a cap of 0 turn that limit off. A request over a limit is refused
// with chat.RateLimited; the connection stays open.
type Limits struct {
	Say          limit.Rate // messages (say and pm) of one connection
	SayUser      limit.Rate // messages of one user name (chat.NameKey), across reconnects
	Join         limit.Rate // joins and leaves of one connection
	PM           limit.Rate // private messages of one sender to one recipient (by name)
	PMRecipient  limit.Rate // private messages one recipient gets from all senders
	RoomPassword limit.Rate // failure throttle of wrong room passwords, per connection
	// ConnsPerIP caps the open connections of one address (limit.IPKey).
	ConnsPerIP int
	// UnauthenticatedPerIP caps the connections of one address that
	// have not logged in.
	UnauthenticatedPerIP int
	// Refusals counts refusals by limit name (the Limit* constants).
	Refusals *limit.Refusals
}

// Names of the limits, as /metrics labels their refusals
// (parlor_rate_limited_total{limit="..."}).
const (
	LimitSay                  = "say"
	LimitSayUser              = "say_user"
	LimitJoin                 = "join"
	LimitPM                   = "pm"
	LimitPMRecipient          = "pm_recipient"
	LimitRoomPassword         = "room_password"
	LimitConnsPerIP           = "conns_per_ip"
	LimitUnauthenticatedPerIP = "unauthenticated_per_ip"
)

// connRetry is the retry time given to a connection refused by a
// per-address cap: one of the address's connections must end first, which
// the server cannot foresee.
const connRetry = 10 * time.Second

// limiters is the state of the limits shared by every connection of a
// node, whatever its transport.
type limiters struct {
	cfg      Limits
	sayUser  *limit.Keyed // by chat.NameKey of the sender
	pm       *limit.Keyed // by sender and recipient name keys
	pmTo     *limit.Keyed // by recipient name key
	roomPass *limit.Keyed // by connection (connLimits.passKey)
	ips      ipConns
	nextConn atomic.Uint64 // numbers connections for roomPass keys
}

func newLimiters(l Limits) *limiters {
	keyed := func(r limit.Rate, name string) *limit.Keyed {
		return limit.NewKeyed(r, limit.Options{Name: name, Refusals: l.Refusals})
	}
	return &limiters{
		cfg:      l,
		sayUser:  keyed(l.SayUser, LimitSayUser),
		pm:       keyed(l.PM, LimitPM),
		pmTo:     keyed(l.PMRecipient, LimitPMRecipient),
		roomPass: keyed(l.RoomPassword, LimitRoomPassword),
		ips:      ipConns{maxTotal: l.ConnsPerIP, maxUnauth: l.UnauthenticatedPerIP},
	}
}

// connLimits is the limit state of one connection. Its buckets are used
// by the connection's read loop only and made at first use, so an idle
// connection holds none.
type connLimits struct {
	say, join *limit.Bucket
	passKey   string // roomPass key, set at the first wrong room password
	ipKey     string // limit.IPKey of the remote address
	counted   bool   // counted in ips
	loggedIn  bool   // counted in ips as logged in
}

// allow takes a token of *b (making the bucket of r at first use), or
// refuses with what and counts the refusal as name.
func (l *limiters) allow(b **limit.Bucket, r limit.Rate, name, what string) error {
	if r.Off() {
		return nil
	}
	if *b == nil {
		*b = limit.NewBucket(r)
	}
	if retry, ok := (*b).Allow(); !ok {
		l.cfg.Refusals.Add(name)
		return chat.RateLimited(what, retry)
	}
	return nil
}

// allowMessage takes a message token of the connection and of its user.
func (c *Client) allowMessage() error {
	l := c.n.lim
	if err := l.allow(&c.lim.say, l.cfg.Say, LimitSay, "Too many messages"); err != nil {
		return err
	}
	if retry, ok := l.sayUser.Allow(chat.NameKey(c.member.Name)); !ok {
		return chat.RateLimited("Too many messages from "+c.member.Name, retry)
	}
	return nil
}

// allowPM takes a token of the sender-to-recipient pair and one of the
// recipient.
func (c *Client) allowPM(to string) error {
	l := c.n.lim
	from, dest := chat.NameKey(c.member.Name), chat.NameKey(to)
	if retry, ok := l.pm.Allow(from + "\x00" + dest); !ok {
		return chat.RateLimited("Too many private messages to "+to, retry)
	}
	if retry, ok := l.pmTo.Allow(dest); !ok {
		return chat.RateLimited(to+" is receiving too many private messages", retry)
	}
	return nil
}

// allowJoin takes a token for a join or a leave.
func (c *Client) allowJoin() error {
	l := c.n.lim
	return l.allow(&c.lim.join, l.cfg.Join, LimitJoin, "Too many room changes")
}

// checkRoomPassword refuses joining a room that has a password while the
// connection's wrong passwords have used up the throttle.
func (c *Client) checkRoomPassword(room int64) error {
	if c.lim.passKey == "" || c.member.Admin {
		return nil
	}
	if info, ok := c.n.group.RoomInfo(room); !ok || info.Password == "" {
		return nil
	}
	if retry, ok := c.n.lim.roomPass.Check(c.lim.passKey); !ok {
		return chat.RateLimited("Too many wrong room passwords", retry)
	}
	return nil
}

// joinFailed uses a token of the room password throttle when err is a
// wrong (not a missing) room password.
func (c *Client) joinFailed(err error, password string) {
	if password == "" || chat.CodeOf(err) != chat.CodeRoomPassword {
		return
	}
	l := c.n.lim
	if c.lim.passKey == "" {
		c.lim.passKey = strconv.FormatUint(l.nextConn.Add(1), 10)
	}
	l.roomPass.Fail(c.lim.passKey)
}

// ipConns counts the connections of each address for the per-address
// caps.
type ipConns struct {
	maxTotal, maxUnauth int

	mu sync.Mutex
	m  map[string]*ipCount
}

type ipCount struct{ total, unauth int }

func (p *ipConns) off() bool { return p.maxTotal <= 0 && p.maxUnauth <= 0 }

// open counts a new, not yet logged in connection of key, or names the
// cap it would pass.
func (p *ipConns) open(key string) (refused string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.m[key]
	if n == nil {
		n = &ipCount{}
	}
	switch {
	case p.maxTotal > 0 && n.total >= p.maxTotal:
		return LimitConnsPerIP
	case p.maxUnauth > 0 && n.unauth >= p.maxUnauth:
		return LimitUnauthenticatedPerIP
	}
	if p.m == nil {
		p.m = map[string]*ipCount{}
	}
	n.total++
	n.unauth++
	p.m[key] = n
	return ""
}

// loggedIn moves a connection of key from the unauthenticated count.
func (p *ipConns) loggedIn(key string) {
	p.mu.Lock()
	if n := p.m[key]; n != nil && n.unauth > 0 {
		n.unauth--
	}
	p.mu.Unlock()
}

// closed forgets a connection of key.
func (p *ipConns) closed(key string, loggedIn bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.m[key]
	if n == nil {
		return
	}
	n.total--
	if !loggedIn && n.unauth > 0 {
		n.unauth--
	}
	if n.total <= 0 {
		delete(p.m, key)
	}
}

// admit counts a new connection from ip under the per-address caps, or
// returns the refusal to send it.
func (n *Node) admit(lim *connLimits, ip string) error {
	p := &n.lim.ips
	if p.off() {
		return nil
	}
	lim.ipKey = limit.IPKey(ip)
	switch p.open(lim.ipKey) {
	case "":
		lim.counted = true
		return nil
	case LimitConnsPerIP:
		n.lim.cfg.Refusals.Add(LimitConnsPerIP)
		return chat.RateLimited("Too many connections from your address", connRetry)
	default:
		n.lim.cfg.Refusals.Add(LimitUnauthenticatedPerIP)
		return chat.RateLimited("Too many connections from your address that have not logged in", connRetry)
	}
}

// countLoggedIn marks the connection logged in for the per-address caps.
func (n *Node) countLoggedIn(lim *connLimits) {
	if lim.counted && !lim.loggedIn {
		lim.loggedIn = true
		n.lim.ips.loggedIn(lim.ipKey)
	}
}

// releaseLimits forgets the connection's limit state when it has ended.
func (n *Node) releaseLimits(lim *connLimits) {
	if lim.counted {
		n.lim.ips.closed(lim.ipKey, lim.loggedIn)
	}
	if lim.passKey != "" {
		n.lim.roomPass.Reset(lim.passKey)
	}
}
