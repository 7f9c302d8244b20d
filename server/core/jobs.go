package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"tokenjar/db"
)

// Jobs names the scheduled jobs.
var Jobs = []string{"refresh", "expire", "backup"}

// RunJob runs one job as of the instant at. Every job is idempotent: running it twice for the
// same instant changes nothing the second time.
func (s *Service) RunJob(ctx context.Context, name string, at time.Time, dataDir string) (string, error) {
	var result string
	var err error
	switch name {
	case "refresh":
		result, err = s.refresh(ctx, at)
	case "expire":
		result, err = s.expireDue(ctx, at)
	case "backup":
		result, err = s.backup(ctx, at, dataDir)
	default:
		return "", Invalid("name", "unknown job %q; jobs are %s", name, strings.Join(Jobs, ", "))
	}
	if err != nil {
		return "", err
	}
	rerr := s.db.Update(ctx, func(c *db.Conn) error {
		return c.InsertJobRun(ctx, db.JobRun{Name: name, AsOf: ms(at), StartedAt: ms(s.clock.Now()), Result: result})
	})
	return result, rerr
}

// refresh starts the cycle that holds at for every active member: unused Monthly credits of
// ended cycles expire, plan changes waiting for the next cycle apply, and the plan allowance
// is granted as a new subscription bucket, once per member and cycle.
func (s *Service) refresh(ctx context.Context, at time.Time) (string, error) {
	cy := CycleAt(at, s.Settings().Location)
	ids, err := s.db.Read().ActiveUserIDs(ctx)
	if err != nil {
		return "", err
	}
	granted := 0
	err = inChunks(ids, func(chunk []int64) error {
		return s.db.Update(ctx, func(c *db.Conn) error {
			for _, id := range chunk {
				ok, err := s.refreshMember(ctx, c, id, cy, at)
				if err != nil {
					return fmt.Errorf("refresh member %d: %w", id, err)
				}
				if ok {
					granted++
				}
			}
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("cycle %d: %d monthly grants", cy.Key, granted), nil
}

// refreshMember starts cycle cy for one member; ok tells whether a plan was granted.
func (s *Service) refreshMember(ctx context.Context, c *db.Conn, id int64, cy Cycle, at time.Time) (bool, error) {
	w, err := openWallet(ctx, c, id, ms(at))
	if err != nil {
		return false, err
	}
	if _, err := w.liveBuckets(); err != nil { // writes off ended cycles first
		return false, err
	}
	done, err := c.CycleGranted(ctx, id, cy.Key)
	if err != nil || done {
		if err == nil {
			err = w.save()
		}
		return false, err
	}
	plan := w.user.PlanCredits
	if w.user.PlanNext.Valid { // a plan change waiting for this cycle
		plan = w.user.PlanNext.Int64
		if err := c.SetPlan(ctx, id, plan, sql.NullInt64{}); err != nil {
			return false, err
		}
	}
	ok, err := s.grantCycle(ctx, c, w, cy, plan, at)
	if err != nil {
		return false, err
	}
	return ok && plan > 0, w.save()
}

// jobChunk is how many members a job handles per transaction: few enough that one slow
// member does not hold the writer long, many enough that a job is not one fsync per member.
const jobChunk = 50

func inChunks(ids []int64, fn func([]int64) error) error {
	for len(ids) > 0 {
		n := min(jobChunk, len(ids))
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// expireDue writes the expire rows of every bucket whose expiry has passed by at.
func (s *Service) expireDue(ctx context.Context, at time.Time) (string, error) {
	ids, err := s.db.Read().UsersWithExpiredCredits(ctx, ms(at))
	if err != nil {
		return "", err
	}
	n := 0
	err = inChunks(ids, func(chunk []int64) error {
		return s.db.Update(ctx, func(c *db.Conn) error {
			for _, id := range chunk {
				w, err := openWallet(ctx, c, id, ms(at))
				if err != nil {
					return err
				}
				if _, err := w.liveBuckets(); err != nil {
					return fmt.Errorf("expire member %d: %w", id, err)
				}
				n += len(w.written)
				if err := w.save(); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d buckets expired", n), nil
}

// BackupsKept is how many daily backups stay on disk.
const BackupsKept = 7

// backup writes a consistent copy of the database and keeps the newest BackupsKept.
func (s *Service) backup(ctx context.Context, at time.Time, dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := "tokenjar-" + at.In(s.Settings().Location).Format("2006-01-02") + ".db"
	dest := filepath.Join(dir, name)
	if _, err := os.Stat(dest); err == nil {
		return "already backed up today: " + name, nil
	}
	tmp := dest + ".tmp"
	os.Remove(tmp)
	if err := s.db.Backup(ctx, tmp); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // it holds password hashes
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "tokenjar-*.db"))
	sort.Strings(old)
	for len(old) > BackupsKept {
		os.Remove(old[0])
		old = old[1:]
	}
	return "wrote " + name, nil
}

// CatchUp runs, once, each job whose scheduled time passed while the server was off (or
// while the scheduler could not run it): on start, and then every few minutes.
func (s *Service) CatchUp(ctx context.Context, dataDir string) error {
	now := s.clock.Now()
	for _, name := range Jobs {
		last, err := s.db.Read().LastJobRun(ctx, name)
		due := err != nil // never ran
		if err == nil {
			switch name {
			case "refresh":
				due = CycleAt(fromMS(last.AsOf), s.Settings().Location).Key != CycleAt(now, s.Settings().Location).Key
			case "expire":
				ids, err := s.db.Read().UsersWithExpiredCredits(ctx, ms(now))
				if err != nil {
					return err
				}
				due = len(ids) > 0
			case "backup":
				due = now.Sub(fromMS(last.AsOf)) >= 24*time.Hour
			}
		}
		if !due {
			continue
		}
		result, err := s.RunJob(ctx, name, now, dataDir)
		if err != nil {
			return fmt.Errorf("catch-up %s: %w", name, err)
		}
		s.log.Info("catch-up job ran", "job", name, "result", result)
	}
	return nil
}

// JobInfo is the last run of a job.
type JobInfo struct {
	Name       string  `json:"name"`
	LastRunAt  *string `json:"lastRunAt"`
	LastAsOf   *string `json:"lastAsOf"`
	LastResult string  `json:"lastResult"`
}

// JobStatus lists each job's last run.
func (s *Service) JobStatus(ctx context.Context) ([]JobInfo, error) {
	var out []JobInfo
	for _, name := range Jobs {
		info := JobInfo{Name: name}
		r, err := s.db.Read().LastJobRun(ctx, name)
		if err == nil {
			a, b := fromMS(r.StartedAt).Format(time.RFC3339), fromMS(r.AsOf).Format(time.RFC3339)
			info.LastRunAt, info.LastAsOf, info.LastResult = &a, &b, r.Result
		} else if !errors.Is(err, db.ErrNotFound) {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}
