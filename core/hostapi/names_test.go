package hostapi_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/sdk"
)

func TestUsersAreUniqueByCanonicalKey(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	users := viaGRPC(t, f.api, "sso").Users()
	elise, err := users.Create(ctx, sdk.NewUser{Name: "Élise", Email: "üwe@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, nu := range []sdk.NewUser{
		{Name: "élise", Email: "elise@example.com"},
		{Name: "E\u0301lise", Email: "elise@example.com"},
	} {
		if _, err := users.Create(ctx, nu); !errors.Is(err, sdk.ErrExists) || !strings.Contains(sdk.Reason(err), "name") {
			t.Errorf("create %q: %v, want ErrExists for the name", nu.Name, err)
		}
	}
	if _, err := users.Create(ctx, sdk.NewUser{Name: "Uwe", Email: "ÜWE@example.com"}); !errors.Is(err, sdk.ErrExists) || !strings.Contains(sdk.Reason(err), "e-mail") {
		t.Errorf("create with ÜWE@: %v, want ErrExists for the e-mail", err)
	}
	if got, err := users.ByEmail(ctx, "ÜWE@EXAMPLE.COM"); err != nil || got.ID != elise.ID {
		t.Errorf("ByEmail(ÜWE@) = %+v, %v", got, err)
	}
	if got, err := users.ByName(ctx, "ÉLISE"); err != nil || got.ID != elise.ID {
		t.Errorf("ByName(ÉLISE) = %+v, %v", got, err)
	}
	kate, err := users.Create(ctx, sdk.NewUser{Name: "Kate", Email: "kate@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	name, email := "élise", "Üwe@Example.com"
	if _, err := users.Edit(ctx, kate.ID, sdk.UserEdit{Name: &name}); !errors.Is(err, sdk.ErrExists) {
		t.Errorf("rename Kate to élise: %v", err)
	}
	if _, err := users.Edit(ctx, kate.ID, sdk.UserEdit{Email: &email}); !errors.Is(err, sdk.ErrExists) {
		t.Errorf("Kate's e-mail to Üwe@: %v", err)
	}
	// Names and e-mails the key profile refuses are invalid, with a reason.
	bad := "x²"
	if _, err := users.Edit(ctx, kate.ID, sdk.UserEdit{Name: &bad}); !errors.Is(err, sdk.ErrInvalid) || !strings.Contains(sdk.Reason(err), "can't be used") {
		t.Errorf("rename to x²: %v", err)
	}
	for _, nu := range []sdk.NewUser{{Name: "ﬁsh", Email: "fish@example.com"}, {Name: "Fish", Email: "x²@example.com"}} {
		if _, err := users.Create(ctx, nu); !errors.Is(err, sdk.ErrInvalid) || sdk.Reason(err) == "" {
			t.Errorf("create %+v: %v, want ErrInvalid", nu, err)
		}
	}
}
