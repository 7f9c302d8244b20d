package server

import (
	"sync"
	"testing"
)

// Proves, over HTTP: of 100 parallel sign-ins at one account from one address (99 wrong
// passwords), at most 5 are evaluated (answered other than 429), and the right password sent
// after them is refused with 429. The core test TestParallelGuessesAreCountedBeforeThePasswordCheck
// holds the guesses inside the password check to prove the same for a right password sent
// while they are in flight; this one counts answers only.
func TestParallelGuessesOverHTTP(t *testing.T) {
	ts := newTestServer(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	for i := 0; i < 99; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := ts.send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "wrong-password"}, nil)
			mu.Lock()
			answers[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if evaluated := 99 - answers[429]; evaluated > 5 {
		t.Errorf("%d of 99 parallel wrong guesses evaluated (answers %v), want at most 5", evaluated, answers)
	}
	ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "password123"}, 429, nil)
}

// Proves: behind a trusted proxy, a guesser cannot get a fresh throttle address per guess by
// writing their own X-Forwarded-For entries: the throttle counts the entry the proxy appended.
func TestSpoofedForwardedForDoesNotEscapeTheThrottle(t *testing.T) {
	ts := newTestServerWith(t, Config{TrustProxy: true})
	for i := 0; i < 5; i++ {
		status, b := ts.send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "wrong-password"},
			map[string]string{"X-Forwarded-For": "10.9.9." + itoa(int64(i)) + ", 198.51.100.9"})
		if status != 401 {
			t.Fatalf("guess %d: %d %s", i, status, b)
		}
	}
	status, b := ts.send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "password123"},
		map[string]string{"X-Forwarded-For": "10.9.9.77, 198.51.100.9"})
	if status != 429 {
		t.Fatalf("after 5 wrong guesses from one address behind the proxy: %d %s, want 429", status, b)
	}
}
