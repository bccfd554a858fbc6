package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// CPU is the processor time a server spent on one measured phase, read
// from /proc/<pid>/stat (utime + stime) before and after it. Its
// resolution is a clock tick (10 ms): phases are long enough that this is
// well under 1%.
type CPU struct {
	// Seconds is the server process's CPU time during the phase.
	Seconds float64 `json:"seconds"`
	// Ops is what the phase did: deliveries, logins, connections.
	Ops int64 `json:"ops"`
	// MicrosPerOp is Seconds per operation in microseconds.
	MicrosPerOp float64 `json:"us_per_op"`
	// PluginSeconds and PluginMicrosPerOp are the same for the server's
	// child processes (plugins), when it has any.
	PluginSeconds     float64 `json:"plugin_seconds,omitempty"`
	PluginMicrosPerOp float64 `json:"plugin_us_per_op,omitempty"`
	// Window is the phase's length in seconds where MicrosPerOp is per
	// operation and second (the idle connections).
	Window float64 `json:"window_seconds,omitempty"`
	// WritesPerOp is the server's write system calls (/proc/<pid>/io
	// syscw) per operation: on this path most of a write's cost is the
	// kernel's, so it tells where CPU goes as well as the profile does.
	WritesPerOp float64 `json:"writes_per_op,omitempty"`
}

// procTimes is the user plus system time of a process and, separately,
// of its living child processes.
type procTimes struct {
	self, children time.Duration
}

// parseStat reads utime + stime from the text of a /proc/<pid>/stat file.
func parseStat(s string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces and
	// parentheses; the fields after its last ')' do not.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// processCPU is the user plus system time of process pid.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process times: %w", err)
	}
	d, err := parseStat(string(b))
	if err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return d, nil
}

// writeCalls is the number of write system calls process pid made.
func writeCalls(pid int) (int64, error) {
	if pid == 0 {
		return 0, errors.New("no server process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, fmt.Errorf("read process io: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse /proc/%d/io: %w", pid, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no syscw in /proc/%d/io", pid)
}

// cpuTicks is the user plus system time of a process in clock ticks.
func cpuTicks(pid int) (int64, error) {
	d, err := processCPU(pid)
	return int64(d / clockTick), err
}

// childPIDs lists the child processes of pid (from each of its threads'
// /proc/<pid>/task/<tid>/children).
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// readTimes reads the times of pid and its child processes.
func readTimes(pid int) (procTimes, error) {
	self, err := processCPU(pid)
	if err != nil {
		return procTimes{}, err
	}
	t := procTimes{self: self}
	for _, c := range childPIDs(pid) {
		if d, err := processCPU(c); err == nil {
			t.children += d
		}
	}
	return t, nil
}

// cpuMeter measures one phase of a process: start it before the phase,
// call done after it.
type cpuMeter struct {
	pid    int
	start  procTimes
	writes int64 // write calls at the start; -1 when not readable
	ok     bool
}

// meterCPU starts measuring process pid; with pid 0 (a server inside the
// tool, or a running one without --pid) nothing is measured.
func meterCPU(pid int) cpuMeter {
	if pid == 0 {
		return cpuMeter{}
	}
	t, err := readTimes(pid)
	w, werr := writeCalls(pid)
	if werr != nil {
		w = -1
	}
	return cpuMeter{pid: pid, start: t, writes: w, ok: err == nil}
}

// done ends the phase, which did ops operations; nil when nothing could
// be measured.
func (m cpuMeter) done(ops int64) *CPU {
	if !m.ok {
		return nil
	}
	t, err := readTimes(m.pid)
	if err != nil {
		return nil
	}
	c := &CPU{Seconds: (t.self - m.start.self).Seconds(), Ops: ops}
	// A plugin started or restarted during the phase brings its earlier
	// time; a negative difference means one ended.
	if d := t.children - m.start.children; d > 0 {
		c.PluginSeconds = d.Seconds()
	}
	if ops > 0 {
		c.MicrosPerOp = c.Seconds * 1e6 / float64(ops)
		c.PluginMicrosPerOp = c.PluginSeconds * 1e6 / float64(ops)
		if w, err := writeCalls(m.pid); err == nil && m.writes >= 0 {
			c.WritesPerOp = float64(w-m.writes) / float64(ops)
		}
	}
	return c
}

// cpuText formats a phase's CPU per operation, "-" when not measured.
func cpuText(c *CPU, op string) string {
	if c == nil {
		return "server CPU -"
	}
	s := fmt.Sprintf("server CPU %s us/%s", micros(c.MicrosPerOp), op)
	if c.PluginMicrosPerOp > 0 {
		s += fmt.Sprintf(" (+%s in plugins)", micros(c.PluginMicrosPerOp))
	}
	if c.WritesPerOp > 0 {
		s += fmt.Sprintf(", %s writes/%s", micros(c.WritesPerOp), op)
	}
	return s
}

// micros formats microseconds with three significant digits or so.
func micros(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// perOp is c's microseconds per operation, 0 when not measured.
func perOp(c *CPU) float64 {
	if c == nil {
		return 0
	}
	return c.MicrosPerOp
}
