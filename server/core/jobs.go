package core

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"tokenjar/db"
)

// Jobs names the scheduled jobs.
var Jobs = []string{"refresh", "expire", "backup"}

// RunJob runs one job as of the instant at (the command line, the demo). Every job is
// idempotent: running it twice for the same instant changes nothing the second time. While
// another run of the same job holds its lock (here, or on another replica of a PostgreSQL
// database), RunJob waits for it to finish.
func (s *Service) RunJob(ctx context.Context, name string, at time.Time, dataDir string) (string, error) {
	if !slices.Contains(Jobs, name) {
		return "", Invalid("name", "unknown job %q; jobs are %s", name, strings.Join(Jobs, ", "))
	}
	lock, err := s.db.LockJob(ctx, name)
	if err != nil {
		return "", err
	}
	defer lock.Release()
	return s.runJob(ctx, name, at, dataDir)
}

// runJob runs a job and records the run; the caller holds the job's lock.
func (s *Service) runJob(ctx context.Context, name string, at time.Time, dataDir string) (string, error) {
	var result string
	var err error
	switch name {
	case "refresh":
		result, err = s.refresh(ctx, at)
	case "expire":
		result, err = s.expireDue(ctx, at)
	case "backup":
		result, err = s.backup(ctx, at, dataDir)
	}
	if err != nil {
		return "", err
	}
	rerr := s.db.Update(ctx, func(c *db.Conn) error {
		return c.InsertJobRun(ctx, db.JobRun{Name: name, AsOf: ms(at), StartedAt: ms(s.clock.Now()), Result: result})
	})
	return result, rerr
}

// RunScheduled runs a job at its scheduled time, now, unless it need not run: another run of
// it holds its lock (on this replica or another one sharing the database), or a run already
// covers the current period (see scheduledDue). ran tells whether it ran. Three replicas whose
// schedulers fire together so run each job once.
func (s *Service) RunScheduled(ctx context.Context, name, dataDir string) (result string, ran bool, err error) {
	return s.runOnce(ctx, name, dataDir, s.scheduledDue)
}

// runOnce runs the job name as of now if due says so. It decides under the job's lock, after
// any run that held it has recorded itself: a replica that waited behind another finds the
// job done. A job whose lock is held is skipped, not waited for: its holder is running it.
func (s *Service) runOnce(ctx context.Context, name, dataDir string, due func(context.Context, string, time.Time) (bool, error)) (string, bool, error) {
	lock, err := s.db.TryLockJob(ctx, name)
	if err != nil || lock == nil {
		return "", false, err
	}
	defer lock.Release()
	now := s.clock.Now()
	if ok, err := due(ctx, name, now); err != nil || !ok {
		return "", false, err
	}
	result, err := s.runJob(ctx, name, now, dataDir)
	return result, err == nil, err
}

// scheduledDue says whether a job fired by the schedule at now still has to run: whether no
// run is recorded as of the start of now's period or later. The periods follow the schedule
// (server/scheduler.go): a cycle for the refresh, a day for the backup, five minutes for the
// expiry.
func (s *Service) scheduledDue(ctx context.Context, name string, now time.Time) (bool, error) {
	last, err := s.db.Read().LastJobRun(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	loc := s.Settings().Location
	var start time.Time
	switch name {
	case "refresh":
		start = CycleAt(now, loc).Start
	case "backup":
		lt := now.In(loc)
		start = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	default:
		start = now.Truncate(5 * time.Minute)
	}
	return fromMS(last.AsOf).Before(start), nil
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

// backup writes a consistent copy of the database and keeps the newest BackupsKept: a copy of
// the SQLite file, or on PostgreSQL a pg_dump archive, into this replica's data folder. Without
// pg_dump the run records that it skipped, rather than failing every night.
func (s *Service) backup(ctx context.Context, at time.Time, dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ext := s.db.BackupExt()
	name := "tokenjar-" + at.In(s.Settings().Location).Format("2006-01-02") + ext
	dest := filepath.Join(dir, name)
	if _, err := os.Stat(dest); err == nil {
		return "already backed up today: " + name, nil
	}
	tmp := dest + ".tmp"
	os.Remove(tmp)
	if err := s.db.Backup(ctx, tmp); err != nil {
		var noDump *db.NoPgDumpError
		if errors.As(err, &noDump) {
			return "skipped: back up PostgreSQL with pg_dump, which is not installed here: " + s.db.PgDumpCommand(dest), nil
		}
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // it holds password hashes
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "tokenjar-*"+ext))
	sort.Strings(old)
	for len(old) > BackupsKept {
		os.Remove(old[0])
		old = old[1:]
	}
	return "wrote " + name, nil
}

// CatchUp runs, once, each job whose scheduled time passed while the server was off (or
// while the scheduler could not run it): on start, and then every few minutes. Replicas that
// start together run each missed job once: the first takes its lock, and the others skip it
// or, coming after, find it done.
func (s *Service) CatchUp(ctx context.Context, dataDir string) error {
	for _, name := range Jobs {
		result, ran, err := s.runOnce(ctx, name, dataDir, s.catchUpDue)
		if err != nil {
			return fmt.Errorf("catch-up %s: %w", name, err)
		}
		if ran {
			s.log.Info("catch-up job ran", "job", name, "result", result)
		}
	}
	return nil
}

// catchUpDue says whether a job missed its scheduled time: the refresh of now's cycle, an
// expiry that is due, a backup older than a day.
func (s *Service) catchUpDue(ctx context.Context, name string, now time.Time) (bool, error) {
	last, err := s.db.Read().LastJobRun(ctx, name)
	if err != nil { // never ran
		return true, nil
	}
	switch name {
	case "refresh":
		return CycleAt(fromMS(last.AsOf), s.Settings().Location).Key != CycleAt(now, s.Settings().Location).Key, nil
	case "expire":
		ids, err := s.db.Read().UsersWithExpiredCredits(ctx, ms(now))
		return len(ids) > 0, err
	default: // backup
		return now.Sub(fromMS(last.AsOf)) >= 24*time.Hour, nil
	}
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
