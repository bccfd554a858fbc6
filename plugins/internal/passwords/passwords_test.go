package passwords

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The fixtures below were made by PHP 8 (password_hash, md5, sha1, hash)
// for the password "s3cret pass", except the phpass vector, which is the one
// of phpass's own test.php ("test12345").
const pw = "s3cret pass"

func TestVerify(t *testing.T) {
	cases := []struct {
		scheme  Scheme
		pattern string
		stored  string
		salt    string
		pass    string
		want    bool
	}{
		{Plain, "", "s3cret pass", "", pw, true},
		{Plain, "", "s3cret pass", "", "s3cret pas", false},
		{Plain, "", "s3cret pass", "", "", false},
		{MD5, "", "5211da5c87b0c916f11bbeb561492eef", "", pw, true},
		{MD5, "", "5211DA5C87B0C916F11BBEB561492EEF", "", pw, true},
		{MD5, "", "5211da5c87b0c916f11bbeb561492eef", "", "x", false},
		{SHA1, "", "a21818805da492032545b1f51e510373394e73e3", "", pw, true},
		{SHA1, "", "a21818805da492032545b1f51e510373394e73e3", "", "x", false},
		{SHA256, "", "099a754c8251fb8a001b6642afb5259bd2edb705677b939f6ef4c00cab1e6389", "", pw, true},
		{SHA256, "", "099a754c8251fb8a001b6642afb5259bd2edb705677b939f6ef4c00cab1e6389", "", "x", false},
		// vBulletin: md5(md5(password).salt)
		{SaltedMD5, "{md5(password)}{salt}", "8987410dbbd408326865c0607fe8efc8", "xY1", pw, true},
		{SaltedMD5, "{md5(password)}{salt}", "8987410dbbd408326865c0607fe8efc8", "xY2", pw, false},
		// MyBB: md5(md5(salt).md5(password))
		{SaltedMD5, "{md5(salt)}{md5(password)}", "e841d64dd0e8fd17e2842e3b6d462ede", "xY1", pw, true},
		{SaltedMD5, "", md5hex("xY1" + pw), "xY1", pw, true},
		{SaltedMD5, "{password}{salt}", md5hex(pw + "xY1"), "xY1", pw, true},
		{SaltedMD5, "{password}{salt}", md5hex("xY1" + pw), "xY1", pw, false},
		{SaltedMD5, "{salt}:{password}", md5hex("xY1:" + pw), "xY1", pw, true},
		{Bcrypt, "", "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe", "", pw, true},
		{Bcrypt, "", "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe", "", "x", false},
		{Bcrypt, "", "$wp$2y$04$9qc/mz8bI5N24B9y.Ic0UugocQjO5xtaxo51nO5y3sQ1Axq0EzMq.", "", pw, true},
		{Bcrypt, "", "$wp$2y$04$9qc/mz8bI5N24B9y.Ic0UugocQjO5xtaxo51nO5y3sQ1Axq0EzMq.", "", "x", false},
		{Phpass, "", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "", "test12345", true},
		// phpBB's $H$ is the same algorithm under another prefix.
		{Phpass, "", "$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "", "test12345", true},
		{Phpass, "", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "", "test12346", false},
		{Argon2id, "", "$argon2id$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A", "", pw, true},
		{Argon2id, "", "$argon2id$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A", "", "x", false},
		{Argon2id, "", "$argon2i$v=19$m=1024,t=2,p=1$TVpyZnNWVGxDSmRQckxaaQ$ohdm4FWQGOPdqAQkYrfwyWol9XQuMucubarjfa4Hg8o", "", pw, true},
		{Auto, "", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "", "test12345", true},
		{Auto, "", "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe", "", pw, true},
		{Auto, "", "$wp$2y$04$9qc/mz8bI5N24B9y.Ic0UugocQjO5xtaxo51nO5y3sQ1Axq0EzMq.", "", pw, true},
		{Auto, "", "$argon2id$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A", "", pw, true},
		{Auto, "", "5211da5c87b0c916f11bbeb561492eef", "", pw, true},
		{Auto, "{md5(password)}{salt}", "8987410dbbd408326865c0607fe8efc8", "xY1", pw, true},
		{Auto, "", "a21818805da492032545b1f51e510373394e73e3", "", pw, true},
		{Auto, "", "099a754c8251fb8a001b6642afb5259bd2edb705677b939f6ef4c00cab1e6389", "", pw, true},
		{Auto, "", "099a754c8251fb8a001b6642afb5259bd2edb705677b939f6ef4c00cab1e6389", "", "x", false},
	}
	for _, c := range cases {
		v, err := New(c.scheme, c.pattern)
		if err != nil {
			t.Fatalf("New(%s, %q): %v", c.scheme, c.pattern, err)
		}
		got, err := v.Verify(c.stored, c.pass, c.salt)
		if err != nil {
			t.Errorf("%s %q: %v", c.scheme, c.stored, err)
		}
		if got != c.want {
			t.Errorf("%s Verify(%q, %q, salt %q) = %v, want %v", c.scheme, c.stored, c.pass, c.salt, got, c.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct {
		scheme Scheme
		stored string
	}{
		{MD5, "not hex"},
		{MD5, "5211da5c"},
		{SHA1, "5211da5c87b0c916f11bbeb561492eef"},
		{SHA256, "zz"},
		{Bcrypt, "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"},
		{Bcrypt, "$2y$04$short"},
		{Phpass, "$P$9IQRa"},
		{Phpass, "$2y$04$MSOSOltv.mjXZ5.XtwD5i.9LQg3e/mP3BS48g1fKB/E2C.i30WdYe"},
		{Phpass, "$P$!IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"},
		{Argon2id, "$argon2id$v=19$m=1024,t=2,p=1$salt"},
		{Argon2id, "$argon2d$v=19$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A"},
		{Argon2id, "$argon2id$v=16$m=1024,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A"},
		{Argon2id, "$argon2id$v=19$m=99999999,t=2,p=1$TnZlcnJEdjNrUzZVN3RkYg$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A"},
		{Argon2id, "$argon2id$v=19$m=1024,t=2,p=1$!!!$gc6P00z40Zj3IkK/OiA72qSciNe489whw8dAWPtyV7A"},
		{Auto, "hunter2"},
	}
	for _, c := range cases {
		v, err := New(c.scheme, "")
		if err != nil {
			t.Fatal(err)
		}
		ok, err := v.Verify(c.stored, "s3cret pass", "")
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s Verify(%q) = %v, %v; want false, ErrMalformed", c.scheme, c.stored, ok, err)
		}
	}
}

func TestEmptyStoredNeverMatches(t *testing.T) {
	for _, s := range Schemes {
		v, err := New(s, "")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := v.Verify("", "", ""); ok || err != nil {
			t.Errorf("%s: empty stored value matched the empty password (%v, %v)", s, ok, err)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := New("rot13", ""); err == nil || !strings.Contains(err.Error(), "rot13") {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := New("", ""); err == nil {
		t.Error("empty scheme accepted")
	}
	for _, p := range []string{"{salt}", "{password", "{pass}{salt}", "{sha1(password)}"} {
		if _, err := New(SaltedMD5, p); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
	v, err := New(SaltedMD5, "")
	if err != nil || !v.NeedsSalt() || v.Scheme() != SaltedMD5 {
		t.Errorf("salted_md5: %v %v", v, err)
	}
}

func TestPhpassHashRoundTrip(t *testing.T) {
	h, err := PhpassHash("correct horse", "abcdefgh", 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != phpassLen || !strings.HasPrefix(h, "$P$6abcdefgh") {
		t.Fatalf("PhpassHash = %q", h)
	}
	if ok, err := verifyPhpass(h, "correct horse"); !ok || err != nil {
		t.Errorf("round trip: %v %v", ok, err)
	}
	if _, err := PhpassHash("x", "short", 8); err == nil {
		t.Error("short salt accepted")
	}
}

func TestBcryptLongPassword(t *testing.T) {
	long := strings.Repeat("a", 100)
	h, err := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// PHP's password_verify uses the first 72 bytes only; so does Verify.
	if ok, err := verifyBcrypt(string(h), long); !ok || err != nil {
		t.Errorf("long password: %v %v", ok, err)
	}
}

func md5hex(s string) string { return hex.EncodeToString(md5Sum([]byte(s))) }
