package hostapi

import (
	"context"
	"errors"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/sdk"
)

// docs is one plugin's document store.
type docs struct{ h *host }

var _ sdk.DocLimiter = docs{}

// MaxDocBytes is the largest document Put accepts (Options.MaxDocBytes).
func (d docs) MaxDocBytes() int { return d.h.api.opts.MaxDocBytes }

func (d docs) store() (store.HostData, error) {
	if d.h.api.data == nil {
		return nil, errors.New("host api: the store keeps no documents")
	}
	return d.h.api.data, nil
}

func checkVersion(v int64) error {
	if v < sdk.AnyVersion {
		return invalid("version %d is not a version (0: new, -1: any)", v)
	}
	return nil
}

func toDoc(r store.DocRecord) sdk.Document {
	return sdk.Document{Key: r.Key, Value: r.Value, Size: r.Size, Version: r.Version, Updated: r.Updated}
}

func (d docs) Get(ctx context.Context, key string) (sdk.Document, error) {
	st, err := d.store()
	if err != nil {
		return sdk.Document{}, err
	}
	if err := checkKey(key); err != nil {
		return sdk.Document{}, err
	}
	r, err := st.DocGet(ctx, d.h.plugin, key)
	if err != nil {
		return sdk.Document{}, storeErr(err)
	}
	return toDoc(r), nil
}

func (d docs) Put(ctx context.Context, key string, value []byte, expect int64) (int64, error) {
	st, err := d.store()
	if err != nil {
		return 0, err
	}
	if err := errors.Join(checkKey(key), checkVersion(expect)); err != nil {
		return 0, err
	}
	if len(value) > d.MaxDocBytes() {
		return 0, invalid("a document must be at most %d bytes, not %d", d.MaxDocBytes(), len(value))
	}
	v, err := st.DocPut(ctx, d.h.plugin, key, value, expect, d.h.api.opts.Now())
	if err != nil {
		return 0, storeErr(err)
	}
	return v, nil
}

func (d docs) Delete(ctx context.Context, key string, expect int64) error {
	st, err := d.store()
	if err != nil {
		return err
	}
	if err := errors.Join(checkKey(key), checkVersion(expect)); err != nil {
		return err
	}
	return storeErr(st.DocDelete(ctx, d.h.plugin, key, expect))
}

func (d docs) List(ctx context.Context, prefix string) ([]sdk.Document, error) {
	st, err := d.store()
	if err != nil {
		return nil, err
	}
	if len(prefix) > MaxKeyBytes {
		return nil, invalid("a prefix must be at most %d bytes", MaxKeyBytes)
	}
	list, err := st.DocList(ctx, d.h.plugin, prefix)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]sdk.Document, 0, len(list))
	for _, r := range list {
		out = append(out, toDoc(r))
	}
	return out, nil
}
