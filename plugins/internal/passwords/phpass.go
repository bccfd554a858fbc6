package passwords

import (
	"crypto/md5"
	"crypto/subtle"
	"fmt"
	"strings"
)

// itoa64 is phpass's base-64 alphabet (the one of crypt(3)).
const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// phpassLen is the length of a portable hash: "$P$", the cost character,
// an 8-character salt and 22 characters of encoded md5.
const phpassLen = 34

// verifyPhpass checks a phpass portable hash ($P$ of WordPress, $H$ of
// phpBB 3.0): md5 iterated 2^cost times over salt and password.
func verifyPhpass(stored, password string) (bool, error) {
	if len(stored) != phpassLen || (!strings.HasPrefix(stored, "$P$") && !strings.HasPrefix(stored, "$H$")) {
		return false, fmt.Errorf("%w: phpass: want a 34-character $P$ or $H$ hash", ErrMalformed)
	}
	got, err := phpassHash(password, stored[:12])
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(stored)) == 1, nil
}

// phpassHash computes the portable hash of password for setting, the first
// 12 characters of a hash ("$P$" + cost + salt).
func phpassHash(password, setting string) (string, error) {
	countLog2 := strings.IndexByte(itoa64, setting[3])
	if countLog2 < 7 || countLog2 > 30 {
		return "", fmt.Errorf("%w: phpass: cost out of range", ErrMalformed)
	}
	salt := setting[4:12]
	pw := []byte(password)
	sum := md5.Sum(append([]byte(salt), pw...))
	buf := make([]byte, 0, md5.Size+len(pw))
	for i := 0; i < 1<<countLog2; i++ {
		buf = append(append(buf[:0], sum[:]...), pw...)
		sum = md5.Sum(buf)
	}
	return setting + encode64(sum[:]), nil
}

// encode64 is phpass's encode64: little-endian groups of three bytes into
// four itoa64 characters, with the short final group truncated.
func encode64(in []byte) string {
	var out strings.Builder
	for i := 0; i < len(in); {
		value := int(in[i])
		i++
		out.WriteByte(itoa64[value&0x3f])
		if i < len(in) {
			value |= int(in[i]) << 8
		}
		out.WriteByte(itoa64[(value>>6)&0x3f])
		if i >= len(in) {
			break
		}
		i++
		if i < len(in) {
			value |= int(in[i]) << 16
		}
		out.WriteByte(itoa64[(value>>12)&0x3f])
		if i >= len(in) {
			break
		}
		i++
		out.WriteByte(itoa64[(value>>18)&0x3f])
	}
	return out.String()
}

// PhpassHash returns the portable phpass hash of password with an 8-byte
// salt (from the itoa64 alphabet) and cost 2^countLog2, prefixed with "$P$".
// It exists for tests and for seeding tables; sites create these hashes.
func PhpassHash(password, salt string, countLog2 int) (string, error) {
	if len(salt) != 8 || countLog2 < 7 || countLog2 > 30 {
		return "", fmt.Errorf("phpass: want an 8-character salt and a cost of 7-30, got %d and %d", len(salt), countLog2)
	}
	return phpassHash(password, "$P$"+string(itoa64[countLog2])+salt)
}
