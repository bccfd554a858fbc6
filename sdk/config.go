package sdk

import (
	"encoding/json"
	"fmt"
)

// Config is a plugin's configuration block, as JSON.
type Config struct {
	// Raw is the JSON encoding of the plugin's `config` map.
	Raw []byte
	// Host is the Host API, given to modules (see Module); nil for a
	// plugin that serves only an Authenticator.
	Host Host
}

// Decode unmarshals the configuration into v (a pointer to a struct with
// json tags). An empty configuration leaves v unchanged.
func (c Config) Decode(v any) error {
	if len(c.Raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Raw, v); err != nil {
		return fmt.Errorf("decode plugin config: %w", err)
	}
	return nil
}
