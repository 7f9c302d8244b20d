package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"tokenjar/db"
	"tokenjar/server/core"
	"tokenjar/server/demo"
)

// demoCmd fills a fresh data folder with realistic usage, through the real engine.
func demoCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	st := storeFlags(fs)
	seed := fs.Int64("seed", 1, "random seed; the same seed makes the same data")
	events := fs.Int64("events", 0, "instead of the family, write this many events for 200 members over two years (load tests); also writes DATA/demo.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return err
	}
	if err := st.check(); err != nil {
		return err
	}
	d, err := db.Open(st.target())
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Migrate(ctx); err != nil {
		return err
	}
	clock := &demo.Clock{}
	clock.Set(time.Now())
	svc, err := core.New(ctx, d, clock, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer svc.Close()
	if needed, err := svc.SetupNeeded(ctx); err != nil {
		return err
	} else if !needed {
		return errors.New("this data folder is set up already; give demo a fresh --data folder")
	}
	began := time.Now()
	if *events > 0 {
		last := time.Now()
		var info demo.ScaleInfo
		// Most indexes of the events and the ledger are built once at the end: row by row,
		// they cost most of a large seed's time (see db.BulkLoad).
		err := d.BulkLoad(ctx, func() error {
			var err error
			info, err = demo.Scale(ctx, svc, clock, st.dir, time.Now(), *events, *seed, func(done int64) {
				if time.Since(last) > 10*time.Second {
					last = time.Now()
					fmt.Fprintf(out, "  %d events (%.0f/s)\n", done, float64(done)/time.Since(began).Seconds())
				}
			})
			if err == nil {
				fmt.Fprintf(out, "  %d events written in %s; building their indexes\n", info.Events, time.Since(began).Round(time.Second))
			}
			return err
		})
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(filepath.Join(st.dir, "demo.json"), b, 0o600); err != nil {
			return err
		}
		took := time.Since(began)
		fmt.Fprintf(out, "wrote %d events for 200 members in %s (%.0f events/s); accounts and keys in %s\n",
			info.Events, took.Round(time.Second), float64(info.Events)/took.Seconds(), filepath.Join(st.dir, "demo.json"))
		return nil
	}
	msg, err := demo.Family(ctx, svc, clock, st.dir, time.Now(), *seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo data written to %s in %s: %s\nStart it with: tokenjar serve --data %s\n", st.dir, time.Since(began).Round(time.Millisecond), msg, st.dir)
	return nil
}
