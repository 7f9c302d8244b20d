package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
	"tokenjar/server/providers"
)

// The admin API of the AI gateway's providers and prices (SPEC section 10). Provider keys go in and
// are never shown again: replies carry only hasKey, and the connection test keeps the key out of
// whatever the provider answered.

// aiProviderBody is a provider as the admin sends it; absent fields are nil.
type aiProviderBody struct {
	Name         *string   `json:"name"`
	Kind         *string   `json:"kind"`
	BaseURL      *string   `json:"baseUrl"`
	APIKey       *string   `json:"apiKey"`
	Models       *[]string `json:"models"`
	Free         *bool     `json:"free"`
	IncludeUsage *bool     `json:"includeUsage"`
	TimeoutMS    *int64    `json:"timeoutMs"`
}

func (b aiProviderBody) input() core.AIProviderInput {
	return core.AIProviderInput{Name: b.Name, Kind: b.Kind, BaseURL: b.BaseURL, APIKey: b.APIKey, Models: b.Models,
		Free: b.Free, IncludeUsage: b.IncludeUsage, TimeoutMS: b.TimeoutMS}
}

func (s *Server) createAIProvider(c *fiber.Ctx) error {
	var in aiProviderBody
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	info, err := s.svc.CreateAIProvider(c.UserContext(), p, in.input(), s.cfg.ProviderKeys)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(info)
}

func (s *Server) getAIProvider(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	info, err := s.svc.AIProvider(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	return c.JSON(info)
}

func (s *Server) updateAIProvider(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var in aiProviderBody
	if err := bind(c, &in); err != nil {
		return err
	}
	p, _ := principal(c)
	info, err := s.svc.UpdateAIProvider(c.UserContext(), p, id, in.input(), s.cfg.ProviderKeys)
	if err != nil {
		return err
	}
	return c.JSON(info)
}

func (s *Server) listAIProviders(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.ListAIProviders(c.UserContext(), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

func (s *Server) deleteAIProvider(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.DeleteAIProvider(c.UserContext(), p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}

// providerTestTimeout bounds a connection test, whatever the provider's own timeout.
const providerTestTimeout = 20 * time.Second

// testAIProvider asks the provider for its model list. A provider that fails answers 502 with a
// sentence naming what went wrong (its status and error message), never the key.
func (s *Server) testAIProvider(c *fiber.Ctx) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	p, _ := principal(c)
	cfg, err := s.svc.AIProviderForTest(c.UserContext(), p, id, s.cfg.ProviderKeys)
	if err != nil {
		return err
	}
	timeout := min(cfg.Timeout, providerTestTimeout)
	client, err := providers.New(providers.Config{Name: cfg.Name, Kind: providers.Kind(cfg.Kind), BaseURL: cfg.BaseURL,
		APIKey: cfg.APIKey, NoIncludeUsage: !cfg.IncludeUsage, Timeout: timeout}, nil)
	if err != nil {
		return providerFailed(c, redactKey(err.Error(), cfg.APIKey), 0)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), timeout+time.Second)
	defer cancel()
	models, err := client.ListModels(ctx)
	if err != nil {
		msg, status := providerTestMessage(err, cfg.BaseURL, cfg.APIKey, timeout)
		return providerFailed(c, redactKey(msg, cfg.APIKey), status)
	}
	if models == nil {
		models = []string{}
	}
	unpriced := []string{}
	if !cfg.Free {
		book, err := s.svc.PriceBook(c.UserContext())
		if err != nil {
			return err
		}
		offered := models
		if len(cfg.Models) > 0 {
			offered = cfg.Models
		}
		for _, m := range offered {
			if _, _, ok := book.Lookup(m); !ok {
				unpriced = append(unpriced, m)
			}
		}
	}
	return c.JSON(fiber.Map{"ok": true, "models": models, "unpriced": unpriced})
}

// providerFailed is the reply to a connection test the provider failed: 502, with the provider's
// own status when it answered one.
func providerFailed(c *fiber.Ctx, msg string, status int) error {
	body := fiber.Map{"code": "provider_error", "message": msg}
	if status > 0 {
		body["providerStatus"] = status
	}
	return c.Status(fiber.StatusBadGateway).JSON(fiber.Map{"error": body})
}

// providerTestMessage says in one sentence why a model list failed.
func providerTestMessage(err error, baseURL, key string, timeout time.Duration) (string, int) {
	var se *providers.StatusError
	var te *providers.TimeoutError
	var ue *providers.UnreachableError
	switch {
	case errors.As(err, &se):
		detail := providerErrorText([]byte(redactKey(string(se.Body), key)))
		hint := ""
		switch se.Status {
		case 401, 403:
			hint = " Check the API key."
		case 404:
			hint = " Check the base URL: it usually ends in /v1."
		}
		if detail != "" {
			return fmt.Sprintf("The provider answered %d: %s.%s", se.Status, strings.TrimRight(detail, "."), hint), se.Status
		}
		return fmt.Sprintf("The provider answered %d.%s", se.Status, hint), se.Status
	case errors.As(err, &te):
		return fmt.Sprintf("The provider at %s sent nothing within %s.", baseURL, timeout), 0
	case errors.As(err, &ue):
		return fmt.Sprintf("The provider at %s could not be reached: %v.", baseURL, ue.Err), 0
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("The provider at %s did not finish its model list within %s.", baseURL, timeout), 0
	}
	return "The connection test failed: " + err.Error(), 0
}

// providerErrorText is the message of a provider's error body ({"error":{"message"}} from OpenAI and
// most compatible servers, {"error":"…"} from Ollama, {"type":"error","error":{"message"}} from
// Anthropic), else the body's first 300 characters.
func providerErrorText(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		var plain string
		switch {
		case json.Unmarshal(v.Error, &inner) == nil && inner.Message != "":
			return clip(inner.Message, 300)
		case json.Unmarshal(v.Error, &plain) == nil && plain != "":
			return clip(plain, 300)
		case v.Message != "":
			return clip(v.Message, 300)
		}
	}
	return clip(string(bytes.TrimSpace(body)), 300)
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// redactKey keeps a provider key out of a message, whole or in a provider's usual partial echo.
func redactKey(msg, key string) string {
	if len(key) < 4 {
		return msg
	}
	msg = strings.ReplaceAll(msg, key, "[key]")
	msg = strings.ReplaceAll(msg, url.QueryEscape(key), "[key]")
	if len(key) >= 12 { // "Incorrect API key provided: sk-abc***wxyz"
		msg = strings.ReplaceAll(msg, key[len(key)-4:], "****")
	}
	return msg
}

// ---- prices ----

// usdText is a price as the admin sends it: a decimal string ("2.50") or a JSON number (2.5), kept as
// written and parsed exactly by core.
type usdText string

var errNotUSD = errors.New("not a USD amount")

func (u *usdText) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*u = usdText(s)
		return nil
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*u = usdText(n)
		return nil
	}
	return errNotUSD
}

func (u *usdText) ptr() *string {
	if u == nil {
		return nil
	}
	s := string(*u)
	return &s
}

func (s *Server) listPrices(c *fiber.Ctx) error {
	p, _ := principal(c)
	items, err := s.svc.Prices(c.UserContext(), p)
	if err != nil {
		return err
	}
	t := core.ShippedPriceTable()
	return c.JSON(fiber.Map{"items": items, "table": t})
}

// priceModel is the model in the path, which may hold slashes ("openai/gpt-4o") or escape them.
func priceModel(c *fiber.Ctx) (string, error) {
	m, err := url.PathUnescape(c.Params("*"))
	if err != nil || strings.TrimSpace(m) == "" {
		return "", core.Invalid("model", "the path must name a model: /api/v1/prices/{model}")
	}
	return m, nil
}

func (s *Server) putPrice(c *fiber.Ctx) error {
	model, err := priceModel(c)
	if err != nil {
		return err
	}
	var in struct {
		Input        *usdText `json:"input"`
		Output       *usdText `json:"output"`
		CachedInput  *usdText `json:"cachedInput"`
		CacheWrite   *usdText `json:"cacheWrite"`
		CacheWrite1h *usdText `json:"cacheWrite1h"`
		PerImage     *usdText `json:"perImage"`
	}
	if err := bind(c, &in); err != nil {
		return err
	}
	if in.Input == nil {
		return core.Invalid("input", "input is required: USD per million input tokens, such as \"2.50\"")
	}
	if in.Output == nil {
		return core.Invalid("output", "output is required: USD per million output tokens, such as \"10.00\"")
	}
	p, _ := principal(c)
	v, err := s.svc.SetPrice(c.UserContext(), p, model, core.PriceInput{Input: string(*in.Input), Output: string(*in.Output),
		CachedInput: in.CachedInput.ptr(), CacheWrite: in.CacheWrite.ptr(), CacheWrite1h: in.CacheWrite1h.ptr(), PerImage: in.PerImage.ptr()})
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deletePrice(c *fiber.Ctx) error {
	model, err := priceModel(c)
	if err != nil {
		return err
	}
	p, _ := principal(c)
	if err := s.svc.DeletePrice(c.UserContext(), p, model); err != nil {
		return err
	}
	return c.JSON(fiber.Map{})
}
