// Command tokenjar is a self-hosted AI credit wallet and usage dashboard in one binary.
//
// main wires config → db.Open → migrate → domain → server.New → jobs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"tokenjar/db"
	"tokenjar/server"
	"tokenjar/server/core"
)

var version = "dev"

const usage = `tokenjar: a self-hosted AI credit wallet and usage dashboard.

Usage:
  tokenjar [serve] [--addr 127.0.0.1:8420] [--data DIR] [--no-browser]
  tokenjar version
  tokenjar backup [--data DIR] [--out FILE]   on PostgreSQL: a pg_dump archive, if pg_dump is installed
  tokenjar user create --email E --name N [--password P] [--role owner|admin|member] [--data DIR]
  tokenjar user reset-password --email E --password P [--data DIR]
  tokenjar jobs run refresh|expire|backup [--at RFC3339] [--data DIR]
  tokenjar demo [--data DIR] [--seed N]
  tokenjar check [--data DIR]        verify the ledger invariant for every member and bucket
  tokenjar migrate [--data DIR] --to postgres://…
                                     copy this SQLite instance (every table, ids kept) into an
                                     empty PostgreSQL database, then check row counts and the
                                     ledger on the copy; a server must not be running on DIR

Every command but migrate takes --database postgres://… (env TOKENJAR_DATABASE_URL) to run on PostgreSQL
instead of the SQLite file in the data folder.

Flags have environment twins: TOKENJAR_ADDR, TOKENJAR_DATA, TOKENJAR_DATABASE_URL.
TOKENJAR_SECRET_KEY (64 hex digits) gives the secret that seals AI provider keys; unset, it is
DATA/provider-keys.secret on SQLite and kept in the database on PostgreSQL (docs/scaling.md).
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "tokenjar:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, out)
	case "version":
		fmt.Fprintln(out, "tokenjar", version)
		return nil
	case "backup":
		return backupCmd(args, out)
	case "user":
		return userCmd(args, out)
	case "jobs":
		return jobsCmd(args, out)
	case "demo":
		return demoCmd(args, out)
	case "check":
		return checkCmd(args, out)
	case "migrate":
		return migrateCmd(args, out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// defaultDataDir is where a double-clicked tokenjar keeps its database.
func defaultDataDir() string {
	if runtime.GOOS == "linux" {
		if d := os.Getenv("XDG_DATA_HOME"); d != "" {
			return filepath.Join(d, "tokenjar")
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "share", "tokenjar")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "tokenjar")
	}
	return "tokenjar-data"
}

// store is where a command finds tokenjar's data: the data folder (backups, the provider-key
// secret, the lock) and the database, which is the SQLite file in that folder unless a
// PostgreSQL URL is given.
type store struct {
	dir      string
	database string // a postgres:// URL, or empty for the SQLite file in dir
}

// target is what db.Open takes.
func (s store) target() string {
	if s.database != "" {
		return s.database
	}
	return filepath.Join(s.dir, "tokenjar.db")
}

// storeFlags adds --data and --database to a command; the result is valid once fs is parsed.
func storeFlags(fs *flag.FlagSet) *store {
	s := &store{}
	fs.StringVar(&s.dir, "data", envOr("TOKENJAR_DATA", defaultDataDir()), "data folder (env TOKENJAR_DATA)")
	fs.StringVar(&s.database, "database", os.Getenv("TOKENJAR_DATABASE_URL"), "PostgreSQL URL, postgres://user:pass@host/db (env TOKENJAR_DATABASE_URL); unset: the SQLite file in the data folder")
	return s
}

func (s *store) check() error {
	if s.database != "" && !db.IsPostgresURL(s.database) {
		return fmt.Errorf("--database must be a postgres:// URL; leave it unset to use the SQLite file in the data folder")
	}
	return nil
}

// open creates the data folder, opens and migrates the database, and builds the domain.
func open(ctx context.Context, st *store, log *slog.Logger) (*db.DB, *core.Service, error) {
	if err := st.check(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data folder: %w", err)
	}
	d, err := db.Open(st.target())
	if err != nil {
		return nil, nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	svc, err := core.New(ctx, d, core.SystemClock, log)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return d, svc, nil
}

func serve(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", envOr("TOKENJAR_ADDR", "127.0.0.1:8420"), "listen address (env TOKENJAR_ADDR)")
	st := storeFlags(fs)
	noBrowser := fs.Bool("no-browser", false, "do not open the browser")
	secure := fs.Bool("secure-cookies", os.Getenv("TOKENJAR_SECURE_COOKIES") == "true", "mark cookies Secure (behind HTTPS)")
	trustProxy := fs.Bool("trust-proxy", os.Getenv("TOKENJAR_TRUST_PROXY") == "true", "trust X-Forwarded-* headers from a reverse proxy")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (for performance work)")
	baseURL := fs.String("base-url", os.Getenv("TOKENJAR_BASE_URL"), "public address, e.g. https://jar.example.org (env TOKENJAR_BASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	unlock, err := lockDataFolder(st.dir)
	if err != nil {
		return err
	}
	defer unlock()
	ctx := context.Background()
	d, svc, err := open(ctx, st, log)
	if err != nil {
		return err
	}
	defer d.Close()
	defer svc.Close() // runs first: finish queued reports before the database closes
	// This process holds the data folder's lock: it keeps the gateway's holds.
	if err := svc.StartHolds(ctx); err != nil {
		return err
	}
	svc.WarmSignIn()

	// On PostgreSQL every replica must seal provider keys with the same secret: from the
	// environment or the database, never one replica's data folder (server/gatewaykey.go).
	providerKeys, err := server.LoadGatewayKey(ctx, svc, st.dir, os.Getenv(server.GatewayKeyEnv))
	if err != nil {
		return fmt.Errorf("the AI provider key secret: %w", err)
	}
	srv := server.New(svc, frontendFS(), server.Config{SecureCookies: *secure, TrustProxy: *trustProxy, Version: version, BaseURL: *baseURL, ProviderKeys: providerKeys}, log)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is tokenjar already running? try --addr)", *addr, err)
	}
	sched, err := server.StartScheduler(svc, st.dir, log)
	if err != nil {
		return err
	}
	defer sched.Stop()

	url := "http://" + browserHost(ln.Addr().String())
	fmt.Fprintf(out, "tokenjar %s is running at %s (data: %s)\n", version, url, st.dir)
	if !*noBrowser && hasDesktop() {
		openBrowser(url)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
		fmt.Fprintln(out, "tokenjar: shutting down")
		return srv.Shutdown()
	}
}

func browserHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// hasDesktop tells whether a person is likely looking at a screen: never in CI or over SSH.
func hasDesktop() bool {
	if os.Getenv("CI") != "" || os.Getenv("SSH_CONNECTION") != "" {
		return false
	}
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

func openBrowser(url string) {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	_ = cmd.Start() // no browser is not an error: the URL is printed
}

func backupCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	st := storeFlags(fs)
	dest := fs.String("out", "", "file to write (default: DATA/backups/tokenjar-manual-<time>.db, or .dump on PostgreSQL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	d, _, err := open(ctx, st, slog.Default())
	if err != nil {
		return err
	}
	defer d.Close()
	if *dest == "" {
		if err := os.MkdirAll(filepath.Join(st.dir, "backups"), 0o700); err != nil {
			return err
		}
		*dest = filepath.Join(st.dir, "backups", "tokenjar-manual-"+time.Now().Format("20060102-150405")+d.BackupExt())
	}
	if _, err := os.Stat(*dest); err == nil {
		return fmt.Errorf("%s exists already", *dest)
	}
	// On PostgreSQL, a pg_dump archive (restore it with pg_restore); without pg_dump installed,
	// the pg_dump command to run where it is.
	if err := d.Backup(ctx, *dest); err != nil {
		var noDump *db.NoPgDumpError
		if errors.As(err, &noDump) {
			fmt.Fprintf(out, "pg_dump is not installed here. Back up the PostgreSQL database where it is, with:\n  %s\n(put the password back in place of ***, or set PGPASSWORD)\n", noDump.Command)
			return errors.New("no backup written: pg_dump is not installed")
		}
		return err
	}
	if err := os.Chmod(*dest, 0o600); err != nil { // it holds password hashes
		return err
	}
	fmt.Fprintln(out, "wrote", *dest)
	return nil
}

func userCmd(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("user needs a subcommand: create or reset-password")
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	st := storeFlags(fs)
	email := fs.String("email", "", "email")
	name := fs.String("name", "", "name")
	password := fs.String("password", "", "password")
	role := fs.String("role", "member", "owner, admin or member")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	d, svc, err := open(ctx, st, slog.Default())
	if err != nil {
		return err
	}
	defer d.Close()
	switch sub {
	case "create":
		m, err := svc.CreateMemberAsOperator(ctx, core.NewMember{Email: *email, Name: *name, Password: *password, Role: *role})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created %s <%s> (%s), id %d\n", m.Name, m.Email, m.Role, m.ID)
	case "reset-password":
		if err := svc.ResetPasswordAsOperator(ctx, *email, *password); err != nil {
			return err
		}
		fmt.Fprintf(out, "password reset for %s; their sessions were signed out and any sign-in lock is lifted\n", *email)
	default:
		return fmt.Errorf("unknown user subcommand %q: use create or reset-password", sub)
	}
	return nil
}

func jobsCmd(args []string, out io.Writer) error {
	if len(args) < 2 || args[0] != "run" {
		return fmt.Errorf("usage: tokenjar jobs run %s [--at RFC3339]", strings.Join(core.Jobs, "|"))
	}
	name := args[1]
	fs := flag.NewFlagSet("jobs run", flag.ContinueOnError)
	st := storeFlags(fs)
	at := fs.String("at", "", "run as of this instant (RFC 3339); default now")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	when := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--at must be RFC 3339, such as 2026-12-01T00:00:00Z")
		}
		when = t
	}
	ctx := context.Background()
	d, svc, err := open(ctx, st, slog.Default())
	if err != nil {
		return err
	}
	defer d.Close()
	res, err := svc.RunJob(ctx, name, when, st.dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s as of %s: %s\n", name, when.Format(time.RFC3339), res)
	return nil
}

func checkCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	st := storeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	d, _, err := open(ctx, st, slog.Default())
	if err != nil {
		return err
	}
	defer d.Close()
	bad, err := d.Read().CheckLedger(ctx)
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintln(out, b)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d ledger problems", len(bad))
	}
	fmt.Fprintln(out, "ledger consistent: for every member, sum(ledger) = sum(bucket remainders) - debt")
	return nil
}
