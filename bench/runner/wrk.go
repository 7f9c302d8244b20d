package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wrkRun is what `wrk --latency` (with bench/ingest.lua's done() lines) printed.
type wrkRun struct {
	rps                float64
	requests           int64
	p50, p90, p99, max time.Duration
	non2xx, sockErrs   int64
	sockDetail         string
	statuses           map[int]int64
	threads, conns     int
	seconds            float64
}

var (
	reReqSec  = regexp.MustCompile(`^Requests/sec:\s+([0-9.]+)`)
	reReqs    = regexp.MustCompile(`^\s*(\d+) requests in ([0-9.]+)(\w+),`)
	rePct     = regexp.MustCompile(`^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s|m)\s*$`)
	reLatency = regexp.MustCompile(`^\s+Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s|m)`)
	reNon2xx  = regexp.MustCompile(`^\s*Non-2xx or 3xx responses:\s+(\d+)`)
	reSock    = regexp.MustCompile(`^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reStatus  = regexp.MustCompile(`^bench-status (\d+) (\d+)$`)
	reThreads = regexp.MustCompile(`^\s*(\d+) threads and (\d+) connections`)
)

func dur(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	m := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9}[unit]
	return time.Duration(f * m)
}

func parseWrk(path string) (wrkRun, error) {
	w := wrkRun{statuses: map[int]int64{}}
	f, err := os.Open(path)
	if err != nil {
		return w, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	seen := false
	for sc.Scan() {
		l := sc.Text()
		if m := reReqSec.FindStringSubmatch(l); m != nil {
			w.rps, _ = strconv.ParseFloat(m[1], 64)
			seen = true
		}
		if m := reReqs.FindStringSubmatch(l); m != nil {
			w.requests, _ = strconv.ParseInt(m[1], 10, 64)
			w.seconds = dur(m[2], m[3]).Seconds()
		}
		if m := rePct.FindStringSubmatch(l); m != nil {
			d := dur(m[2], m[3])
			switch m[1] {
			case "50":
				w.p50 = d
			case "90":
				w.p90 = d
			case "99":
				w.p99 = d
			}
		}
		if m := reLatency.FindStringSubmatch(l); m != nil {
			w.max = dur(m[1], m[2])
		}
		if m := reNon2xx.FindStringSubmatch(l); m != nil {
			w.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
		}
		if m := reSock.FindStringSubmatch(l); m != nil {
			var sum int64
			for _, s := range m[1:] {
				n, _ := strconv.ParseInt(s, 10, 64)
				sum += n
			}
			w.sockErrs = sum
			w.sockDetail = strings.TrimSpace(l)
		}
		if m := reStatus.FindStringSubmatch(l); m != nil {
			code, _ := strconv.Atoi(m[1])
			n, _ := strconv.ParseInt(m[2], 10, 64)
			w.statuses[code] += n
		}
		if m := reThreads.FindStringSubmatch(l); m != nil {
			w.threads, _ = strconv.Atoi(m[1])
			w.conns, _ = strconv.Atoi(m[2])
		}
	}
	if !seen {
		return w, fmt.Errorf("%s: no Requests/sec line: wrk did not finish", path)
	}
	return w, sc.Err()
}

func (w wrkRun) statusText() string {
	var codes []int
	for c := range w.statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", w.statuses[c], c))
	}
	if len(parts) == 0 {
		return "no status counts"
	}
	return strings.Join(parts, ", ")
}

// cmdWrk turns wrk outputs into rows: the bare Fiber ceiling (INFO), and tokenjar's ingest
// throughput and p99 against the targets and against the ceiling.
func cmdWrk(args []string) error {
	fs := flag.NewFlagSet("wrk", flag.ExitOnError)
	file := fs.String("file", "", "tokenjar's wrk output")
	fiberFile := fs.String("fiber", "", "the bare Fiber baseline's wrk output")
	results := fs.String("results", "", "results file")
	minRPS := fs.Float64("rps", 10000, "target reports/s")
	maxP99 := fs.Duration("p99", 25*time.Millisecond, "target p99")
	fs.Parse(args)
	fb, err := parseWrk(*fiberFile)
	if err != nil {
		return err
	}
	fbOK := fb.non2xx == 0 && fb.sockErrs == 0
	fbNote := fb.statusText()
	if !fbOK {
		fbNote += "; " + fb.sockDetail + fmt.Sprintf("; non-2xx %d", fb.non2xx)
	}
	emit(*results, Row{Metric: fmt.Sprintf("bare Fiber ceiling (%d conns, %d wrk threads)", fb.conns, fb.threads), Target: "(baseline)",
		Measured: fmt.Sprintf("%.0f req/s, p50 %s, p99 %s", fb.rps, ms(fb.p50), ms(fb.p99)), Result: "INFO", VsFiber: "1.00x", Note: fbNote})
	if *file == "" {
		return nil
	}
	tj, err := parseWrk(*file)
	if err != nil {
		return err
	}
	errorsSeen := tj.non2xx > 0 || tj.sockErrs > 0
	for code, n := range tj.statuses {
		if code != 201 && n > 0 {
			errorsSeen = true
		}
	}
	note := tj.statusText()
	if tj.non2xx > 0 {
		note += fmt.Sprintf("; %d non-2xx", tj.non2xx)
	}
	if tj.sockErrs > 0 {
		note += "; " + tj.sockDetail
	}
	if errorsSeen {
		note += "; errors: not a pass"
	}
	emit(*results, Row{Metric: fmt.Sprintf("ingest POST /usage throughput (%d conns)", tj.conns), Target: fmt.Sprintf(">= %.0f/s", *minRPS),
		Measured: fmt.Sprintf("%.0f reports/s (%d in %.0fs)", tj.rps, tj.requests, tj.seconds), Result: passFail(tj.rps >= *minRPS && !errorsSeen),
		VsFiber: fmt.Sprintf("%.2fx", tj.rps/fb.rps), Note: note})
	emit(*results, Row{Metric: fmt.Sprintf("ingest POST /usage p99 (%d conns)", tj.conns), Target: "<= " + ms(*maxP99),
		Measured: fmt.Sprintf("p99 %s (p50 %s, p90 %s, max %s)", ms(tj.p99), ms(tj.p50), ms(tj.p90), ms(tj.max)), Result: passFail(tj.p99 <= *maxP99 && !errorsSeen),
		VsFiber: fmt.Sprintf("%.2fx", float64(tj.p99)/float64(fb.p99))})
	return nil
}

// cmdIngestCheck compares the events the database gained during the ingest run with the 201s
// wrk counted: each 201 must be an event (the server may have committed a few more that were
// in flight when wrk stopped, at most one per connection).
func cmdIngestCheck(args []string) error {
	fs := flag.NewFlagSet("ingestcheck", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	before := fs.Int64("before", 0, "events before the run")
	file := fs.String("file", "", "tokenjar's wrk output")
	fs.Parse(args)
	d, err := loadDemo(cf.demo)
	if err != nil {
		return err
	}
	a, err := newAPI(cf.base, 2)
	if err != nil {
		return err
	}
	w, err := parseWrk(*file)
	if err != nil {
		return err
	}
	after, err := countEvents(a, d.Owner.Token)
	if err != nil {
		return err
	}
	got := after - *before
	created := w.statuses[201]
	ok := got >= created && got-created <= int64(w.conns)
	return emit(cf.results, Row{Metric: "ingest: every 201 is a stored event", Target: "events >= 201s", Measured: fmt.Sprintf("%d new events for %d 201s", got, created),
		Result: passFail(ok), Note: fmt.Sprintf("up to %d more may have been in flight when wrk stopped", w.conns)})
}

// cmdIngestData writes the Lua table bench/ingest.lua reads: apps with keys, member emails,
// models with their providers and list prices, projects.
func cmdIngestData(args []string) error {
	fs := flag.NewFlagSet("ingestdata", flag.ExitOnError)
	demo := fs.String("demo", "", "demo.json")
	out := fs.String("out", "", "the Lua file to write")
	fs.Parse(args)
	d, err := loadDemo(*demo)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("-- written by `runner ingestdata` from " + filepath.Base(*demo) + "; read by bench/ingest.lua\nreturn {\n  apps = {\n")
	for _, ap := range d.Apps {
		fmt.Fprintf(&b, "    {slug = %q, key = %q},\n", ap.Slug, ap.Key)
	}
	b.WriteString("  },\n  members = {\n")
	for _, m := range d.Members {
		if m.Email != "" {
			fmt.Fprintf(&b, "    %q,\n", m.Email)
		}
	}
	b.WriteString("  },\n  models = {\n")
	models := d.Models
	if len(models) == 0 {
		models = []string{"gpt-4o", "gpt-4o-mini", "claude-sonnet-4"}
	}
	for _, m := range models {
		prov, in, outp := providerOf(m)
		fmt.Fprintf(&b, "    {name = %q, provider = %q, inp = %d, out = %d},\n", m, prov, in, outp)
	}
	b.WriteString("  },\n  projects = {\n")
	projects := d.Projects
	if len(projects) == 0 {
		projects = []string{"homework", "research", "writing"}
	}
	for _, p := range projects {
		fmt.Fprintf(&b, "    %q,\n", p)
	}
	b.WriteString("  },\n}\n")
	return os.WriteFile(*out, []byte(b.String()), 0o600)
}

// providerOf guesses a model's provider and a list price in nano-USD per token.
func providerOf(m string) (string, int, int) {
	l := strings.ToLower(m)
	switch {
	case strings.Contains(l, "mini"), strings.Contains(l, "flash"), strings.Contains(l, "haiku"), strings.Contains(l, "small"):
		p := "OpenAI"
		if strings.Contains(l, "gemini") {
			p = "Google"
		} else if strings.Contains(l, "claude") {
			p = "Anthropic"
		}
		return p, 200, 1000
	case strings.HasPrefix(l, "claude"):
		return "Anthropic", 3000, 15000
	case strings.HasPrefix(l, "gemini"):
		return "Google", 1250, 10000
	case strings.HasPrefix(l, "gpt"), strings.HasPrefix(l, "o1"), strings.HasPrefix(l, "o3"), strings.HasPrefix(l, "o4"), strings.HasPrefix(l, "dall"), strings.HasPrefix(l, "whisper"), strings.HasPrefix(l, "text-embedding"):
		return "OpenAI", 2500, 10000
	case strings.HasPrefix(l, "mistral"), strings.HasPrefix(l, "codestral"):
		return "Mistral", 2000, 6000
	case strings.HasPrefix(l, "llama"):
		return "Meta", 600, 600
	}
	return "Other", 1000, 3000
}
