// Package passwords verifies a password against the hash a web site keeps
// in its users table: plain text, unsalted hex digests (md5, sha1, sha256),
// salted md5 after a configurable pattern, bcrypt (PHP's $2y$ included and
// WordPress 6.8's $wp$ prefix), phpass portable hashes ($P$ of WordPress,
// $H$ of phpBB) and argon2id/argon2i in PHC string format. Every comparison
// of secret material is constant-time.
package passwords

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Scheme names a password storage scheme.
type Scheme string

// The supported schemes.
const (
	Plain     Scheme = "plain"      // the password itself
	MD5       Scheme = "md5"        // hex md5(password)
	SHA1      Scheme = "sha1"       // hex sha1(password)
	SHA256    Scheme = "sha256"     // hex sha256(password)
	SaltedMD5 Scheme = "salted_md5" // hex md5(pattern), the pattern combining {salt} and {password}
	Bcrypt    Scheme = "bcrypt"     // $2a$, $2b$, $2x$, $2y$ and WordPress $wp$2y$
	Phpass    Scheme = "phpass"     // $P$ (WordPress) and $H$ (phpBB) portable hashes
	Argon2id  Scheme = "argon2id"   // $argon2id$v=19$m=..,t=..,p=..$salt$hash (and $argon2i$)
	Auto      Scheme = "auto"       // chosen per hash by its prefix and length
)

// Schemes lists every scheme in documentation order.
var Schemes = []Scheme{Plain, MD5, SHA1, SHA256, SaltedMD5, Bcrypt, Phpass, Argon2id, Auto}

// ErrMalformed is returned (wrapped) when a stored hash does not have the
// form its scheme requires. Callers treat it as a wrong password and log it.
var ErrMalformed = errors.New("malformed password hash")

// DefaultSaltPattern is the salted_md5 pattern used when none is given.
const DefaultSaltPattern = "{salt}{password}"

// Verifier checks passwords for one configured scheme. The zero value is
// not usable; build one with New.
type Verifier struct {
	scheme  Scheme
	pattern []patternPart
}

// New returns a Verifier for scheme. pattern is used by salted_md5 (and by
// auto for a 32-digit hash when a salt is present); an empty pattern means
// DefaultSaltPattern. The pattern is text in which {password}, {salt},
// {md5(password)} and {md5(salt)} are replaced before hashing, so
// "{md5(password)}{salt}" is vBulletin's md5(md5(password).salt).
func New(scheme Scheme, pattern string) (*Verifier, error) {
	switch scheme {
	case Plain, MD5, SHA1, SHA256, SaltedMD5, Bcrypt, Phpass, Argon2id, Auto:
	case "":
		return nil, errors.New("password scheme is empty")
	default:
		return nil, fmt.Errorf("unknown password scheme %q (want one of %s)", scheme, schemeList())
	}
	if pattern == "" {
		pattern = DefaultSaltPattern
	}
	parts, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	return &Verifier{scheme: scheme, pattern: parts}, nil
}

// Scheme returns the verifier's scheme.
func (v *Verifier) Scheme() Scheme { return v.scheme }

// NeedsSalt reports whether the scheme reads a salt column.
func (v *Verifier) NeedsSalt() bool { return v.scheme == SaltedMD5 }

// Verify reports whether password matches stored. salt is used by
// salted_md5 only. A stored hash of the wrong form yields false and an
// error wrapping ErrMalformed; an empty stored value never matches.
func (v *Verifier) Verify(stored, password, salt string) (bool, error) {
	if stored == "" {
		return false, nil
	}
	switch v.scheme {
	case Plain:
		return equal(stored, password), nil
	case MD5:
		return hexDigest(stored, md5Sum([]byte(password)), "md5")
	case SHA1:
		s := sha1.Sum([]byte(password))
		return hexDigest(stored, s[:], "sha1")
	case SHA256:
		s := sha256.Sum256([]byte(password))
		return hexDigest(stored, s[:], "sha256")
	case SaltedMD5:
		return hexDigest(stored, md5Sum([]byte(expand(v.pattern, password, salt))), "salted_md5")
	case Bcrypt:
		return verifyBcrypt(stored, password)
	case Phpass:
		return verifyPhpass(stored, password)
	case Argon2id:
		return verifyArgon2(stored, password)
	case Auto:
		return v.verifyAuto(stored, password, salt)
	}
	return false, fmt.Errorf("unknown password scheme %q", v.scheme)
}

// verifyAuto picks the scheme from the stored hash, as WordPress and phpBB
// do for tables holding hashes of several generations.
func (v *Verifier) verifyAuto(stored, password, salt string) (bool, error) {
	switch {
	case strings.HasPrefix(stored, "$2") || strings.HasPrefix(stored, "$wp$"):
		return verifyBcrypt(stored, password)
	case strings.HasPrefix(stored, "$P$") || strings.HasPrefix(stored, "$H$"):
		return verifyPhpass(stored, password)
	case strings.HasPrefix(stored, "$argon2"):
		return verifyArgon2(stored, password)
	case isHex(stored) && len(stored) == 32:
		if salt != "" {
			return hexDigest(stored, md5Sum([]byte(expand(v.pattern, password, salt))), "salted_md5")
		}
		return hexDigest(stored, md5Sum([]byte(password)), "md5")
	case isHex(stored) && len(stored) == 40:
		s := sha1.Sum([]byte(password))
		return hexDigest(stored, s[:], "sha1")
	case isHex(stored) && len(stored) == 64:
		s := sha256.Sum256([]byte(password))
		return hexDigest(stored, s[:], "sha256")
	}
	return false, fmt.Errorf("%w: auto: unrecognised hash format", ErrMalformed)
}

// equal compares two strings in constant time (for equal lengths).
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func md5Sum(b []byte) []byte {
	s := md5.Sum(b)
	return s[:]
}

// hexDigest compares a stored hex digest (either case) with sum.
func hexDigest(stored string, sum []byte, scheme string) (bool, error) {
	want, err := hex.DecodeString(strings.TrimSpace(stored))
	if err != nil || len(want) != len(sum) {
		return false, fmt.Errorf("%w: %s: want %d hex digits", ErrMalformed, scheme, 2*len(sum))
	}
	return subtle.ConstantTimeCompare(want, sum) == 1, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

func schemeList() string {
	names := make([]string, len(Schemes))
	for i, s := range Schemes {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
