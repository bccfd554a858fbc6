package passwords

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on argon2 parameters read from a stored hash, so that a corrupt or
// hostile row cannot make one login use unbounded memory or time.
const (
	argon2MaxMemoryKiB = 1 << 21 // 2 GiB
	argon2MaxTime      = 64
	argon2MaxThreads   = 64
)

// verifyArgon2 checks a PHC string $argon2id$v=19$m=M,t=T,p=P$salt$hash (or
// $argon2i$), as written by PHP's password_hash and libsodium.
func verifyArgon2(stored, password string) (bool, error) {
	fields := strings.Split(stored, "$")
	// "", variant, v=19, m=..,t=..,p=.., salt, hash
	if len(fields) != 6 || fields[0] != "" {
		return false, fmt.Errorf("%w: argon2: want $argon2id$v=19$m=..,t=..,p=..$salt$hash", ErrMalformed)
	}
	variant := fields[1]
	if variant != "argon2id" && variant != "argon2i" {
		return false, fmt.Errorf("%w: argon2: unsupported variant %q", ErrMalformed, variant)
	}
	var version int
	if _, err := fmt.Sscanf(fields[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("%w: argon2: want version v=%d", ErrMalformed, argon2.Version)
	}
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(fields[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil {
		return false, fmt.Errorf("%w: argon2: parameters %q", ErrMalformed, fields[3])
	}
	if memory == 0 || memory > argon2MaxMemoryKiB || time == 0 || time > argon2MaxTime || threads == 0 || threads > argon2MaxThreads {
		return false, fmt.Errorf("%w: argon2: parameters out of range", ErrMalformed)
	}
	salt, err := base64.RawStdEncoding.DecodeString(fields[4])
	if err != nil {
		return false, fmt.Errorf("%w: argon2: salt: %v", ErrMalformed, err)
	}
	want, err := base64.RawStdEncoding.DecodeString(fields[5])
	if err != nil || len(want) < 4 {
		return false, fmt.Errorf("%w: argon2: hash is not base64", ErrMalformed)
	}
	var got []byte
	if variant == "argon2id" {
		got = argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	} else {
		got = argon2.Key([]byte(password), salt, time, memory, threads, uint32(len(want)))
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
