package db

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

func TestProvidersRoundTrip(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	p := Provider{Name: "OpenAI", Kind: "openai", BaseURL: "https://api.openai.com/v1", APIKeyEnc: []byte{1, 2, 3},
		Models: `["gpt-4o"]`, IncludeUsage: true, TimeoutMS: 60000, CreatedAt: 1, UpdatedAt: 1}
	var id int64
	if err := d.Update(ctx, func(c *Conn) (err error) { id, err = c.InsertProvider(ctx, p); return }); err != nil {
		t.Fatal(err)
	}
	dup := p
	dup.Name = "openai" // names are unique whatever their case
	if err := d.Update(ctx, func(c *Conn) error { _, err := c.InsertProvider(ctx, dup); return err }); err == nil {
		t.Error("a second provider named openai was stored")
	}
	bad := p
	bad.Name, bad.Kind = "x", "gemini"
	if err := d.Update(ctx, func(c *Conn) error { _, err := c.InsertProvider(ctx, bad); return err }); err == nil {
		t.Error("an unknown kind was stored")
	}
	got, err := d.Read().ProviderByName(ctx, "OPENAI")
	p.ID = id
	if err != nil || got.ID != id || string(got.APIKeyEnc) != string(p.APIKeyEnc) || got.Models != p.Models || !got.IncludeUsage {
		t.Fatalf("read back %+v %v", got, err)
	}
	got.Free, got.APIKeyEnc, got.UpdatedAt = true, nil, 2
	if err := d.Update(ctx, func(c *Conn) error { return c.UpdateProvider(ctx, got) }); err != nil {
		t.Fatal(err)
	}
	list, err := d.Read().ListProviders(ctx)
	if err != nil || len(list) != 1 || !list[0].Free || list[0].APIKeyEnc != nil || list[0].UpdatedAt != 2 {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := d.Update(ctx, func(c *Conn) error { return c.DeleteProvider(ctx, id) }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read().ProviderByID(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := d.Update(ctx, func(c *Conn) error { return c.DeleteProvider(ctx, id) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestPriceOverridesUpsertAndDelete(t *testing.T) {
	d := openTest(t)
	ctx := context.Background()
	put := func(p PriceOverride) error {
		return d.Update(ctx, func(c *Conn) error { return c.PutPriceOverride(ctx, p) })
	}
	if err := put(PriceOverride{Model: "gpt-4o", Input: 2_500_000, Output: 10_000_000, CachedInput: sql.NullInt64{Int64: 1_250_000, Valid: true}, UpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := put(PriceOverride{Model: "gpt-4o", Input: 3_000_000, Output: 12_000_000, UpdatedAt: 2}); err != nil {
		t.Fatal(err)
	}
	if err := put(PriceOverride{Model: "bad", Input: -1, Output: 0, UpdatedAt: 2}); err == nil {
		t.Error("a negative price was stored")
	}
	list, err := d.Read().ListPriceOverrides(ctx)
	if err != nil || len(list) != 1 || list[0].Input != 3_000_000 || list[0].CachedInput.Valid {
		t.Fatalf("after upsert: %+v %v", list, err)
	}
	if err := d.Update(ctx, func(c *Conn) error { return c.DeletePriceOverride(ctx, "gpt-4o") }); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(ctx, func(c *Conn) error { return c.DeletePriceOverride(ctx, "gpt-4o") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
