package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/parlorchat/parlor/sdk"
)

// Element kinds.
const (
	kindFreehand = "freehand"
	kindLine     = "line"
	kindArrow    = "arrow"
	kindRect     = "rect"
	kindEllipse  = "ellipse"
	kindText     = "text"
)

// Op kinds.
const (
	opPut    = "put"    // create or replace an element
	opAppend = "append" // add points to one's own freehand stroke
	opDelete = "delete" // erase an element (it stays as a tombstone)
)

// Element is one thing on a board. Version and Nonce order concurrent
// changes: the higher version wins, on a tie the lower nonce. By and Z
// are the module's: who created it and its place in the drawing order.
type Element struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Points  []float64 `json:"points,omitempty"` // x0,y0,x1,y1,...
	Color   string    `json:"color,omitempty"`
	Width   float64   `json:"width,omitempty"`
	Text    string    `json:"text,omitempty"`
	Version int64     `json:"version"`
	Nonce   int64     `json:"nonce"`
	Deleted bool      `json:"deleted,omitempty"`
	By      string    `json:"by,omitempty"`
	Z       int64     `json:"z"`
}

// beats reports whether a change at (version, nonce) wins over e.
func (e *Element) beats(version, nonce int64) bool {
	return version > e.Version || (version == e.Version && nonce < e.Nonce)
}

// Op is one change of a batch, as a client sends it and as the room gets
// it back (puts then carry By and Z).
type Op struct {
	Op      string    `json:"op"`
	El      *Element  `json:"el,omitempty"`     // put
	ID      string    `json:"id,omitempty"`     // append, delete
	Points  []float64 `json:"points,omitempty"` // append
	Version int64     `json:"version,omitempty"`
	Nonce   int64     `json:"nonce,omitempty"`
}

// Batch is the accepted ops of one wb.ops command, numbered by the board.
type Batch struct {
	Seq int64  `json:"seq"`
	By  string `json:"by"`
	Ops []Op   `json:"ops"`
}

// Rejection is an op the board did not apply, with the element as the
// board has it (nil when there is none), so the sender can repair its copy.
type Rejection struct {
	ID      string   `json:"id"`
	Reason  string   `json:"reason"` // stale, not_yours, not_found
	Current *Element `json:"current,omitempty"`
}

// entry is an element and its size as JSON.
type entry struct {
	el   Element
	size int
}

// logged is a batch kept for reconnecting clients.
type logged struct {
	b    Batch
	size int
}

// state is the drawing of one board: what the module alone changes,
// guarded by board.mu. It holds no I/O, so tests drive it directly.
type state struct {
	epoch string
	seq   int64
	els   map[string]*entry
	order []string // by Z; append-only within an epoch
	bytes int      // sum of the sizes of the live elements
	nextZ int64
	log   []logged
}

func newState(epoch string) *state {
	return &state{epoch: epoch, els: map[string]*entry{}}
}

// live is the number of elements not erased.
func (s *state) live() int {
	n := 0
	for _, e := range s.els {
		if !e.el.Deleted {
			n++
		}
	}
	return n
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// refuse is a refusal of a whole batch.
func refuse(code, format string, args ...any) error {
	return &sdk.Refusal{Code: code, Message: fmt.Sprintf(format, args...)}
}

// round keeps one decimal of a coordinate: enough for a screen, and
// short as JSON.
func round(v float64) float64 { return math.Round(v*10) / 10 }

// checkPoints checks and rounds points in place.
func checkPoints(c *config, pts []float64) error {
	if len(pts)%2 != 0 {
		return refuse("bad_element", "Points come in x, y pairs.")
	}
	for i, v := range pts {
		if math.IsNaN(v) || math.Abs(v) > c.MaxCoordinate {
			return refuse("bad_element", "A coordinate is outside ±%g.", c.MaxCoordinate)
		}
		pts[i] = round(v)
	}
	return nil
}

// checkElement checks a put's element against the limits.
func checkElement(c *config, e *Element) error {
	if !idRE.MatchString(e.ID) {
		return refuse("bad_element", "An element id is 1 to 64 letters, digits, _ or -.")
	}
	n := len(e.Points) / 2
	switch e.Kind {
	case kindFreehand:
		if n < 1 {
			return refuse("bad_element", "A stroke has at least one point.")
		}
	case kindLine, kindArrow, kindRect, kindEllipse:
		if len(e.Points) != 4 {
			return refuse("bad_element", "A %s has two points.", e.Kind)
		}
	case kindText:
		if len(e.Points) != 2 {
			return refuse("bad_element", "A text has one point.")
		}
		if len(e.Text) > c.MaxTextBytes {
			return refuse("text_too_long", "A text has at most %d bytes.", c.MaxTextBytes)
		}
		if !utf8.ValidString(e.Text) {
			return refuse("bad_element", "A text must be UTF-8.")
		}
	default:
		return refuse("bad_element", "There is no element kind %q (freehand, line, arrow, rect, ellipse, text).", e.Kind)
	}
	if e.Kind != kindText && e.Text != "" {
		return refuse("bad_element", "Only a text element has text.")
	}
	if n > c.MaxPoints {
		return refuse("too_many_points", "A stroke has at most %d points.", c.MaxPoints)
	}
	if err := checkPoints(c, e.Points); err != nil {
		return err
	}
	if !colorRE.MatchString(e.Color) {
		return refuse("bad_element", "A colour is #rrggbb.")
	}
	if math.IsNaN(e.Width) || e.Width < 0.5 || e.Width > c.MaxWidth {
		return refuse("bad_element", "A width is from 0.5 to %g.", c.MaxWidth)
	}
	if e.Version < 1 {
		return refuse("bad_element", "A version is at least 1.")
	}
	e.Deleted = false
	return nil
}

// elementSize is the size of e as JSON.
func elementSize(e *Element) int {
	b, _ := json.Marshal(e)
	return len(b)
}

// pointsSize is what points add to an element's JSON.
func pointsSize(pts []float64) int {
	var buf [32]byte
	n := 0
	for _, v := range pts {
		n += len(strconv.AppendFloat(buf[:0], v, 'f', -1, 64)) + 1
	}
	return n
}

// apply applies the ops of one member to the board, all or nothing as
// far as limits go: a limit exceeded refuses the whole batch and changes
// nothing. Ops that lose to the board's version, or touch what is not
// the member's, are left out and reported. The accepted ops become the
// next batch (nil when none was accepted).
func (s *state) apply(c *config, by string, moderator bool, ops []Op) (*Batch, []Rejection, error) {
	touched := map[string]*entry{}
	var created []string
	lookup := func(id string) *entry {
		if e, ok := touched[id]; ok {
			return e
		}
		return s.els[id]
	}
	var out []Op
	var rejected []Rejection
	reject := func(id, reason string, cur *entry) {
		r := Rejection{ID: id, Reason: reason}
		if cur != nil {
			el := cur.el
			r.Current = &el
		}
		rejected = append(rejected, r)
	}
	live, bytes := s.live(), s.bytes
	for i := range ops {
		op := ops[i]
		switch op.Op {
		case opPut:
			if op.El == nil {
				return nil, nil, refuse("bad_op", "A put carries an element (el).")
			}
			el := *op.El
			if err := checkElement(c, &el); err != nil {
				return nil, nil, err
			}
			cur := lookup(el.ID)
			if cur != nil {
				if cur.el.By != by && !moderator {
					reject(el.ID, "not_yours", cur)
					continue
				}
				if !cur.el.beats(el.Version, el.Nonce) {
					reject(el.ID, "stale", cur)
					continue
				}
				el.By, el.Z = cur.el.By, cur.el.Z
			} else {
				el.By, el.Z = by, s.nextZ+int64(len(created))
				created = append(created, el.ID)
			}
			n := &entry{el: el, size: elementSize(&el)}
			if n.size > c.MaxElementBytes {
				return nil, nil, refuse("element_too_large", "An element is at most %d bytes; this one has %d.", c.MaxElementBytes, n.size)
			}
			if cur == nil || cur.el.Deleted {
				live++
			} else {
				bytes -= cur.size
			}
			bytes += n.size
			touched[el.ID] = n
			out = append(out, Op{Op: opPut, El: &n.el})
		case opAppend:
			cur := lookup(op.ID)
			if cur == nil || cur.el.Deleted {
				reject(op.ID, "not_found", cur)
				continue
			}
			if cur.el.By != by || cur.el.Kind != kindFreehand {
				reject(op.ID, "not_yours", cur)
				continue
			}
			if op.Version <= cur.el.Version {
				reject(op.ID, "stale", cur)
				continue
			}
			pts := slices.Clone(op.Points)
			if len(pts) == 0 {
				return nil, nil, refuse("bad_op", "An append carries points.")
			}
			if err := checkPoints(c, pts); err != nil {
				return nil, nil, err
			}
			if (len(cur.el.Points)+len(pts))/2 > c.MaxPoints {
				return nil, nil, refuse("too_many_points", "A stroke has at most %d points.", c.MaxPoints)
			}
			n := &entry{el: cur.el, size: cur.size + pointsSize(pts)}
			n.el.Points = append(slices.Clip(cur.el.Points), pts...)
			n.el.Version = op.Version
			if n.size > c.MaxElementBytes {
				return nil, nil, refuse("element_too_large", "An element is at most %d bytes; this stroke would have %d.", c.MaxElementBytes, n.size)
			}
			bytes += n.size - cur.size
			touched[op.ID] = n
			out = append(out, Op{Op: opAppend, ID: op.ID, Points: pts, Version: op.Version})
		case opDelete:
			cur := lookup(op.ID)
			if cur == nil {
				reject(op.ID, "not_found", nil)
				continue
			}
			if cur.el.By != by && !moderator {
				reject(op.ID, "not_yours", cur)
				continue
			}
			if !cur.el.beats(op.Version, op.Nonce) {
				reject(op.ID, "stale", cur)
				continue
			}
			tomb := Element{ID: cur.el.ID, Kind: cur.el.Kind, Version: op.Version, Nonce: op.Nonce, Deleted: true, By: cur.el.By, Z: cur.el.Z}
			if !cur.el.Deleted {
				live--
				bytes -= cur.size
			}
			touched[op.ID] = &entry{el: tomb}
			out = append(out, Op{Op: opDelete, ID: op.ID, Version: op.Version, Nonce: op.Nonce})
		default:
			return nil, nil, refuse("bad_op", "There is no op %q (put, append, delete).", op.Op)
		}
	}
	if live > c.MaxElements || len(s.els)+len(created) > 2*c.MaxElements {
		return nil, nil, refuse("board_full", "The board holds at most %d elements; erase some or ask a moderator to clear it.", c.MaxElements)
	}
	if bytes > c.MaxBoardBytes {
		return nil, nil, refuse("board_too_large", "The board holds at most %d bytes; erase some or ask a moderator to clear it.", c.MaxBoardBytes)
	}
	if len(out) == 0 {
		return nil, rejected, nil
	}
	b := &Batch{Seq: s.seq + 1, By: by, Ops: out}
	raw, _ := json.Marshal(b)
	if len(raw) > c.FrameBytes {
		return nil, nil, refuse("frame_too_large", "A batch is at most %d bytes; send fewer changes at once.", c.FrameBytes)
	}
	for id, e := range touched {
		s.els[id] = e
	}
	s.order = append(s.order, created...)
	s.nextZ += int64(len(created))
	s.bytes = bytes
	s.seq = b.Seq
	s.log = append(s.log, logged{b: *b, size: len(raw)})
	if over := len(s.log) - c.LogBatches; over > 0 {
		s.log = slices.Delete(s.log, 0, over)
	}
	return b, rejected, nil
}

// since returns the batches after seq, as many as fit in limit bytes
// (at least one), and whether more follow; ok is false when the log no
// longer reaches back to seq (or seq is ahead of the board), so the
// client needs a snapshot.
func (s *state) since(seq int64, limit int) (batches []Batch, more, ok bool) {
	if seq > s.seq || seq < 0 {
		return nil, false, false
	}
	if seq == s.seq {
		return []Batch{}, false, true
	}
	if len(s.log) == 0 || s.log[0].b.Seq > seq+1 {
		return nil, false, false
	}
	i := int(seq + 1 - s.log[0].b.Seq)
	size := 0
	for ; i < len(s.log); i++ {
		if size+s.log[i].size > limit && len(batches) > 0 {
			return batches, true, true
		}
		size += s.log[i].size
		batches = append(batches, s.log[i].b)
	}
	return batches, false, true
}

// page returns the live elements from position from of the drawing
// order, as many as fit in limit bytes (at least one), and the position
// of the next page (0 when this is the last).
func (s *state) page(from, limit int) (els []Element, next int) {
	els = []Element{}
	size := 0
	for i := max(from, 0); i < len(s.order); i++ {
		e := s.els[s.order[i]]
		if e.el.Deleted {
			continue
		}
		if size+e.size+1 > limit && len(els) > 0 {
			return els, i
		}
		size += e.size + 1
		els = append(els, e.el)
	}
	return els, 0
}

// elements returns the live elements in drawing order.
func (s *state) elements() []Element {
	els := make([]Element, 0, len(s.order))
	for _, id := range s.order {
		if e := s.els[id]; !e.el.Deleted {
			els = append(els, e.el)
		}
	}
	return els
}

// load replaces the drawing with els (a stored board), in their Z order.
func (s *state) load(els []Element, seq int64) {
	slices.SortStableFunc(els, func(a, b Element) int { return int(a.Z - b.Z) })
	s.els, s.order, s.bytes, s.log, s.seq = map[string]*entry{}, nil, 0, nil, seq
	for _, el := range els {
		if el.Deleted || s.els[el.ID] != nil {
			continue
		}
		e := &entry{el: el, size: elementSize(&el)}
		s.els[el.ID] = e
		s.order = append(s.order, el.ID)
		s.bytes += e.size
		s.nextZ = max(s.nextZ, el.Z+1)
	}
}
