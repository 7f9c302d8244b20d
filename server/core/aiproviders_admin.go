package core

import (
	"context"
	"encoding/json"
	"time"
)

// AIProvider is one provider as the API shows it, without its key (admins only).
func (s *Service) AIProvider(ctx context.Context, p Principal, id int64) (AIProviderInfo, error) {
	if err := p.requireAdmin(); err != nil {
		return AIProviderInfo{}, err
	}
	row, err := s.db.Read().ProviderByID(ctx, id)
	if err != nil {
		return AIProviderInfo{}, aiProviderErr(err)
	}
	return aiProviderInfo(row), nil
}

// AIProviderForTest is one provider with its key opened, for the admin's "Test connection" (admins
// only). Like AIProviderConfigs, what it returns may reach no reply and no log line but through
// AIProviderConfig's redacting String.
func (s *Service) AIProviderForTest(ctx context.Context, p Principal, id int64, box *KeyBox) (AIProviderConfig, error) {
	if err := p.requireAdmin(); err != nil {
		return AIProviderConfig{}, err
	}
	r, err := s.db.Read().ProviderByID(ctx, id)
	if err != nil {
		return AIProviderConfig{}, aiProviderErr(err)
	}
	info := aiProviderInfo(r)
	cfg := AIProviderConfig{ID: r.ID, Name: r.Name, Kind: r.Kind, BaseURL: r.BaseURL, Models: info.Models,
		Free: r.Free, IncludeUsage: r.IncludeUsage, Timeout: time.Duration(r.TimeoutMS) * time.Millisecond}
	if len(r.APIKeyEnc) > 0 {
		if box == nil {
			return AIProviderConfig{}, Errorf(EINTERNAL, "provider keys cannot be read: the key file is missing")
		}
		if cfg.APIKey, err = box.open(r.APIKeyEnc); err != nil {
			return AIProviderConfig{}, Errorf(EINVALID, "%s", err.Error())
		}
	}
	return cfg, nil
}

// PriceTableInfo is the shipped price table's date and note, for the admin's price page.
type PriceTableInfo struct {
	AsOf string `json:"asOf"`
	Note string `json:"note"`
}

var shippedTableInfo = func() PriceTableInfo {
	var f priceTableFile
	_ = json.Unmarshal(priceTableJSON, &f)
	return PriceTableInfo{AsOf: f.AsOf, Note: f.Note}
}()

// ShippedPriceTable is the shipped price table's date and note.
func ShippedPriceTable() PriceTableInfo { return shippedTableInfo }
