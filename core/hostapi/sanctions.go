package hostapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// sanctionIndex holds the sanctions in force (not lifted; expired ones
// are skipped and dropped as they are found), by user key and, for bans,
// by address prefix, so that Active needs no store access.
type sanctionIndex struct {
	mu     sync.RWMutex
	byUser map[string][]*chat.Sanction // by chat.NameKey
	byIP   []ipSanction
}

type ipSanction struct {
	prefix netip.Prefix
	s      *chat.Sanction
}

func (x *sanctionIndex) add(s chat.Sanction) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byUser == nil {
		x.byUser = map[string][]*chat.Sanction{}
	}
	p := &s
	if s.User != "" {
		k := chat.NameKey(s.User)
		x.byUser[k] = append(x.byUser[k], p)
	}
	if s.IP != "" {
		if prefix, err := parseIP(s.IP); err == nil {
			x.byIP = append(x.byIP, ipSanction{prefix: prefix, s: p})
		}
	}
}

func (x *sanctionIndex) remove(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, list := range x.byUser {
		list = removeID(list, id)
		if len(list) == 0 {
			delete(x.byUser, k)
		} else {
			x.byUser[k] = list
		}
	}
	out := x.byIP[:0]
	for _, e := range x.byIP {
		if e.s.ID != id {
			out = append(out, e)
		}
	}
	x.byIP = out
}

// prune drops the sanctions expired at now.
func (x *sanctionIndex) prune(now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, list := range x.byUser {
		out := list[:0]
		for _, s := range list {
			if !expired(s, now) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			delete(x.byUser, k)
		} else {
			x.byUser[k] = out
		}
	}
	out := x.byIP[:0]
	for _, e := range x.byIP {
		if !expired(e.s, now) {
			out = append(out, e)
		}
	}
	x.byIP = out
}

func removeID(list []*chat.Sanction, id int64) []*chat.Sanction {
	out := list[:0]
	for _, s := range list {
		if s.ID != id {
			out = append(out, s)
		}
	}
	return out
}

func expired(s *chat.Sanction, now time.Time) bool {
	return !s.Expires.IsZero() && !now.Before(s.Expires)
}

// better reports whether a is a stronger answer than b: it lasts longer.
func better(a, b *chat.Sanction) bool {
	if b == nil {
		return true
	}
	if a.Expires.IsZero() != b.Expires.IsZero() {
		return a.Expires.IsZero()
	}
	return a.Expires.After(b.Expires)
}

// Active implements chat.Sanctions: the sanction of kind in force at now
// for the user name (compared by chat.NameKey) or, for bans, the address
// ip, that covers room (its own or one of every room); the longest
// lasting when several do. Expired and lifted sanctions never match.
func (a *API) Active(kind, name, ip string, room int64, now time.Time) *chat.Sanction {
	x := &a.index
	x.mu.RLock()
	defer x.mu.RUnlock()
	var best *chat.Sanction
	consider := func(s *chat.Sanction) {
		if s.Kind == kind && (s.Room == 0 || s.Room == room) && !expired(s, now) && better(s, best) {
			best = s
		}
	}
	if name != "" {
		for _, s := range x.byUser[chat.NameKey(name)] {
			consider(s)
		}
	}
	if kind == sdk.SanctionBan && ip != "" && len(x.byIP) > 0 {
		if addr, err := netip.ParseAddr(ip); err == nil {
			addr = addr.Unmap().WithZone("")
			for _, e := range x.byIP {
				if e.prefix.Contains(addr) {
					consider(e.s)
				}
			}
		}
	}
	if best == nil {
		return nil
	}
	s := *best
	return &s
}

// InForce implements chat.SanctionLister: the sanctions in force at now
// against the user name or, for bans, the address ip, by ID.
func (a *API) InForce(name, ip string, now time.Time) []chat.Sanction {
	x := &a.index
	x.mu.RLock()
	defer x.mu.RUnlock()
	seen := map[int64]bool{}
	var out []chat.Sanction
	keep := func(s *chat.Sanction) {
		if !expired(s, now) && !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, *s)
		}
	}
	if name != "" {
		for _, s := range x.byUser[chat.NameKey(name)] {
			keep(s)
		}
	}
	if ip != "" && len(x.byIP) > 0 {
		if addr, err := netip.ParseAddr(ip); err == nil {
			addr = addr.Unmap().WithZone("")
			for _, e := range x.byIP {
				if e.prefix.Contains(addr) {
					keep(e.s)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b chat.Sanction) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Load reads the sanctions in force from the store into the index that
// Active answers from. Call it once before the chat serves users.
func (a *API) Load(ctx context.Context) error {
	if a.data == nil {
		return nil
	}
	list, err := a.data.Sanctions(ctx, store.SanctionQuery{ActiveAt: a.opts.Now()})
	if err != nil {
		return fmt.Errorf("host api: load sanctions: %w", err)
	}
	x := &a.index
	x.mu.Lock()
	x.byUser, x.byIP = nil, nil
	x.mu.Unlock()
	for _, r := range list {
		x.add(r.Sanction)
	}
	a.log.Info("sanctions loaded", "in_force", len(list))
	return nil
}

// parseIP and canonicalIP are the chat's reading of a sanction's
// address (chat.ParseSanctionIP, chat.CanonicalSanctionIP).
var (
	parseIP     = chat.ParseSanctionIP
	canonicalIP = chat.CanonicalSanctionIP
)

type sanctions struct{ h *host }

func (s sanctions) store() (store.HostData, error) {
	if s.h.api.data == nil {
		return nil, errors.New("host api: the store keeps no sanctions")
	}
	return s.h.api.data, nil
}

func checkKind(kind string) error {
	switch kind {
	case sdk.SanctionBan, sdk.SanctionMute, sdk.SanctionKick:
		return nil
	}
	return invalid("kind %q is not %q, %q or %q", kind, sdk.SanctionBan, sdk.SanctionMute, sdk.SanctionKick)
}

func toSanction(r store.SanctionRecord) sdk.Sanction {
	return sdk.Sanction{
		ID: r.ID, Kind: r.Kind, User: r.User, IP: r.IP, Room: r.Room, Reason: r.Reason, Actor: r.Actor,
		Source: r.Source, Created: r.Created, Expires: r.Expires, Lifted: r.Lifted, LiftedBy: r.LiftedBy,
	}
}

// check validates a new sanction and puts it in canonical form.
func (s sanctions) check(sn *sdk.Sanction, now time.Time) error {
	var errs []error
	if err := checkKind(sn.Kind); err != nil {
		errs = append(errs, err)
	}
	if sn.User == "" && sn.IP == "" {
		errs = append(errs, invalid("give the user's name, an IP address or both"))
	}
	if sn.User != "" {
		if err := checkName(sn.User); err != nil {
			errs = append(errs, err)
		}
	}
	if sn.IP != "" {
		if sn.Kind != sdk.SanctionBan {
			errs = append(errs, invalid("only bans take an IP address"))
		} else if p, err := parseIP(sn.IP); err != nil {
			errs = append(errs, invalid("%q is not an IP address or a CIDR prefix", sn.IP))
		} else {
			sn.IP = canonicalIP(p)
		}
	}
	if sn.Room < 0 {
		errs = append(errs, invalid("room %d is not a room id (0 is every room)", sn.Room))
	}
	if sn.Kind == sdk.SanctionKick && (sn.Room == 0 || sn.Expires.IsZero()) {
		errs = append(errs, invalid("a kick cooldown needs a room and an expiry"))
	}
	if !sn.Expires.IsZero() && !sn.Expires.After(now) {
		errs = append(errs, invalid("the expiry %s is not in the future", sn.Expires.UTC().Format(time.RFC3339)))
	}
	switch sn.Source {
	case "":
		sn.Source = s.h.source()
	case "manual", "automod":
	default:
		errs = append(errs, invalid("source %q is not \"manual\", \"automod\" or empty (the plugin's name)", sn.Source))
	}
	errs = append(errs, checkText("the reason", sn.Reason, MaxReasonChars), checkText("the actor", sn.Actor, MaxActorChars))
	return errors.Join(errs...)
}

func (s sanctions) Add(ctx context.Context, sn sdk.Sanction) (sdk.Sanction, error) {
	st, err := s.store()
	if err != nil {
		return sdk.Sanction{}, err
	}
	now := s.h.api.opts.Now()
	if err := s.check(&sn, now); err != nil {
		return sdk.Sanction{}, err
	}
	if c := s.h.api.chat(); sn.Room != 0 && c != nil {
		if _, ok := c.RoomInfo(sn.Room); !ok {
			return sdk.Sanction{}, notFound("there is no room %d", sn.Room)
		}
	}
	rec, err := st.AddSanction(ctx, store.SanctionRecord{Sanction: chat.Sanction{
		Kind: sn.Kind, User: sn.User, IP: sn.IP, Room: sn.Room, Reason: sn.Reason, Actor: sn.Actor,
		Source: sn.Source, Created: now, Expires: sn.Expires,
	}})
	if err != nil {
		return sdk.Sanction{}, storeErr(err)
	}
	s.h.api.index.prune(now)
	s.h.api.index.add(rec.Sanction)
	s.h.api.log.Info("sanction added", "plugin", s.h.plugin, "id", rec.ID, "kind", rec.Kind, "user", rec.User,
		"ip", rec.IP, "room", rec.Room, "actor", rec.Actor, "expires", rec.Expires)
	s.h.api.record(ctx, sanctionAudit(rec.Kind, rec, rec.Actor, rec.Source))
	s.h.api.tellSanctioned(rec.Sanction, false, "") // before a ban ends the session
	if rec.Kind == sdk.SanctionBan {
		s.enforceBan(rec.Sanction)
	}
	return toSanction(rec), nil
}

// sanctionAudit is the audit entry of a sanction added (action its kind)
// or lifted (sdk.AuditLift) by actor from source.
func sanctionAudit(action string, rec store.SanctionRecord, actor, source string) sdk.AuditEntry {
	target := rec.User
	detail := fmt.Sprintf("%s %d", rec.Kind, rec.ID)
	if target == "" {
		target = rec.IP
	} else if rec.IP != "" {
		detail += ", ip " + rec.IP
	}
	if !rec.Expires.IsZero() {
		detail += ", until " + rec.Expires.UTC().Format(time.RFC3339)
	} else if rec.Kind != sdk.SanctionKick {
		detail += ", permanent"
	}
	return sdk.AuditEntry{Action: action, Actor: actor, Source: source, Target: target, Room: rec.Room,
		Reason: rec.Reason, Detail: detail}
}

// enforceBan ends what a new ban forbids: the session (global ban, through
// Options.OnBan) or the presence in the room (a room's ban).
func (s sanctions) enforceBan(b chat.Sanction) {
	if b.Room == 0 {
		if s.h.api.opts.OnBan != nil {
			s.h.api.opts.OnBan(b)
		}
		return
	}
	c := s.h.api.chat()
	if c == nil {
		return
	}
	reason := "You are banned from this room."
	if b.Reason != "" {
		reason = "You are banned from this room: " + b.Reason
	}
	if b.User != "" {
		// Not being in the room is fine: the ban keeps them out.
		_ = c.Kick(b.User, b.Room, reason)
	}
	if b.IP == "" {
		return
	}
	// The members of the room connected from the banned addresses leave
	// it too, told why.
	prefix, err := parseIP(b.IP)
	if err != nil {
		return
	}
	members, _ := c.Members(b.Room)
	for _, m := range members {
		addr, err := netip.ParseAddr(m.IP)
		if err != nil || !prefix.Contains(addr.Unmap().WithZone("")) || chat.NameKey(m.Name) == chat.NameKey(b.User) {
			continue
		}
		c.SendUser(m.Name, c.SanctionFrame(b))
		_ = c.Kick(m.Name, b.Room, reason)
	}
}

func (s sanctions) Lift(ctx context.Context, id int64, by string) (sdk.Sanction, error) {
	st, err := s.store()
	if err != nil {
		return sdk.Sanction{}, err
	}
	if err := checkText("lifted by", by, MaxActorChars); err != nil {
		return sdk.Sanction{}, err
	}
	if by == "" {
		by = s.h.source()
	}
	rec, err := st.LiftSanction(ctx, id, by, s.h.api.opts.Now())
	if err != nil {
		return sdk.Sanction{}, storeErr(err)
	}
	s.h.api.index.remove(id)
	s.h.api.log.Info("sanction lifted", "plugin", s.h.plugin, "id", id, "kind", rec.Kind, "user", rec.User, "by", by)
	s.h.api.record(ctx, sanctionAudit(sdk.AuditLift, rec, by, s.h.source()))
	s.h.api.tellSanctioned(rec.Sanction, true, by)
	return toSanction(rec), nil
}

func (s sanctions) List(ctx context.Context, f sdk.SanctionFilter) ([]sdk.Sanction, error) {
	st, err := s.store()
	if err != nil {
		return nil, err
	}
	if f.Kind != "" {
		if err := checkKind(f.Kind); err != nil {
			return nil, err
		}
	}
	if f.Room < 0 {
		return nil, invalid("room %d is not a room id", f.Room)
	}
	q := store.SanctionQuery{Kind: f.Kind, User: f.User, Room: f.Room}
	if f.Active {
		q.ActiveAt = s.h.api.opts.Now()
	}
	list, err := st.Sanctions(ctx, q)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]sdk.Sanction, 0, len(list))
	for _, r := range list {
		out = append(out, toSanction(r))
	}
	return out, nil
}

// tellSanctioned tells the user a sanction names, if online, that it was
// imposed or lifted (by by) with the sanctioned and sanction_lifted
// events. An address ban is told to nobody: the connections it covers
// end (Options.OnBan) with its reason.
func (a *API) tellSanctioned(s chat.Sanction, lifted bool, by string) {
	if c := a.chat(); c != nil {
		c.TellSanction(s, lifted, by)
	}
}
