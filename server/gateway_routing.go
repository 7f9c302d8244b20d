package server

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"time"

	"tokenjar/server/core"
	"tokenjar/server/providers"
	"tokenjar/server/wire"
)

// modelListTTL is how long a provider's own model list (GET /models) is trusted; a failed
// listing is remembered as empty for as long, so a provider that is down costs one slow
// request a minute, not one per request.
const modelListTTL = 60 * time.Second

// modelListTimeout bounds asking a provider for its models.
const modelListTimeout = 5 * time.Second

type modelList struct {
	models     []string
	at         time.Time
	refreshing bool
}

// modelLists caches each provider's listed models, by provider name, kind, base URL and key (a
// change of either asks again). A stale list is served while one refresh runs in the background,
// so only a provider's very first listing makes a request wait (at most modelListTimeout).
type modelLists struct {
	mu       sync.Mutex
	m        map[[32]byte]*modelList
	inflight map[[32]byte]chan struct{}
}

func listKey(cfg core.AIProviderConfig) [32]byte {
	return sha256.Sum256([]byte(strings.Join([]string{cfg.Name, cfg.Kind, cfg.BaseURL, cfg.APIKey}, "\x00")))
}

// models is what a provider serves: the admin's list, else the provider's own (cached). No lock
// is held while a provider is asked.
func (l *modelLists) models(ctx context.Context, cfg core.AIProviderConfig, c *providers.Client) []string {
	if len(cfg.Models) > 0 {
		return cfg.Models
	}
	k := listKey(cfg)
	l.mu.Lock()
	if l.m == nil {
		l.m, l.inflight = map[[32]byte]*modelList{}, map[[32]byte]chan struct{}{}
	}
	if e, ok := l.m[k]; ok {
		if time.Since(e.at) >= modelListTTL && !e.refreshing {
			e.refreshing = true
			go l.fetch(k, c)
		}
		ids := e.models
		l.mu.Unlock()
		return ids
	}
	wait, ok := l.inflight[k]
	if !ok {
		wait = make(chan struct{})
		l.inflight[k] = wait
		go func() {
			l.fetch(k, c)
			l.mu.Lock()
			delete(l.inflight, k)
			l.mu.Unlock()
			close(wait)
		}()
	}
	l.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[k]; ok {
		return e.models
	}
	return nil
}

// fetch asks a provider for its models and stores the answer (an empty list when it fails).
func (l *modelLists) fetch(k [32]byte, c *providers.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), modelListTimeout)
	defer cancel()
	ids, err := c.ListModels(ctx)
	if err != nil {
		ids = nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 1000 {
		clear(l.m)
	}
	l.m[k] = &modelList{models: ids, at: time.Now()}
}

// route is a provider that serves a model.
type route struct {
	cfg    core.AIProviderConfig
	client *providers.Client
}

// providerClient makes the upstream client of a provider.
func providerClient(cfg core.AIProviderConfig) (*providers.Client, error) {
	return providers.New(providers.Config{Name: cfg.Name, Kind: providers.Kind(cfg.Kind), BaseURL: cfg.BaseURL,
		APIKey: cfg.APIKey, NoIncludeUsage: !cfg.IncludeUsage, Timeout: cfg.Timeout}, nil)
}

// gatewayRoutes are the providers, each with its client.
func (s *Server) gatewayRoutes(ctx context.Context) ([]route, error) {
	cfgs, err := s.svc.AIProviderConfigs(ctx, s.cfg.ProviderKeys)
	if err != nil {
		return nil, err
	}
	out := make([]route, 0, len(cfgs))
	for _, cfg := range cfgs {
		c, err := providerClient(cfg)
		if err != nil {
			continue // a provider the admin set up wrongly serves nothing
		}
		out = append(out, route{cfg, c})
	}
	return out, nil
}

// speaks tells whether a provider takes requests in wire format f (0: any).
func (r route) speaks(f wire.Format) bool {
	if f == 0 {
		return true
	}
	return (providers.Kind(r.cfg.Kind) == providers.Anthropic) == (f == wire.Anthropic)
}

// routeModel finds the provider of model that speaks format f (0: any): first those whose admin
// listed it, then those that list it themselves.
func (s *Server) routeModel(ctx context.Context, routes []route, model string, f wire.Format) (route, bool) {
	for _, r := range routes {
		if r.speaks(f) && len(r.cfg.Models) > 0 && slices.ContainsFunc(r.cfg.Models, func(m string) bool { return core.GlobMatch(m, model) }) {
			return r, true
		}
	}
	for _, r := range routes {
		if r.speaks(f) && len(r.cfg.Models) == 0 && slices.ContainsFunc(s.gwModels.models(ctx, r.cfg, r.client), func(m string) bool { return strings.EqualFold(m, model) }) {
			return r, true
		}
	}
	return route{}, false
}
