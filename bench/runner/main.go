// Command runner is the Go half of tokenjar's benchmark (bench/run.sh is the other half). It
// talks to a running tokenjar over HTTP on 127.0.0.1 only, with the standard library only.
//
// Subcommands (each appends its rows to the results file given by -results; `table` prints them):
//
//	runner waitready -url URL -since UNIXNANO       poll GET URL until 200; print milliseconds since -since
//	runner bootstrap -base URL -data DIR            write DIR/demo.json for a `tokenjar demo` family dataset
//	runner seedapi -base URL -data DIR -events N    fill a fresh tokenjar through the API (fallback seeder)
//	runner ingestdata -demo FILE -out FILE.lua      write the member/app/model lists bench/ingest.lua reads
//	runner count -base URL -demo FILE               print the number of events (owner, scope=all)
//	runner dashboard -base URL -demo FILE           time the aggregates and the usage log
//	runner export -base URL -demo FILE -pid PID     stream the largest CSV export, sample the server's RSS
//	runner exact -base URL -demo FILE               1,000 concurrent reports against one wallet and one allowance
//	runner wrk -file OUT -name NAME                 parse `wrk --latency` output into a results row
//	runner row -metric M -target T -measured V -result R
//	runner table -results FILE [-md]                print the table
//	runner freeport                                 print a free TCP port on 127.0.0.1
//	runner waitidle -pid PID                        wait until the process has used no CPU for 2 s
//	runner rss -pid PID                             print VmRSS, VmHWM and RssFile (KiB)
//	runner cputicks -pid PID                        print user+system CPU ticks (1/100 s)
//	runner fakeai -addr 127.0.0.1:PORT              a fake OpenAI-compatible provider that answers at once
//	runner gateway -base URL -fake URL -pid PID     the AI gateway against the fake, direct vs through tokenjar
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"tokenjar/server/demo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: runner waitready|bootstrap|ingestdata|count|dashboard|export|exact|wrk|row|table [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"waitready":   cmdWaitReady,
		"bootstrap":   cmdBootstrap,
		"ingestdata":  cmdIngestData,
		"count":       cmdCount,
		"dashboard":   cmdDashboard,
		"export":      cmdExport,
		"exact":       cmdExact,
		"wrk":         cmdWrk,
		"row":         cmdRow,
		"table":       cmdTable,
		"ingestcheck": cmdIngestCheck,
		"freeport":    cmdFreePort,
		"seedapi":     cmdSeedAPI,
		"waitidle":    cmdWaitIdle,
		"rss":         cmdRSS,
		"cputicks":    cmdCPUTicks,
		"fakeai":      cmdFakeAI,
		"gateway":     cmdGateway,
	}
	f, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "runner: unknown command", os.Args[1])
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "runner "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

// Demo is DIR/demo.json, as `tokenjar demo --events N` writes it (its demo.ScaleInfo), and
// `runner bootstrap` for the small family dataset.
type Demo struct {
	demo.ScaleInfo
	// Bootstrapped is set by `runner bootstrap`: the data is the small family demo.
	Bootstrapped bool `json:"bootstrapped,omitempty"`
}

func loadDemo(path string) (*Demo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d Demo
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.Owner.Token == "" || len(d.Apps) == 0 || len(d.Members) == 0 {
		return nil, fmt.Errorf("%s: needs owner.token, apps and members", path)
	}
	return &d, nil
}

// parseMilli turns a JSON decimal (as json.Number text or a string) into integer millicredits,
// exactly: no float is involved. It refuses exponents and more than 3 decimals.
func parseMilli(s string) (int64, error) {
	s = strings.TrimSpace(strings.Trim(s, `"`))
	if s == "" {
		return 0, fmt.Errorf("empty decimal")
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 3 || strings.ContainsAny(s, "eE+") {
		return 0, fmt.Errorf("not an exact decimal with at most 3 decimals: %q", s)
	}
	var n int64
	for _, c := range whole + (frac + "000")[:3] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a decimal: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// fmtMilli prints millicredits as a decimal.
func fmtMilli(m int64) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%03d", sign, m/1000, m%1000)
}
