package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The rows parlor-bench maintains in BENCHMARKS.md sit between these
// markers; everything else in the file is left as it is.
const (
	mdBegin  = "<!-- parlor-bench:begin -->"
	mdEnd    = "<!-- parlor-bench:end -->"
	mdHeader = "| machine | command | figure | value | target | met | date |\n|---|---|---|---|---|---|---|"
)

// writeMarkdown adds this run's figures to path, replacing the rows of the
// same machine and figure from earlier runs.
func writeMarkdown(path string, rep *Report) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	text := string(old)
	if text == "" {
		text = "# Benchmarks\n\nRows written by `make bench` (cmd/parlor-bench).\n\n" + mdBegin + "\n" + mdEnd + "\n"
	}
	b := strings.Index(text, mdBegin)
	e := strings.Index(text, mdEnd)
	if b < 0 || e < b {
		text = strings.TrimRight(text, "\n") + "\n\n" + mdBegin + "\n" + mdEnd + "\n"
		b = strings.Index(text, mdBegin)
		e = strings.Index(text, mdEnd)
	}
	block := text[b+len(mdBegin) : e]

	type row struct{ key, line string }
	var rows []row
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| machine |") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := splitRow(line)
		if len(cells) < 3 {
			continue
		}
		rows = append(rows, row{key: cells[0] + "\x00" + cells[2], line: line})
	}
	mach := rep.Machine.String()
	date := time.Now().UTC().Format("2006-01-02")
	for _, f := range rep.Figures {
		cells := []string{mach, "`" + rep.Command + "`", f.Name, f.Value, dash(f.Target), dash(f.Met), date}
		for i := range cells {
			cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
		}
		line := "| " + strings.Join(cells, " | ") + " |"
		key := cells[0] + "\x00" + cells[2]
		replaced := false
		for i := range rows {
			if rows[i].key == key {
				rows[i].line, replaced = line, true
				break
			}
		}
		if !replaced {
			rows = append(rows, row{key: key, line: line})
		}
	}
	var nb strings.Builder
	nb.WriteString(mdBegin + "\n" + mdHeader + "\n")
	for _, r := range rows {
		nb.WriteString(r.line + "\n")
	}
	out := text[:b] + nb.String() + text[e:]
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// splitRow splits a Markdown table row into trimmed cells, honouring \|.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}
