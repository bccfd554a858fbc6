package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// maxEventBytes is the host's limit on the data of a custom event
// (docs/plugins.md, "Custom events"); a batch is relayed as one.
const maxEventBytes = 64 << 10

// rawConfig is the plugin's `config` block as parlor.yaml gives it.
type rawConfig struct {
	Guests           *bool   `json:"guests"`
	FrameBytes       int     `json:"frame_bytes"`
	MaxElementBytes  int     `json:"max_element_bytes"`
	MaxPoints        int     `json:"max_points"`
	MaxTextBytes     int     `json:"max_text_bytes"`
	MaxWidth         float64 `json:"max_width"`
	MaxCoordinate    float64 `json:"max_coordinate"`
	MaxElements      int     `json:"max_elements"`
	MaxBoardBytes    int     `json:"max_board_bytes"`
	OpsPerSecond     float64 `json:"ops_per_second"`
	OpsBurst         int     `json:"ops_burst"`
	CursorsPerSecond float64 `json:"cursors_per_second"`
	LogBatches       int     `json:"log_batches"`
	SaveInterval     string  `json:"save_interval"`
	MaxArchives      int     `json:"max_archives"`
	ForwardTimeout   string  `json:"forward_timeout"`
}

// config is the checked configuration (docs/whiteboard.md, "Configuration").
type config struct {
	// Guests lets guests draw in rooms that admit guests.
	Guests bool
	// FrameBytes bounds a batch a client sends, the batch relayed to the
	// room, a page of a snapshot and the ops of one sync answer.
	FrameBytes int
	// MaxElementBytes bounds one element as JSON.
	MaxElementBytes int
	// MaxPoints bounds the points of one element (a freehand stroke).
	MaxPoints int
	// MaxTextBytes bounds the text of a text element.
	MaxTextBytes int
	// MaxWidth bounds the stroke width (and the font size of text).
	MaxWidth float64
	// MaxCoordinate bounds |x| and |y| of every point.
	MaxCoordinate float64
	// MaxElements bounds the elements of a board, erased ones included.
	MaxElements int
	// MaxBoardBytes bounds a board as JSON (its stored document).
	MaxBoardBytes int
	// OpsPerSecond and OpsBurst bound the ops one member sends to one
	// board.
	OpsPerSecond float64
	OpsBurst     int
	// CursorsPerSecond bounds the cursor positions one member relays.
	CursorsPerSecond float64
	// LogBatches is how many recent batches a board keeps for clients
	// that reconnect; one further behind gets a snapshot.
	LogBatches int
	// SaveInterval is the longest a changed board waits to be stored.
	SaveInterval time.Duration
	// MaxArchives is how many archived boards a room keeps.
	MaxArchives int
	// ForwardTimeout is how long a node waits for the board's writer on
	// another node to answer a forwarded command (several nodes).
	ForwardTimeout time.Duration
}

// defaults are the values of keys parlor.yaml leaves out.
func defaults() config {
	return config{
		Guests:           true,
		FrameBytes:       48 << 10,
		MaxElementBytes:  32 << 10,
		MaxPoints:        2000,
		MaxTextBytes:     1000,
		MaxWidth:         64,
		MaxCoordinate:    100000,
		MaxElements:      5000,
		MaxBoardBytes:    4 << 20,
		OpsPerSecond:     120,
		OpsBurst:         240,
		CursorsPerSecond: 20,
		LogBatches:       1024,
		SaveInterval:     500 * time.Millisecond,
		MaxArchives:      20,
		ForwardTimeout:   2 * time.Second,
	}
}

// parseConfig decodes and checks the `config` block; every error names
// the key.
func parseConfig(cfg sdk.Config) (config, error) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return config{}, err
	}
	c := defaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("whiteboard config: %s: %s", key, fmt.Sprintf(format, args...)))
	}
	setInt := func(dst *int, v int, key string, lo, hi int) {
		if v == 0 {
			return
		}
		if v < lo || v > hi {
			bad(key, "%d is outside %d..%d", v, lo, hi)
			return
		}
		*dst = v
	}
	setFloat := func(dst *float64, v float64, key string, lo, hi float64) {
		if v == 0 {
			return
		}
		if v < lo || v > hi {
			bad(key, "%g is outside %g..%g", v, lo, hi)
			return
		}
		*dst = v
	}
	if raw.Guests != nil {
		c.Guests = *raw.Guests
	}
	setInt(&c.FrameBytes, raw.FrameBytes, "frame_bytes", 4<<10, maxEventBytes-1024)
	setInt(&c.MaxElementBytes, raw.MaxElementBytes, "max_element_bytes", 256, 1<<20)
	setInt(&c.MaxPoints, raw.MaxPoints, "max_points", 2, 100000)
	setInt(&c.MaxTextBytes, raw.MaxTextBytes, "max_text_bytes", 1, 64<<10)
	setFloat(&c.MaxWidth, raw.MaxWidth, "max_width", 1, 1000)
	setFloat(&c.MaxCoordinate, raw.MaxCoordinate, "max_coordinate", 100, 1e7)
	setInt(&c.MaxElements, raw.MaxElements, "max_elements", 1, 1000000)
	setInt(&c.MaxBoardBytes, raw.MaxBoardBytes, "max_board_bytes", 4<<10, 16<<20)
	setFloat(&c.OpsPerSecond, raw.OpsPerSecond, "ops_per_second", 0.1, 100000)
	setInt(&c.OpsBurst, raw.OpsBurst, "ops_burst", 1, 1000000)
	setFloat(&c.CursorsPerSecond, raw.CursorsPerSecond, "cursors_per_second", 0.1, 1000)
	setInt(&c.LogBatches, raw.LogBatches, "log_batches", 1, 1000000)
	setInt(&c.MaxArchives, raw.MaxArchives, "max_archives", 1, 10000)
	if raw.SaveInterval != "" {
		d, err := time.ParseDuration(raw.SaveInterval)
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			bad("save_interval", "%q is not a duration from 10ms to 1m, such as 500ms", raw.SaveInterval)
		} else {
			c.SaveInterval = d
		}
	}
	if raw.ForwardTimeout != "" {
		d, err := time.ParseDuration(raw.ForwardTimeout)
		if err != nil || d < 10*time.Millisecond || d > 30*time.Second {
			bad("forward_timeout", "%q is not a duration from 10ms to 30s, such as 2s", raw.ForwardTimeout)
		} else {
			c.ForwardTimeout = d
		}
	}
	// A snapshot is sent in pages of frame_bytes, so one element must
	// fit in a page with room to spare; a board must hold one element.
	if raw.MaxElementBytes == 0 {
		c.MaxElementBytes = min(c.MaxElementBytes, c.FrameBytes-512)
	}
	if len(errs) == 0 && c.MaxElementBytes > c.FrameBytes-512 {
		bad("max_element_bytes", "%d does not fit in a frame (frame_bytes %d less 512)", c.MaxElementBytes, c.FrameBytes)
	}
	if len(errs) == 0 && c.MaxBoardBytes < c.MaxElementBytes {
		bad("max_board_bytes", "%d is below max_element_bytes %d", c.MaxBoardBytes, c.MaxElementBytes)
	}
	return c, errors.Join(errs...)
}
