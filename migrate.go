package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"tokenjar/db"
	"tokenjar/server"
)

// migrateCmd copies the SQLite instance of a data folder into an empty PostgreSQL database and
// checks the copy: every table's row count, and the ledger invariant.
func migrateCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dir := fs.String("data", envOr("TOKENJAR_DATA", defaultDataDir()), "data folder whose SQLite file is copied (env TOKENJAR_DATA)")
	to := fs.String("to", "", "the PostgreSQL database to copy into, postgres://user:pass@host/db; it must hold no rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate takes no arguments, only flags: %v", fs.Args())
	}
	if !db.IsPostgresURL(*to) {
		return errors.New("migrate needs --to postgres://user:pass@host/db, an empty PostgreSQL database")
	}
	path := filepath.Join(*dir, "tokenjar.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no tokenjar database in %s: %w", *dir, err)
	}
	// A server writing while the tables are copied would leave a copy of no single moment, and
	// its reports after the copy would be lost to the new database: hold the folder's lock.
	unlock, err := lockDataFolder(*dir)
	if err != nil {
		return fmt.Errorf("%w; stop the server before migrating, so no report arrives during or after the copy", err)
	}
	defer unlock()
	ctx := context.Background()
	src, err := db.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	// The same schema upgrade every command makes: the copy needs the schema this binary knows.
	if err := src.Migrate(ctx); err != nil {
		return fmt.Errorf("upgrade %s: %w", path, err)
	}
	dst, err := db.Open(*to)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := dst.RequireEmpty(ctx); err != nil {
		return fmt.Errorf("%w; nothing was written (a server started on it writes its settings: make a fresh database with createdb and migrate into that)", err)
	}
	if err := dst.Migrate(ctx); err != nil {
		return fmt.Errorf("create the schema: %w", err)
	}
	began := time.Now()
	fmt.Fprintf(out, "copying %s into PostgreSQL\n", path)
	counts, err := src.CopyTo(ctx, dst, func(p db.CopyProgress) {
		rate := float64(p.Rows) / max(p.Took.Seconds(), 0.001)
		if p.Built != "" {
			fmt.Fprintf(out, "  %-40s made in %s\n", p.Built, p.Took.Round(time.Millisecond))
			return
		}
		if p.Done {
			fmt.Fprintf(out, "  %-20s %10d rows in %s (%.0f rows/s)\n", p.Table, p.Rows, p.Took.Round(time.Millisecond), rate)
		} else {
			fmt.Fprintf(out, "  %-20s %10d rows so far (%.0f rows/s)\n", p.Table, p.Rows, rate)
		}
	})
	if err != nil {
		if errors.Is(err, db.ErrTargetNotEmpty) {
			return fmt.Errorf("%w; nothing was copied", err)
		}
		return fmt.Errorf("%w; the copy was rolled back, the target is as it was", err)
	}
	fmt.Fprintf(out, "copied in %s (tables, indexes and foreign keys)\n\n", time.Since(began).Round(time.Second))
	return verifyCopy(ctx, dst, counts, out)
}

// verifyCopy prints each table's row counts and checks the ledger on the copy; it fails if any
// count differs or the ledger is off.
func verifyCopy(ctx context.Context, dst *db.DB, counts []db.TableCount, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tSQLite\tcopied\tPostgreSQL\t\t")
	var differ int
	for _, c := range counts {
		mark := "ok"
		if c.Source != c.Copied || c.Source != c.Target {
			mark = "DIFFERS"
			differ++
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", c.Table, c.Source, c.Copied, c.Target, mark)
	}
	tw.Flush()
	if differ > 0 {
		return fmt.Errorf("%d tables have different row counts on the copy", differ)
	}
	bad, err := dst.Read().CheckLedger(ctx)
	if err != nil {
		return fmt.Errorf("check the ledger on the copy: %w", err)
	}
	for _, b := range bad {
		fmt.Fprintln(out, b)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d ledger problems on the copy", len(bad))
	}
	fmt.Fprintln(out, "\nrow counts equal; ledger consistent on the copy: for every member, sum(ledger) = sum(bucket remainders) - debt")
	fmt.Fprintln(out, "Serve from it with: tokenjar serve --database <the URL>. AI provider keys in it are sealed with")
	fmt.Fprintln(out, "the data folder's "+server.GatewayKeyFileName+": every server of the copy needs that same secret (docs/scaling.md).")
	return nil
}
