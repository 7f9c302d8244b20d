package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"tokenjar/server/core"
)

// Scheduler runs the jobs on their schedule. The exact times follow the instance time zone;
// a catch-up check every few minutes covers missed runs, time zone changes and restarts.
// Every replica sharing a PostgreSQL database runs a scheduler; the jobs' locks and records
// (core.RunScheduled, core.CatchUp) make each run happen on one of them.
type Scheduler struct {
	cron *cron.Cron
}

// StartScheduler starts the jobs. Stop it before closing the database.
func StartScheduler(svc *core.Service, dataDir string, log *slog.Logger) (*Scheduler, error) {
	loc := svc.Settings().Location
	c := cron.New(cron.WithLocation(loc), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	run := func(name string) func() {
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			if name == "catch-up" {
				if err := svc.CatchUp(ctx, dataDir); err != nil {
					log.Error("catch-up failed", "err", err)
				}
				return
			}
			// Skipped when another replica sharing the database runs it, or ran it already.
			res, ran, err := svc.RunScheduled(ctx, name, dataDir)
			if err != nil {
				log.Error("job failed", "job", name, "err", err)
				return
			}
			if ran {
				log.Info("job ran", "job", name, "result", res)
			}
		}
	}
	for spec, name := range map[string]string{
		"0 0 1 * *":   "refresh", // each cycle start
		"*/5 * * * *": "expire",
		"30 3 * * *":  "backup",
		"@every 7m":   "catch-up",
	} {
		if _, err := c.AddFunc(spec, run(name)); err != nil {
			return nil, err
		}
	}
	c.Start()
	go run("catch-up")() // a job missed while the server was off runs once, now
	return &Scheduler{cron: c}, nil
}

// Stop waits for a running job to finish.
func (s *Scheduler) Stop() {
	<-s.cron.Stop().Done()
}
