package passwords

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcryptMaxPassword is the number of password bytes bcrypt uses; PHP's
// password_verify ignores the rest, and so does this package.
const bcryptMaxPassword = 72

// wordpressPrefix marks WordPress 6.8+ hashes: bcrypt over
// base64(HMAC-SHA384(key "wp-sha384", password)).
const wordpressPrefix = "$wp"

// verifyBcrypt checks a $2a$/$2b$/$2x$/$2y$ hash, or a WordPress $wp$2y$ one.
func verifyBcrypt(stored, password string) (bool, error) {
	pw := []byte(password)
	if strings.HasPrefix(stored, wordpressPrefix+"$") {
		stored = stored[len(wordpressPrefix):]
		mac := hmac.New(sha512.New384, []byte("wp-sha384"))
		mac.Write(pw)
		pw = []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	if len(stored) < 4 || stored[0] != '$' || stored[1] != '2' {
		return false, fmt.Errorf("%w: bcrypt: want a $2a$, $2b$, $2y$ or $wp$ hash", ErrMalformed)
	}
	// PHP writes $2y$ (and old crypt_blowfish $2x$); both are the $2a$/$2b$
	// algorithm for every password this package can receive (UTF-8 text).
	if stored[3] == '$' && (stored[2] == 'y' || stored[2] == 'x') {
		stored = "$2a" + stored[3:]
	}
	if len(pw) > bcryptMaxPassword {
		pw = pw[:bcryptMaxPassword]
	}
	err := bcrypt.CompareHashAndPassword([]byte(stored), pw)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformed, err)
}
