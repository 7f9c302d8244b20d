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
)

// modelListTTL is how long a provider's own model list (GET /models) is trusted; a failed
// listing is remembered as empty for as long, so a provider that is down costs one slow
// request a minute, not one per request.
const modelListTTL = 60 * time.Second

// modelListTimeout bounds asking a provider for its models.
const modelListTimeout = 5 * time.Second

type modelList struct {
	models []string
	at     time.Time
}

// modelLists caches each provider's listed models, by provider id, base URL and key (a change
// of either asks again).
type modelLists struct {
	mu sync.Mutex
	m  map[[32]byte]modelList
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
		l.m = map[[32]byte]modelList{}
	}
	e, ok := l.m[k]
	l.mu.Unlock()
	if ok && time.Since(e.at) < modelListTTL {
		return e.models
	}
	ctx, cancel := context.WithTimeout(ctx, modelListTimeout)
	defer cancel()
	ids, err := c.ListModels(ctx)
	if err != nil {
		ids = nil
	}
	l.mu.Lock()
	if len(l.m) > 1000 {
		clear(l.m)
	}
	l.m[k] = modelList{models: ids, at: time.Now()}
	l.mu.Unlock()
	return ids
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

// routeModel finds the provider of model: first those whose admin listed it, then those that
// list it themselves.
func (s *Server) routeModel(ctx context.Context, routes []route, model string) (route, bool) {
	for _, r := range routes {
		if len(r.cfg.Models) > 0 && slices.ContainsFunc(r.cfg.Models, func(m string) bool { return core.GlobMatch(m, model) }) {
			return r, true
		}
	}
	for _, r := range routes {
		if len(r.cfg.Models) == 0 && slices.ContainsFunc(s.gwModels.models(ctx, r.cfg, r.client), func(m string) bool { return strings.EqualFold(m, model) }) {
			return r, true
		}
	}
	return route{}, false
}
