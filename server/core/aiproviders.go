package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"tokenjar/db"
)

// AI provider kinds (SPEC section 10). (Sign-in providers are another thing: identity.go.)
const (
	AIProviderOpenAI           = "openai"
	AIProviderAnthropic        = "anthropic"
	AIProviderOpenAICompatible = "openai-compatible"
)

// AI provider limits.
const (
	maxAIProviderModels   = 2000
	defaultAIProviderWait = 60_000 // ms a provider may stay silent
	maxAIProviderWait     = 600_000
)

// AIProviderInput is a provider as an admin creates or changes it. On a change a nil field is left
// as it is; an empty APIKey removes the key.
type AIProviderInput struct {
	Name         *string
	Kind         *string
	BaseURL      *string
	APIKey       *string
	Models       *[]string
	Free         *bool
	IncludeUsage *bool
	TimeoutMS    *int64
}

// AIProviderInfo is a provider as the API shows it: never its key, only whether it has one.
type AIProviderInfo struct {
	ID           int64    `json:"id"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	BaseURL      string   `json:"baseUrl"`
	Models       []string `json:"models"`
	Free         bool     `json:"free"`
	IncludeUsage bool     `json:"includeUsage"`
	TimeoutMS    int64    `json:"timeoutMs"`
	HasKey       bool     `json:"hasKey"`
	CreatedAt    string   `json:"createdAt"`
	UpdatedAt    string   `json:"updatedAt"`
}

// AIProviderConfig is a provider with its key in clear, for the gateway's upstream requests only.
// It prints and logs without the key.
type AIProviderConfig struct {
	ID           int64
	Name         string
	Kind         string
	BaseURL      string
	APIKey       string
	Models       []string
	Free         bool
	IncludeUsage bool
	Timeout      time.Duration
}

func (c AIProviderConfig) String() string {
	return fmt.Sprintf("provider %d %q (%s %s)", c.ID, c.Name, c.Kind, c.BaseURL)
}
func (c AIProviderConfig) GoString() string     { return c.String() }
func (c AIProviderConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func aiProviderInfo(p db.Provider) AIProviderInfo {
	var models []string
	_ = json.Unmarshal([]byte(p.Models), &models)
	if models == nil {
		models = []string{}
	}
	return AIProviderInfo{ID: p.ID, Name: p.Name, Kind: p.Kind, BaseURL: p.BaseURL, Models: models, Free: p.Free,
		IncludeUsage: p.IncludeUsage, TimeoutMS: p.TimeoutMS, HasKey: len(p.APIKeyEnc) > 0,
		CreatedAt: fromMS(p.CreatedAt).Format(time.RFC3339), UpdatedAt: fromMS(p.UpdatedAt).Format(time.RFC3339)}
}

// defaultAIProviderURL is the base URL of a kind when the admin names none.
func defaultAIProviderURL(kind string) string {
	switch kind {
	case AIProviderOpenAI:
		return "https://api.openai.com/v1"
	case AIProviderAnthropic:
		return "https://api.anthropic.com/v1"
	}
	return ""
}

// applyAIProviderInput checks in and writes it onto p (sealing a new key with box).
func applyAIProviderInput(p *db.Provider, in AIProviderInput, box *KeyBox) error {
	if in.Name != nil {
		p.Name = strings.TrimSpace(*in.Name)
	}
	if in.Kind != nil {
		p.Kind = *in.Kind
	}
	if in.BaseURL != nil {
		p.BaseURL = strings.TrimRight(strings.TrimSpace(*in.BaseURL), "/")
	}
	if in.Free != nil {
		p.Free = *in.Free
	}
	if in.IncludeUsage != nil {
		p.IncludeUsage = *in.IncludeUsage
	}
	if in.TimeoutMS != nil {
		p.TimeoutMS = *in.TimeoutMS
	}
	if err := checkAIProvider(p); err != nil {
		return err
	}
	if in.Models != nil {
		models, err := checkAIProviderModels(*in.Models)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(models)
		p.Models = string(b)
	}
	return applyAIProviderKey(p, in.APIKey, box)
}

func checkAIProvider(p *db.Provider) error {
	if p.Name == "" || len(p.Name) > 100 {
		return Invalid("name", "name must be 1 to 100 characters")
	}
	if p.Kind != AIProviderOpenAI && p.Kind != AIProviderAnthropic && p.Kind != AIProviderOpenAICompatible {
		return Invalid("kind", "kind must be openai, anthropic or openai-compatible")
	}
	if p.BaseURL == "" {
		p.BaseURL = defaultAIProviderURL(p.Kind)
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || len(p.BaseURL) > 500 {
		return Invalid("baseUrl", "baseUrl must be an http:// or https:// address, such as http://localhost:11434/v1")
	}
	if p.TimeoutMS <= 0 || p.TimeoutMS > maxAIProviderWait {
		return Invalid("timeoutMs", "timeoutMs must be between 1 and %d", maxAIProviderWait)
	}
	return nil
}

func checkAIProviderModels(in []string) ([]string, error) {
	if len(in) > maxAIProviderModels {
		return nil, Invalid("models", "at most %d models", maxAIProviderModels)
	}
	out, seen := []string{}, map[string]bool{}
	for _, m := range in {
		m = strings.TrimSpace(m)
		if m == "" || len(m) > 200 {
			return nil, Invalid("models", "each model must be 1 to 200 characters")
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out, nil
}

func applyAIProviderKey(p *db.Provider, key *string, box *KeyBox) error {
	if key == nil {
		return nil
	}
	k := strings.TrimSpace(*key)
	if k == "" {
		p.APIKeyEnc = nil
		return nil
	}
	if len(k) > 4096 {
		return Invalid("apiKey", "apiKey is too long")
	}
	if box == nil {
		return Errorf(EINTERNAL, "provider keys cannot be stored: the key file is missing")
	}
	sealed, err := box.seal(k)
	if err != nil {
		return err
	}
	p.APIKeyEnc = sealed
	return nil
}

// errAIProviderName is the reply to a second provider with a name already in use.
var errAIProviderName = &Error{Code: ECONFLICT, Message: "a provider with this name exists", Field: "name"}

func isAIProviderUniqueErr(err error) bool {
	return db.IsUniqueViolation(err)
}

// CreateAIProvider adds a provider (admins only). The key is sealed with box and never shown again.
func (s *Service) CreateAIProvider(ctx context.Context, p Principal, in AIProviderInput, box *KeyBox) (AIProviderInfo, error) {
	defer s.changed(cacheGateway) // after the change has committed
	if err := p.requireAdmin(); err != nil {
		return AIProviderInfo{}, err
	}
	now := ms(s.clock.Now())
	row := db.Provider{Models: "[]", IncludeUsage: true, TimeoutMS: defaultAIProviderWait, CreatedAt: now, UpdatedAt: now}
	if in.Name == nil || in.Kind == nil {
		return AIProviderInfo{}, Invalid("name", "name and kind are required")
	}
	if err := applyAIProviderInput(&row, in, box); err != nil {
		return AIProviderInfo{}, err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.InsertProvider(ctx, row)
		if err != nil {
			return err
		}
		row.ID = id
		return s.auditTx(ctx, c, p.UserID, "provider_created", fmt.Sprintf("provider %d", id), p.IP, row.Name)
	})
	if isAIProviderUniqueErr(err) {
		return AIProviderInfo{}, errAIProviderName
	}
	return aiProviderInfo(row), err
}

// UpdateAIProvider changes a provider (admins only); fields left nil stay as they are.
func (s *Service) UpdateAIProvider(ctx context.Context, p Principal, id int64, in AIProviderInput, box *KeyBox) (AIProviderInfo, error) {
	defer s.changed(cacheGateway) // after the change has committed
	if err := p.requireAdmin(); err != nil {
		return AIProviderInfo{}, err
	}
	var row db.Provider
	err := s.db.Update(ctx, func(c *db.Conn) error {
		var err error
		if row, err = c.ProviderByID(ctx, id); err != nil {
			return err
		}
		if err := applyAIProviderInput(&row, in, box); err != nil {
			return err
		}
		row.UpdatedAt = ms(s.clock.Now())
		if err := c.UpdateProvider(ctx, row); err != nil {
			return err
		}
		detail := row.Name
		if in.APIKey != nil {
			detail += ", key replaced"
		}
		return s.auditTx(ctx, c, p.UserID, "provider_changed", fmt.Sprintf("provider %d", id), p.IP, detail)
	})
	return aiProviderInfo(row), aiProviderErr(err)
}

func aiProviderErr(err error) error {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return Errorf(ENOTFOUND, "no such provider")
	case isAIProviderUniqueErr(err):
		return errAIProviderName
	}
	return err
}

// DeleteAIProvider removes a provider and its sealed key (admins only).
func (s *Service) DeleteAIProvider(ctx context.Context, p Principal, id int64) error {
	defer s.changed(cacheGateway) // after the change has committed
	if err := p.requireAdmin(); err != nil {
		return err
	}
	err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := c.DeleteProvider(ctx, id); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "provider_deleted", fmt.Sprintf("provider %d", id), p.IP, "")
	})
	return aiProviderErr(err)
}

// ListAIProviders lists the providers (admins only), without their keys.
func (s *Service) ListAIProviders(ctx context.Context, p Principal) ([]AIProviderInfo, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	rows, err := s.db.Read().ListProviders(ctx)
	out := make([]AIProviderInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, aiProviderInfo(r))
	}
	return out, err
}

// loadAIProviderConfigs reads every provider and opens its key (see AIProviderConfigs).
func (s *Service) loadAIProviderConfigs(ctx context.Context, box *KeyBox) ([]AIProviderConfig, error) {
	rows, err := s.db.Read().ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AIProviderConfig, 0, len(rows))
	for _, r := range rows {
		info := aiProviderInfo(r)
		cfg := AIProviderConfig{ID: r.ID, Name: r.Name, Kind: r.Kind, BaseURL: r.BaseURL, Models: info.Models,
			Free: r.Free, IncludeUsage: r.IncludeUsage, Timeout: time.Duration(r.TimeoutMS) * time.Millisecond}
		if len(r.APIKeyEnc) > 0 {
			if box == nil {
				return nil, errSealed
			}
			if cfg.APIKey, err = box.open(r.APIKeyEnc); err != nil {
				return nil, fmt.Errorf("provider %d: %w", r.ID, err)
			}
		}
		out = append(out, cfg)
	}
	return out, nil
}
