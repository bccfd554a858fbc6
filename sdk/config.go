package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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
// json tags). It is strict: a key v has no field for is an error naming the
// key (`plugin config: unknown key "greting"`), so that a typo in
// parlor.yaml is refused at start-up instead of being ignored, and so is a
// value of the wrong type. An empty configuration leaves v unchanged.
func (c Config) Decode(v any) error {
	if len(bytes.TrimSpace(c.Raw)) == 0 || string(bytes.TrimSpace(c.Raw)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(c.Raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode plugin config: %w", explainDecode(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode plugin config: unexpected data after the configuration object")
	}
	return nil
}

// explainDecode turns encoding/json's errors into sentences about keys.
func explainDecode(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Errorf("key %q: %s is not a %s", typeErr.Field, typeErr.Value, typeErr.Type)
	}
	// DisallowUnknownFields has no error type; its words are stable.
	if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown key %s", key)
	}
	return err
}
