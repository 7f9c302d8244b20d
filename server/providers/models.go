package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
)

// maxListBytes bounds one page of a model list.
const maxListBytes = 4 << 20

// StatusError is a provider that answered a model list with an error status; Body is its error
// reply (at most 4 KiB), which the admin's "Test connection" may show.
type StatusError struct {
	Provider string
	Status   int
	Body     []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("provider %s answered %d: %s", e.Provider, e.Status, e.Body)
}

type modelPage struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
	HasMore bool   `json:"has_more"` // Anthropic pages
	LastID  string `json:"last_id"`
}

// ListModels asks the provider which models it serves ("Test connection"), sorted by id.
func (c *Client) ListModels(ctx context.Context) ([]string, error) {
	var ids []string
	after := ""
	for page := 0; page < 50; page++ {
		p, err := c.modelPage(ctx, after)
		if err != nil {
			return nil, err
		}
		for _, m := range p.Data {
			ids = append(ids, m.ID)
		}
		if !p.HasMore || p.LastID == "" || c.cfg.Kind != Anthropic {
			break
		}
		after = p.LastID
	}
	sort.Strings(ids)
	return ids, nil
}

func (c *Client) modelPage(ctx context.Context, after string) (*modelPage, error) {
	path := "/models"
	if c.cfg.Kind == Anthropic {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after_id", after)
		}
		path += "?" + q.Encode()
	}
	req, cancel, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req, cancel)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes))
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, &StatusError{Provider: c.cfg.Name, Status: resp.Status, Body: b[:min(len(b), 4096)]}
	}
	var p modelPage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("provider %s: model list is not JSON", c.cfg.Name)
	}
	return &p, nil
}
