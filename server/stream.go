package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"tokenjar/server/core"
)

func (s *Server) exportUsage(c *fiber.Ctx) error {
	return s.export(c, false)
}

// export streams every selected row; rows go out as they are read, never held in memory.
func (s *Server) export(c *fiber.Ctx, granted bool) error {
	p, _ := principal(c)
	q := usageQuery(c)
	format := c.Query("format", "csv")
	if format != "csv" && format != "json" {
		return core.Invalid("format", "format must be csv or json")
	}
	if err := s.svc.CheckUsageQuery(c.UserContext(), p, q, granted); err != nil {
		return err
	}
	stamp := s.svc.Now().Format("2006-01-02")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="tokenjar-usage-%s.%s"`, stamp, format))
	c.Set(fiber.HeaderCacheControl, "no-store")
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, "application/json")
	}
	if format == "csv" {
		columns := core.UsageCSVColumns
		if granted {
			columns = core.GrantedCSVColumns
		}
		s.sendCSV(c, columns, func(out core.CSVOut) error { return s.svc.WriteUsageCSV(context.Background(), p, q, granted, out) })
		return nil
	}
	svc, log := s.svc, s.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		enc := json.NewEncoder(w)
		w.WriteString("[")
		first := true
		err := svc.EachUsage(ctx, p, q, granted, func(it core.UsageItem) error {
			if !first {
				w.WriteString(",")
			}
			first = false
			return enc.Encode(it)
		})
		w.WriteString("]\n")
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			log.Error("export stopped", "err", err)
		}
	})
	return nil
}

// streamRecheck is how often an open stream checks that its credential still holds, and
// streamRecheckBeforeSend how old that check may be when an event goes out. Credentials ended
// in this process, or in another replica that told this one (a database notice), close the
// stream at once (core.Subscription.Done); these checks catch the rest: a notice missed, a
// command-line tool on a SQLite file, or a session's expiry.
var (
	streamRecheck           = 15 * time.Second
	streamRecheckBeforeSend = time.Second
)

// stream sends new usage events the caller may see as server-sent events ("usage"), and
// "balance" notices when a gateway hold made, settled or released changed the caller's
// spending power, for as long as the
// credential it was opened with holds: a revoked token, an ended session or a disabled member
// ends it, and nothing more is sent.
func (s *Server) stream(c *fiber.Ctx) error {
	p, _ := principal(c)
	if p.UserID == 0 {
		return core.Errorf(core.EFORBIDDEN, "the live stream is for signed-in members")
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	svc := s.svc
	hub := svc.Hub()
	sub := hub.Subscribe(p)
	done := s.done
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer hub.Unsubscribe(sub)
		ping := time.NewTicker(20 * time.Second)
		defer ping.Stop()
		recheck := time.NewTicker(streamRecheck)
		defer recheck.Stop()
		checked := time.Now()
		// valid fails closed: an error reading the database ends the stream too, and the
		// viewer's reconnect authenticates afresh.
		valid := func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			checked = time.Now()
			return svc.StillSignedIn(ctx, p) == nil
		}
		if _, err := w.WriteString(": connected\nretry: 3000\n\n"); err != nil || w.Flush() != nil {
			return
		}
		for {
			select {
			case <-sub.Done:
				return
			case it := <-sub.C:
				select {
				case <-sub.Done: // ended while the event waited: it is not sent
					return
				default:
				}
				if time.Since(checked) >= streamRecheckBeforeSend && !valid() {
					return
				}
				b, _ := json.Marshal(it)
				fmt.Fprintf(w, "event: usage\ndata: %s\n\n", b)
			case <-sub.Balance:
				// A notice without figures: the viewer reads GET /balance, which shows each
				// member only their own (a granter never learns the grantee's usage from it).
				select {
				case <-sub.Done:
					return
				default:
				}
				if time.Since(checked) >= streamRecheckBeforeSend && !valid() {
					return
				}
				w.WriteString("event: balance\ndata: {}\n\n")
			case <-recheck.C:
				if !valid() {
					return
				}
				continue
			case <-sub.Recheck: // another replica's notices may have been missed
				if !valid() {
					return
				}
				continue
			case <-ping.C:
				w.WriteString(": ping\n\n")
			case <-done:
				return
			}
			if err := w.Flush(); err != nil {
				return // the viewer left
			}
		}
	})
	return nil
}
