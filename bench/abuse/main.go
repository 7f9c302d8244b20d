// Command abuse measures how tokenjar holds up against the abuse scenarios of issue 18. It starts
// a tokenjar binary on a fresh data folder at a free 127.0.0.1 port, runs one scenario, prints
// the figures, and stops the server. Every scenario is bounded in connections and in time, and
// all traffic stays on 127.0.0.1.
//
//	go build -o /tmp/tokenjar . && go run ./bench/abuse -bin /tmp/tokenjar -scenario slowbody
//
// Scenarios:
//
//	slowbody  -conns connections (default 200) each declare a -declared body (4 MB) to -path
//	          (POST /api/v1/usage) without signing in, send -prefill bytes of it at once and then
//	          trickle one byte a second for -hold; prints the server's RSS before, the highest
//	          RSS seen while they are held, and the RSS 2 s after they are closed. -chunked sends
//	          the body chunked, as one chunk that declares -declared bytes.
//	idle      opens a connection and sends nothing; prints the seconds until the server closes
//	          it (gives up after -hold). Then the same for a connection that sends a header
//	          byte a second, and for a kept-alive connection after one request.
//	login     100 parallel sign-ins at one account, 99 wrong passwords and the right one;
//	          prints how many were evaluated (answers other than 429) and whether the right
//	          one signed in. Then the mean time of 20 sign-ins with a wrong password for a
//	          known and for an unknown email.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	bin := flag.String("bin", "./tokenjar", "tokenjar binary")
	scenario := flag.String("scenario", "slowbody", "slowbody, idle or login")
	conns := flag.Int("conns", 200, "slowbody: connections")
	declared := flag.Int("declared", 4<<20, "slowbody: declared body size")
	prefill := flag.Int("prefill", -1, "slowbody: bytes sent at once (default: all but the last byte)")
	path := flag.String("path", "/api/v1/usage", "slowbody: the route")
	chunked := flag.Bool("chunked", false, "slowbody: send the body chunked")
	hold := flag.Duration("hold", 10*time.Second, "slowbody: how long the connections are held; idle: give up after")
	flag.Parse()

	srv, err := start(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "abuse:", err)
		os.Exit(1)
	}
	defer srv.stop()
	switch *scenario {
	case "slowbody":
		if *prefill < 0 {
			*prefill = *declared - 1
		}
		err = slowBody(srv, *conns, *declared, *prefill, *path, *chunked, *hold)
	case "idle":
		err = idle(srv, *hold)
	case "login":
		err = login(srv)
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "abuse:", err)
		srv.stop()
		os.Exit(1)
	}
}

type server struct {
	cmd  *exec.Cmd
	addr string
	data string
}

func start(bin string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	data, err := os.MkdirTemp("", "tokenjar-abuse-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--no-browser")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, addr: addr, data: data}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/api/v1/healthz"); err == nil {
			resp.Body.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("the server did not answer within 20 s")
}

func (s *server) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.data)
}

// rss returns the server's resident set size in MiB (VmRSS).
func (s *server) rss() float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

func slowBody(s *server, n, declared, prefill int, path string, chunked bool, hold time.Duration) error {
	before := s.rss()
	head := "POST " + path + " HTTP/1.1\r\nHost: " + s.addr + "\r\nContent-Type: application/json\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(declared), 16) + "\r\n"
	} else {
		head += "Content-Length: " + strconv.Itoa(declared) + "\r\n\r\n"
	}
	fill := bytes.Repeat([]byte{' '}, prefill)
	var mu sync.Mutex
	var cs []net.Conn
	refused, answered := 0, map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			refused++
			continue
		}
		cs = append(cs, c)
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(hold + 10*time.Second))
			c.Write([]byte(head))
			c.Write(fill) // the server may answer and close before all of it is read
		}(c)
	}
	wg.Wait()
	peak := s.rss()
	stop := time.Now().Add(hold)
	for sent := prefill; time.Now().Before(stop); sent++ {
		for _, c := range cs {
			if sent < declared-1 { // the body never completes
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				c.Write([]byte{' '})
			}
		}
		if r := s.rss(); r > peak {
			peak = r
		}
		time.Sleep(time.Second)
	}
	// What the server answered, if it did (a 413 comes before the body is read).
	for _, c := range cs {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		line, err := bufio.NewReader(c).ReadString('\n')
		status := "no answer"
		if err == nil {
			status = strings.TrimSpace(line)
		}
		mu.Lock()
		answered[status]++
		mu.Unlock()
		c.Close()
	}
	time.Sleep(2 * time.Second)
	after := s.rss()
	mode := "Content-Length"
	if chunked {
		mode = "chunked"
	}
	fmt.Printf("slow bodies: %d connections (%d refused), POST %s, %d bytes declared (%s), %d sent at once, held %s\n",
		n, refused, path, declared, mode, prefill, hold)
	fmt.Printf("  RSS before %.1f MiB, highest while held %.1f MiB (+%.1f MiB), 2 s after closing %.1f MiB\n", before, peak, peak-before, after)
	fmt.Printf("  answers: %v\n", answered)
	return nil
}

// closedAfter sends what send writes (if anything) and returns the seconds until the server
// closes the connection, or -1 if it is still open after max.
func closedAfter(addr string, max time.Duration, send func(net.Conn, time.Time) bool) float64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return -2
	}
	defer c.Close()
	t0 := time.Now()
	done := make(chan time.Duration, 1)
	go func() {
		c.SetReadDeadline(t0.Add(max))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					done <- -1
				} else {
					done <- time.Since(t0)
				}
				return
			}
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case d := <-done:
			if d < 0 {
				return -1
			}
			return d.Seconds()
		case <-tick.C:
			if send != nil && !send(c, t0) {
				send = nil
			}
		}
	}
}

func idle(s *server, max time.Duration) error {
	silent := closedAfter(s.addr, max, nil)
	fmt.Printf("idle connection (nothing sent): closed after %.1f s (-1: still open after %s)\n", silent, max)
	header := []byte("GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 4000))
	i := 0
	slow := closedAfter(s.addr, max, func(c net.Conn, _ time.Time) bool {
		if i >= len(header) {
			return false
		}
		c.Write(header[i : i+1])
		i++
		return true
	})
	fmt.Printf("slow headers (a byte a second): closed after %.1f s (-1: still open after %s)\n", slow, max)
	sent := false
	keep := closedAfter(s.addr, max, func(c net.Conn, _ time.Time) bool {
		if !sent {
			c.Write([]byte("GET /api/v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
			sent = true
		}
		return false
	})
	fmt.Printf("kept-alive connection after one request: closed %.1f s after it opened (-1: still open after %s)\n", keep, max)
	return nil
}

func post(client *http.Client, url string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, nil
}

func login(s *server) error {
	base := "http://" + s.addr + "/api/v1"
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	var setup struct{ Token string }
	st, b, err := post(client, base+"/setup", map[string]any{"email": "owner@example.org", "name": "Owner", "password": "password123"})
	if err != nil || st != 201 || json.Unmarshal(b, &setup) != nil {
		return fmt.Errorf("setup: %d %s %v", st, b, err)
	}
	req, _ := http.NewRequest("POST", base+"/members", strings.NewReader(`{"email":"kid@example.org","name":"Kid","password":"password123"}`))
	req.Header.Set("Authorization", "Bearer "+setup.Token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 201 {
		return fmt.Errorf("create member: %v", err)
	}

	// Timing first, 4 attempts each (under every throttle limit): a wrong password for a member
	// who exists and for an email nobody has.
	mean := func(email string) float64 {
		var total time.Duration
		n := 0
		for i := 0; i < 4; i++ {
			t0 := time.Now()
			st, _, err := post(client, base+"/auth/login", map[string]any{"email": email, "password": "not-the-password"})
			if err != nil || st == http.StatusTooManyRequests {
				continue
			}
			total += time.Since(t0)
			n++
		}
		if n == 0 {
			return -1
		}
		return float64(total.Microseconds()) / 1000 / float64(n)
	}
	fmt.Printf("wrong password, mean of 4: known email %.1f ms, unknown email %.1f ms\n", mean("kid@example.org"), mean("nobody@example.org"))

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	rightStatus := 0
	start := make(chan struct{})
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pw := fmt.Sprintf("wrong-%03d", i)
			if i == 50 {
				pw = "password123"
			}
			<-start
			st, _, err := post(client, base+"/auth/login", map[string]any{"email": "owner@example.org", "password": pw})
			if err != nil {
				st = -1
			}
			mu.Lock()
			statuses[st]++
			if i == 50 {
				rightStatus = st
			}
			mu.Unlock()
		}(i)
	}
	close(start)
	wg.Wait()
	evaluated := 0
	for st, n := range statuses {
		if st != http.StatusTooManyRequests {
			evaluated += n
		}
	}
	fmt.Printf("100 parallel sign-ins at one account (99 wrong, 1 right): %d evaluated (answers %v); the right password got %d\n", evaluated, statuses, rightStatus)
	return nil
}
