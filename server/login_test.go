package server

import (
	"sync"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// Proves, over HTTP: of 100 parallel sign-ins at one account from one address (99 wrong
// passwords), at most 5 are evaluated (answered other than 429), and the right password sent
// after them is refused with 429. The core test TestParallelGuessesAreCountedBeforeThePasswordCheck
// holds the guesses inside the password check to prove the same for a right password sent
// while they are in flight; this one counts answers only.
func TestParallelGuessesOverHTTP(t *testing.T) {
	parallelGuesses(t, newTestServer(t))
}

// Proves: the same with the guesses spread over two replicas on one database (alternately, no
// sticky sessions): at most 5 evaluated between them, and the right password then refused by
// both. The throttle's count is in the database, not in each replica's memory. On SQLite one
// server owns the file, so both "replicas" are that one server and this is the test above again.
// Does not prove anything about replicas in other processes (the core throttle does not know
// one from the other).
func TestParallelGuessesOverTwoReplicas(t *testing.T) {
	a := newTestServer(t)
	b := a
	if dbtest.Engine() == db.Postgres {
		b = a.replica(Config{})
	}
	parallelGuesses(t, a, b)
}

// parallelGuesses sends 99 wrong passwords for the owner at once, spread over replicas in turn,
// then the right one to each replica.
func parallelGuesses(t *testing.T, replicas ...*testServer) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	for i := 0; i < 99; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := replicas[i%len(replicas)].send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "wrong-password"}, nil)
			mu.Lock()
			answers[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if evaluated := 99 - answers[429]; evaluated > 5 {
		t.Errorf("%d of 99 parallel wrong guesses over %d replicas evaluated (answers %v), want at most 5", evaluated, len(replicas), answers)
	}
	if answers[401]+answers[429] != 99 {
		t.Errorf("answers %v: want only 401 and 429", answers)
	}
	for _, ts := range replicas {
		ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "password123"}, 429, nil)
	}
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
