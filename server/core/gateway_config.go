package core

import (
	"context"
	"sync"
	"time"
)

// gatewayConfig caches what every gateway request reads and only an admin changes: the AI
// providers (their keys opened) and the price book. Reading and opening them per request was a
// tenth of the gateway's CPU. The admin methods that change them clear it; a short TTL bounds
// what another process could change underneath (no command-line tool does today).
type gatewayConfig struct {
	mu        sync.Mutex
	gen       uint64 // bumped by clear, so a load that began before a clear is not kept
	providers []AIProviderConfig
	box       *KeyBox
	provAt    time.Time
	book      *PriceBook
	bookAt    time.Time
}

const gatewayConfigTTL = 30 * time.Second

func (g *gatewayConfig) clear() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	g.providers, g.box, g.book = nil, nil, nil
}

// AIProviderConfigs are every provider with its key opened, for the gateway's routing and upstream
// requests. It is not an API: nothing it returns may reach a reply or a log line but through
// AIProviderConfig's redacting String. Callers must not change what it returns (it is shared).
func (s *Service) AIProviderConfigs(ctx context.Context, box *KeyBox) ([]AIProviderConfig, error) {
	g := &s.gwConf
	g.mu.Lock()
	cached, ok, gen := g.providers, g.providers != nil && g.box == box && time.Since(g.provAt) < gatewayConfigTTL, g.gen
	g.mu.Unlock()
	if ok {
		return cached, nil
	}
	cfgs, err := s.loadAIProviderConfigs(ctx, box)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.gen == gen {
		g.providers, g.box, g.provAt = cfgs, box, time.Now()
	}
	g.mu.Unlock()
	return cfgs, nil
}

// PriceBook is the shipped table with the admins' overrides, for pricing gateway requests.
func (s *Service) PriceBook(ctx context.Context) (*PriceBook, error) {
	g := &s.gwConf
	g.mu.Lock()
	cached, ok, gen := g.book, g.book != nil && time.Since(g.bookAt) < gatewayConfigTTL, g.gen
	g.mu.Unlock()
	if ok {
		return cached, nil
	}
	book, err := s.loadPriceBook(ctx)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.gen == gen {
		g.book, g.bookAt = book, time.Now()
	}
	g.mu.Unlock()
	return book, nil
}
