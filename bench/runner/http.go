package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// api is a small JSON client for tokenjar's /api/v1, on loopback only.
type api struct {
	base string // http://127.0.0.1:PORT
	hc   *http.Client
}

func newAPI(base string, conns int) (*api, error) {
	if base == "" {
		return nil, fmt.Errorf("-base is required")
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("refusing %s: the benchmark sends traffic to loopback addresses only", base)
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
	}
	return &api{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 10 * time.Minute}}, nil
}

// httpError is a reply with an unexpected status.
type httpError struct {
	Status int
	Body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// call sends a request with a bearer token (or none) and decodes a JSON reply into out (numbers
// as json.Number, so money stays exact). It returns the status and the time from sending the
// request to having read the whole reply.
func (a *api) call(method, path, token string, body any, out any) (int, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+"/api/v1"+path, rd)
	if err != nil {
		return 0, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	el := time.Since(start)
	if err != nil {
		return resp.StatusCode, el, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, el, &httpError{resp.StatusCode, strings.TrimSpace(string(raw))}
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(out); err != nil {
			return resp.StatusCode, el, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, el, nil
}

// get is call("GET") with query values.
func (a *api) get(path string, q url.Values, token string, out any) (time.Duration, error) {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	_, el, err := a.call("GET", path, token, nil, out)
	return el, err
}

// commonFlags are the flags most subcommands take.
type commonFlags struct {
	base, demo, results string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.base, "base", "", "tokenjar's address (required), e.g. http://127.0.0.1:PORT")
	fs.StringVar(&c.demo, "demo", "", "the dataset's demo.json")
	fs.StringVar(&c.results, "results", "", "append result rows to this file (JSON lines)")
}

// cmdWaitReady polls a URL until it answers 200 and prints the milliseconds since -since (a
// UNIX time in nanoseconds, taken by the script just before it started the server).
func cmdWaitReady(args []string) error {
	fs := flag.NewFlagSet("waitready", flag.ExitOnError)
	u := fs.String("url", "", "URL to poll")
	since := fs.Int64("since", 0, "UNIX nanoseconds when the server was started")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	every := fs.Duration("every", time.Millisecond, "poll interval")
	fs.Parse(args)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(*u)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				start := time.Unix(0, *since)
				if *since == 0 {
					start = time.Now()
				}
				fmt.Printf("%.1f\n", float64(time.Since(start).Microseconds())/1000)
				return nil
			}
		}
		time.Sleep(*every)
	}
	return errors.New("no 200 from " + *u + " before the timeout")
}

// cmdFreePort prints a TCP port on 127.0.0.1 that nothing listens on, so that the benchmark
// never talks to a server it did not start.
func cmdFreePort(args []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
