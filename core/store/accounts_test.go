package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The behaviour of the account lookups is tested for every store by
// core/store/storetest (suite_test.go).

// BenchmarkAccountByName is a guest login's lookup: a name no account has.
func BenchmarkAccountByName(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	for i := range 100 {
		if _, err := s.CreateAccount(ctx, Account{Name: fmt.Sprintf("user%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.AccountByName(ctx, "guest"); !errors.Is(err, ErrNotFound) {
			b.Fatal(err)
		}
	}
}
