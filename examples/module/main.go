// Command parlor-plugin-dice is an example Parlor module built on sdk/
// alone: the "dice.roll" command rolls NdM dice and announces the roll to
// the caller's room as a "dice.rolled" event, an OnMessage filter masks the
// configured words, and main.js adds /roll to the web client.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parlorchat/parlor/sdk"
)

//go:embed main.js
var web embed.FS

// config is the plugin's `config` block.
type config struct {
	Words    []string `json:"words"`     // masked in messages, whole words, any case
	MaxDice  int      `json:"max_dice"`  // most dice in one roll (default 20)
	MaxSides int      `json:"max_sides"` // most sides of a die (default 1000)
}

// roll is the answer to dice.roll.
type roll struct {
	Dice  string `json:"dice"`
	Rolls []int  `json:"rolls"`
	Total int    `json:"total"`
}

// rolled is the data of the dice.rolled event.
type rolled struct {
	User string `json:"user"`
	roll
}

// dice is the module.
type dice struct {
	cfg  config
	host sdk.Host
}

// wordRE is a word: letters, marks and digits of any script.
var wordRE = regexp.MustCompile(`[\p{L}\p{M}\p{N}]+`)

func (d *dice) Configure(_ context.Context, cfg sdk.Config) error {
	d.cfg, d.host = config{MaxDice: 20, MaxSides: 1000}, cfg.Host
	if err := cfg.Decode(&d.cfg); err != nil {
		return err
	}
	for _, w := range d.cfg.Words {
		if w == "" || wordRE.FindString(w) != w {
			return fmt.Errorf("dice config: words: %q is not a single word", w)
		}
	}
	if d.cfg.MaxDice < 1 || d.cfg.MaxSides < 2 {
		return fmt.Errorf("dice config: max_dice must be at least 1 and max_sides at least 2")
	}
	return nil
}

func (d *dice) Manifest() sdk.Manifest {
	return sdk.Manifest{Commands: []string{"dice."}, Assets: web, Client: "main.js"}
}

func (d *dice) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	if cmd.Type != "dice.roll" {
		return sdk.Reply{}, &sdk.Refusal{Code: "unknown_command", Message: "The dice module knows dice.roll only."}
	}
	var req struct {
		Dice string `json:"dice"`
	}
	err := json.Unmarshal(cmd.Data, &req)
	ns, ms, _ := strings.Cut(strings.ToLower(strings.TrimSpace(req.Dice)), "d")
	n, errN := strconv.Atoi(ns)
	sides, errM := strconv.Atoi(ms)
	if err != nil || errN != nil || errM != nil || n < 1 || n > d.cfg.MaxDice || sides < 2 || sides > d.cfg.MaxSides {
		return sdk.Reply{}, &sdk.Refusal{Code: "bad_dice", Message: fmt.Sprintf(
			"Roll NdM dice, such as 2d6: 1 to %d dice of 2 to %d sides.", d.cfg.MaxDice, d.cfg.MaxSides)}
	}
	r := roll{Dice: fmt.Sprintf("%dd%d", n, sides), Rolls: make([]int, n)}
	for i := range r.Rolls {
		r.Rolls[i] = rand.IntN(sides) + 1
		r.Total += r.Rolls[i]
	}
	if d.host != nil && cmd.Room != 0 {
		data, _ := json.Marshal(rolled{User: cmd.Caller.Name, roll: r})
		ev := sdk.Event{Type: "dice.rolled", Room: cmd.Room, Data: data}
		if _, err := d.host.Messages().Event(ctx, sdk.ToRoom(cmd.Room), ev); err != nil {
			return sdk.Reply{}, fmt.Errorf("announce the roll in room %d: %w", cmd.Room, err)
		}
	}
	data, err := json.Marshal(r)
	return sdk.Reply{Data: data}, err
}

func (d *dice) OnMessage(_ context.Context, ev sdk.MessageEvent) (sdk.MessageVerdict, error) {
	text := wordRE.ReplaceAllStringFunc(ev.Text, func(w string) string {
		for _, bad := range d.cfg.Words {
			if strings.EqualFold(w, bad) {
				return strings.Repeat("*", utf8.RuneCountInString(w))
			}
		}
		return w
	})
	if text == ev.Text {
		return sdk.MessageVerdict{Action: sdk.Pass}, nil
	}
	return sdk.MessageVerdict{Action: sdk.Modify, Text: text, Style: ev.Style}, nil
}

func main() { sdk.Serve(sdk.ServeOpts{Module: &dice{}, Logger: sdk.NewLogger("dice")}) }
