package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cmdGateway measures the AI gateway (issue 19, "Speed") against the fake provider of
// `runner fakeai`, with the same requests sent to the fake directly in the same run:
//
//  1. setup: on a fresh tokenjar, POST /setup (the owner and their personal token, the API key
//     of every request below), a grant of credits to the owner, the provider (openai-compatible,
//     the fake's base URL, models bench-model and bench-slow) and, unless -free, a price for both
//     models, so that every gateway request goes through the hold and the settle;
//  2. plain: -conns workers sending the same non-streamed chat request for -duration, first to
//     the fake, then through tokenjar: p50, p99 and requests/s of each; added latency and the
//     throughput ratio are the rows. Before each, one sequential pass (-seq requests) gives the
//     added latency of one request alone (INFO);
//  3. TTFB: -ttfb sequential streamed requests, alternating direct and through tokenjar, each
//     timed from sending to the first byte of the body;
//  4. slow streams: -slow concurrent bench-slow streams through tokenjar, all open at once, the
//     server's VmRSS sampled while they run; each must end with 200, every chunk and [DONE].
func cmdGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	base := fs.String("base", "", "tokenjar's address (a fresh data folder: the command runs POST /setup)")
	fake := fs.String("fake", "", "the fake provider's address, http://127.0.0.1:PORT")
	pid := fs.Int("pid", 0, "tokenjar's process id (for its RSS)")
	results := fs.String("results", "", "append result rows to this file")
	duration := fs.Duration("duration", 20*time.Second, "each timed run of the plain load")
	conns := fs.Int("conns", 64, "concurrent workers of the plain load")
	seq := fs.Int("seq", 500, "sequential plain requests (added latency of one request alone)")
	ttfb := fs.Int("ttfb", 200, "streamed requests for the time to first byte, each way")
	slow := fs.Int("slow", 500, "concurrent slow streams")
	slowChunks := fs.Int("slow-chunks", 10, "chunks of each slow stream (the fake's -slow-chunks)")
	free := fs.Bool("free", false, "a free provider (no hold, no charge) instead of a priced model")
	fs.Parse(args)
	for _, u := range []string{*base, *fake} {
		if err := loopbackOnly(u); err != nil {
			return err
		}
	}
	a, err := newAPI(*base, 8)
	if err != nil {
		return err
	}
	token, err := gatewaySetup(a, *fake, *free)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	label := "priced model: hold and settle per request"
	if *free {
		// The free pass shows what the billing costs; its rows are for information.
		label = "free provider: no hold, no charge"
		infoRows = true
		os.Setenv("BENCH_LABEL", "free provider")
	}
	fmt.Printf("gateway bench: %s; %d workers, %s each\n", label, *conns, *duration)

	direct := &target{url: strings.TrimRight(*fake, "/") + "/v1/chat/completions", key: "x"}
	through := &target{url: strings.TrimRight(*base, "/") + "/v1/chat/completions", key: token}
	plainBody := []byte(`{"model":"bench-model","messages":[{"role":"system","content":"You are a helpful assistant."},` +
		`{"role":"user","content":"Say hello in five words."}],"max_tokens":64}`)
	streamBody := []byte(`{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"Say hello in five words."}],"max_tokens":64}`)

	// A first request through each, so that a failure shows before any timing.
	for _, t := range []*target{direct, through} {
		if _, err := t.do(newLoadClient(4), plainBody, false); err != nil {
			return fmt.Errorf("first request to %s: %w", t.url, err)
		}
	}

	// 2a. one request at a time
	sd, err := sequential(direct, plainBody, *seq)
	if err != nil {
		return err
	}
	st, err := sequential(through, plainBody, *seq)
	if err != nil {
		return err
	}
	emit(*results, Row{Metric: "gateway: added latency, 1 request at a time (p50 / p99)", Target: "(info)", Result: "INFO",
		Measured: fmt.Sprintf("%s / %s (direct %s / %s, tokenjar %s / %s)", signed(pct(st, 50)-pct(sd, 50)), signed(pct(st, 99)-pct(sd, 99)),
			ms2(pct(sd, 50)), ms2(pct(sd, 99)), ms2(pct(st, 50)), ms2(pct(st, 99))),
		Note: fmt.Sprintf("%d sequential plain requests each way; %s", *seq, label)})

	// 2b. -conns concurrent, for -duration each
	ld, err := load(direct, plainBody, *conns, *duration)
	if err != nil {
		return err
	}
	fmt.Printf("  direct:   %s\n", ld)
	var c0, c1 int64
	if *pid > 0 {
		c0, _ = cpuTicks(*pid)
	}
	w0 := time.Now()
	lt, err := load(through, plainBody, *conns, *duration)
	if err != nil {
		return err
	}
	cpu := ""
	if *pid > 0 {
		c1, _ = cpuTicks(*pid)
		cpu = fmt.Sprintf("; tokenjar used %.0f%% of one core, %.0f µs of CPU a request (%d cores, shared with the load and the fake)",
			float64(c1-c0)/time.Since(w0).Seconds(), float64(c1-c0)*1e4/float64(max(lt.total, 1)), runtime.NumCPU())
	}
	fmt.Printf("  tokenjar: %s%s\n", lt, cpu)
	add50, add99 := pct(lt.lat, 50)-pct(ld.lat, 50), pct(lt.lat, 99)-pct(ld.lat, 99)
	note := fmt.Sprintf("%d concurrent plain requests for %s each way; direct %s / %s, tokenjar %s / %s; %s",
		*conns, *duration, ms2(pct(ld.lat, 50)), ms2(pct(ld.lat, 99)), ms2(pct(lt.lat, 50)), ms2(pct(lt.lat, 99)), label)
	emit(*results, Row{Metric: fmt.Sprintf("gateway: added latency p50, %d concurrent", *conns), Target: "<= 1 ms",
		Measured: signed(add50), Result: passFail(add50 <= time.Millisecond), Note: note})
	emit(*results, Row{Metric: fmt.Sprintf("gateway: added latency p99, %d concurrent", *conns), Target: "<= 10 ms",
		Measured: signed(add99), Result: passFail(add99 <= 10*time.Millisecond), Note: note})
	ratio := lt.rps() / ld.rps()
	emit(*results, Row{Metric: "gateway: throughput through tokenjar vs direct", Target: ">= 0.5x",
		Measured: fmt.Sprintf("%.2fx (%.0f vs %.0f req/s)", ratio, lt.rps(), ld.rps()), Result: passFail(ratio >= 0.5),
		Note: fmt.Sprintf("%d concurrent plain requests, %s each; %d and %d errors%s", *conns, *duration, ld.errs, lt.errs, cpu)})
	if ld.errs+lt.errs > 0 {
		emit(*results, Row{Metric: "gateway: failed plain requests", Target: "0", Measured: fmt.Sprintf("direct %d, tokenjar %d (first: %s)", ld.errs, lt.errs, firstNonEmpty(lt.firstErr, ld.firstErr)), Result: "FAIL"})
	}

	// 3. time to first streamed byte, alternating so that both see the same machine
	var td, tt []time.Duration
	hc := newLoadClient(4)
	for i := 0; i < *ttfb; i++ {
		for _, x := range []struct {
			t   *target
			out *[]time.Duration
		}{{direct, &td}, {through, &tt}} {
			d, err := x.t.do(hc, streamBody, true)
			if err != nil {
				return fmt.Errorf("stream %d to %s: %w", i, x.t.url, err)
			}
			*x.out = append(*x.out, d)
		}
	}
	sortDur(td)
	sortDur(tt)
	addT := pct(tt, 50) - pct(td, 50)
	emit(*results, Row{Metric: "gateway: added time to first streamed byte (p50)", Target: "<= 5 ms", Measured: signed(addT),
		Result: passFail(addT <= 5*time.Millisecond),
		Note: fmt.Sprintf("%d sequential streams each way; direct %s (p99 %s), tokenjar %s (p99 %s, %s)", *ttfb,
			ms2(pct(td, 50)), ms2(pct(td, 99)), ms2(pct(tt, 50)), ms2(pct(tt, 99)), signed(pct(tt, 99)-pct(td, 99)))})

	// 4. slow streams
	if *slow > 0 {
		if err := slowStreams(*results, through, *slow, *slowChunks, *pid, label); err != nil {
			return err
		}
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func loopbackOnly(u string) error {
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" {
		return fmt.Errorf("bad address %q", u)
	}
	if ip := net.ParseIP(p.Hostname()); p.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing %s: the benchmark sends traffic to loopback addresses only", u)
	}
	return nil
}

// gatewaySetup sets a fresh tokenjar up for the gateway and returns the owner's personal token.
func gatewaySetup(a *api, fake string, free bool) (string, error) {
	var setup struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
		Token string `json:"token"`
	}
	if _, _, err := a.call("POST", "/setup", "", map[string]any{"email": "owner@example.org", "name": "Bench Owner",
		"password": "bench-owner-password", "timeZone": "UTC", "creditsPerUSD": 1000}, &setup); err != nil {
		return "", fmt.Errorf("POST /setup (the data folder must be fresh): %w", err)
	}
	tok := setup.Token
	if _, _, err := a.call("POST", "/members/"+strconv.FormatInt(setup.User.ID, 10)+"/grants", tok,
		map[string]any{"kind": "addon", "credits": 100000000, "note": "gateway bench"}, nil); err != nil {
		return "", err
	}
	if _, _, err := a.call("POST", "/providers", tok, map[string]any{"name": "bench-fake", "kind": "openai-compatible",
		"baseUrl": strings.TrimRight(fake, "/") + "/v1", "apiKey": "x", "models": []string{"bench-model", "bench-slow"}, "free": free}, nil); err != nil {
		return "", fmt.Errorf("POST /providers: %w", err)
	}
	if !free {
		for _, m := range []string{"bench-model", "bench-slow"} {
			if _, _, err := a.call("PUT", "/prices/"+m, tok, map[string]any{"input": "0.10", "output": "0.40"}, nil); err != nil {
				return "", fmt.Errorf("PUT /prices/%s: %w", m, err)
			}
		}
	}
	return tok, nil
}

// target is one side of the comparison: the fake itself, or tokenjar in front of it.
type target struct{ url, key string }

func newLoadClient(conns int) *http.Client {
	return &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{Proxy: nil, MaxIdleConns: conns,
		MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}}
}

// do sends one request. Plain: the time to the whole reply, which must be a 200. Stream (first):
// the time to the first byte of the body, then the rest is read and must end with [DONE].
func (t *target) do(hc *http.Client, body []byte, first bool) (time.Duration, error) {
	req, _ := http.NewRequest("POST", t.url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+t.key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var el time.Duration
	if first {
		var b [1]byte
		if _, err := io.ReadFull(resp.Body, b[:]); err != nil {
			return 0, fmt.Errorf("HTTP %d, no body byte: %w", resp.StatusCode, err)
		}
		el = time.Since(start)
	}
	raw, err := io.ReadAll(resp.Body)
	if !first {
		el = time.Since(start)
	}
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	if first && !bytes.Contains(raw, []byte("data: [DONE]")) {
		return 0, fmt.Errorf("stream without [DONE]: %.200s", raw)
	}
	return el, nil
}

func sequential(t *target, body []byte, n int) ([]time.Duration, error) {
	hc := newLoadClient(2)
	out := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		d, err := t.do(hc, body, false)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sortDur(out)
	return out, nil
}

type loadResult struct {
	lat      []time.Duration // sorted
	total    int64           // every successful request, the warm-up's included
	elapsed  time.Duration
	errs     int64
	firstErr string
}

func (l *loadResult) rps() float64 { return float64(len(l.lat)) / l.elapsed.Seconds() }

func (l *loadResult) String() string {
	return fmt.Sprintf("%d requests in %s, %.0f/s, p50 %s, p90 %s, p99 %s, max %s, %d errors", len(l.lat),
		l.elapsed.Round(time.Millisecond), l.rps(), ms2(pct(l.lat, 50)), ms2(pct(l.lat, 90)), ms2(pct(l.lat, 99)), ms2(pct(l.lat, 100)), l.errs)
}

// load runs conns workers, each sending body over its own kept-alive connection as fast as the
// replies come, for d after a 2 s warm-up that is not counted.
func load(t *target, body []byte, conns int, d time.Duration) (*loadResult, error) {
	hc := newLoadClient(conns)
	warm := 2 * time.Second
	begin := time.Now()
	from, to := begin.Add(warm), begin.Add(warm+d)
	var wg sync.WaitGroup
	lats := make([][]time.Duration, conns)
	var errs, total atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				s := time.Now()
				if s.After(to) {
					return
				}
				el, err := t.do(hc, body, false)
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err.Error())
					}
					if errs.Load() > 1000 {
						return
					}
					continue
				}
				total.Add(1)
				if s.After(from) && s.Add(el).Before(to) {
					lats[w] = append(lats[w], el)
				}
			}
		}(w)
	}
	wg.Wait()
	r := &loadResult{elapsed: d, errs: errs.Load(), total: total.Load()}
	if v, ok := firstErr.Load().(string); ok {
		r.firstErr = v
	}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	if len(r.lat) == 0 {
		return nil, fmt.Errorf("no request succeeded against %s: %s", t.url, r.firstErr)
	}
	sortDur(r.lat)
	hc.CloseIdleConnections()
	return r, nil
}

// slowStreams opens n bench-slow streams through tokenjar at once and samples the server's RSS
// while they are all open; every stream must end with 200, all its chunks and [DONE].
func slowStreams(results string, t *target, n, chunks, pid int, label string) error {
	hc := newLoadClient(n)
	hc.Transport.(*http.Transport).MaxConnsPerHost = 0
	body := []byte(`{"model":"bench-slow","stream":true,"messages":[{"role":"user","content":"Count slowly."}],"max_tokens":64}`)
	var rss0 int64
	if pid > 0 {
		rss0, _, _ = procStatus(pid)
	}
	var opened, completed, failed, settled atomic.Int64 // settled: open, or failed before it opened
	var firstErr atomic.Value
	allOpen := make(chan struct{})
	var once sync.Once
	settle := func() {
		if settled.Add(1) == int64(n) {
			once.Do(func() { close(allOpen) })
		}
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			isOpen := false
			fail := func(err error) {
				if failed.Add(1) == 1 {
					firstErr.Store(err.Error())
				}
				if !isOpen {
					settle()
				}
			}
			req, _ := http.NewRequest("POST", t.url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+t.key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				raw, _ := io.ReadAll(resp.Body)
				fail(fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw))
				return
			}
			var b [1]byte
			if _, err := io.ReadFull(resp.Body, b[:]); err != nil {
				fail(err)
				return
			}
			opened.Add(1)
			isOpen = true
			settle()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				fail(err)
				return
			}
			got := bytes.Count(raw, []byte(`"content":"tok`))
			if got != chunks || !bytes.Contains(raw, []byte("data: [DONE]")) {
				fail(fmt.Errorf("a stream ended with %d of %d chunks, [DONE] %v", got, chunks, bytes.Contains(raw, []byte("data: [DONE]"))))
				return
			}
			completed.Add(1)
		}()
	}
	var openAfter time.Duration
	select {
	case <-allOpen:
		openAfter = time.Since(start)
	case <-time.After(60 * time.Second):
		return fmt.Errorf("slow streams: only %d of %d open after 60 s (%d failed)", opened.Load(), n, failed.Load())
	}
	var s *rssSampler
	if pid > 0 {
		s = sampleRSS(pid, 100*time.Millisecond)
	}
	// every stream is open now; sample until the first one ends
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var whileOpen int64
	for {
		if pid > 0 {
			if r, _, err := procStatus(pid); err == nil && r > whileOpen && completed.Load() == 0 {
				whileOpen = r
			}
		}
		if completed.Load() > 0 {
			break
		}
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	select {
	case <-done:
	case <-time.After(time.Duration(chunks)*time.Second + 90*time.Second):
		return errors.New("slow streams did not end in time")
	}
	total := time.Since(start)
	var peak int64
	if s != nil {
		peak = s.done()
	}
	ok := failed.Load() == 0 && completed.Load() == int64(n)
	emit(results, Row{Metric: fmt.Sprintf("gateway: %d concurrent slow streams, all completed", n), Target: fmt.Sprintf("%d of %d", n, n),
		Measured: fmt.Sprintf("%d completed, %d failed%s", completed.Load(), failed.Load(), errSuffix(&firstErr)), Result: passFail(ok),
		Note: fmt.Sprintf("all open %s after the first was sent; %d chunks 1 s apart each; %s in all; %s", openAfter.Round(time.Millisecond), chunks, total.Round(time.Second), label)})
	if pid > 0 {
		emit(results, Row{Metric: fmt.Sprintf("gateway: server RSS with %d slow streams open", n), Target: "< 200 MB",
			Measured: fmt.Sprintf("%s (peak %s; %s before)", mib(whileOpen), mib(peak), mib(rss0)), Result: passFail(peak < 200*1024 && whileOpen > 0),
			Note: "VmRSS every 100 ms; the peak is over the whole phase"})
	}
	hc.CloseIdleConnections()
	return nil
}

func errSuffix(v *atomic.Value) string {
	if s, ok := v.Load().(string); ok {
		return " (first: " + s + ")"
	}
	return ""
}

func sortDur(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

// pct is the p-th percentile (nearest rank) of sorted durations.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(d) {
		i = len(d) - 1
	}
	return d[i]
}

func ms2(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64) + " ms"
}

// signed is a difference of times with its sign: "+1.25 ms", "-0.13 ms".
func signed(d time.Duration) string {
	if d < 0 {
		return "-" + ms2(-d)
	}
	return "+" + ms2(d)
}
