// Command barefiber is the ceiling that bench/run.sh measures tokenjar's ingest against: a bare
// Fiber v2 handler on POST /api/v1/usage that parses the same ~450-byte JSON body the ingest load
// sends (encoding/json, the decoder tokenjar's parser is built on), checks two fields, and replies
// 201 with a small JSON body. No auth, no database, no fsync: whatever tokenjar does beyond
// this costs throughput, so "tokenjar / bare Fiber" says how much of the HTTP ceiling is left.
//
// It uses the Fiber settings of tokenjar's server (body limit, timeouts, Immutable) so that the
// two differ in the handler only.
//
//	go build -o bench/out/barefiber ./bench/barefiber && bench/out/barefiber -addr 127.0.0.1:18421
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// report mirrors the fields of a usage report the ingest load sends.
type report struct {
	AIAgentID        string          `json:"aiAgentId"`
	UserID           int64           `json:"userId"`
	UserEmail        string          `json:"userEmail"`
	Description      string          `json:"description"`
	ShortDescription string          `json:"shortDescription"`
	UsageType        string          `json:"usageType"`
	Model            string          `json:"model"`
	Provider         string          `json:"provider"`
	Modality         string          `json:"modality"`
	InputTokens      int64           `json:"inputTokens"`
	OutputTokens     int64           `json:"outputTokens"`
	TotalTokens      int64           `json:"totalTokens"`
	ProcessingTimeMs int64           `json:"processingTimeMs"`
	TotalCost        json.Number     `json:"totalCost"`
	Credits          json.Number     `json:"credits"`
	Project          string          `json:"project"`
	BillingSource    string          `json:"billingSource"`
	ModelParameters  json.RawMessage `json:"modelParameters"`
	IdempotencyKey   string          `json:"idempotencyKey"`
}

type reply struct {
	ID             int64  `json:"id"`
	CreditsCharged string `json:"creditsCharged"`
	BillingSource  string `json:"billingSource"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18421", "listen address")
	flag.Parse()
	var seq atomic.Int64
	app := fiber.New(fiber.Config{
		BodyLimit:             4 << 20,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		Immutable:             true,
	})
	app.Get("/api/v1/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Post("/api/v1/usage", func(c *fiber.Ctx) error {
		var r report
		if err := json.Unmarshal(c.Body(), &r); err != nil {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": fiber.Map{"code": "invalid", "message": "the body must be a JSON object"}})
		}
		if r.Description == "" || (r.TotalCost == "" && r.Credits == "") {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": fiber.Map{"code": "invalid", "message": "description and totalCost are required"}})
		}
		return c.Status(fiber.StatusCreated).JSON(reply{ID: seq.Add(1), CreditsCharged: string(r.TotalCost), BillingSource: "personal"})
	})
	if err := app.Listen(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "barefiber:", err)
		os.Exit(1)
	}
}
