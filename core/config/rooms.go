package config

import (
	"fmt"

	"github.com/knadh/koanf/v2"
)

// roomDefaults are the values of a room entry's keys that the entry leaves
// out, the same as the server API's add_room gives a room it creates: open
// and guests allowed. The other keys default to their zero value, which is
// add_room's too: no owner, speaker, password or welcome message, max 0
// (unlimited), st 0 (listed in the text client), passallmessage, audio,
// video and wb off.
func roomDefaults() map[string]any {
	return map[string]any{"en": true, "member": true}
}

// defaultRooms fills in the keys each entry of rooms leaves out (or sets
// to null) with roomDefaults(); an entry's own values are kept.
func defaultRooms(k *koanf.Koanf) error {
	list, ok := k.Get("rooms").([]any)
	if !ok {
		return nil // no rooms, or not a list: the decoder says what is wrong
	}
	out := make([]any, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			out[i] = e
			continue
		}
		filled := roomDefaults()
		for key, v := range m {
			if v != nil {
				filled[key] = v
			}
		}
		out[i] = filled
	}
	if err := k.Set("rooms", out); err != nil {
		return fmt.Errorf("room defaults: %w", err)
	}
	return nil
}
