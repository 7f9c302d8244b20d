package server

import (
	"sync"
	"testing"

	"tokenjar/db"
	"tokenjar/db/dbtest"
)

// Proves: 100 parallel sign-ins at one account from one address, spread over two replicas on one
// database (alternately, no sticky sessions), have at most 5 evaluated (answered other than 429)
// between them, and the right password is then refused with 429 by both: the throttle's count
// is in the database, not in each replica's memory. On SQLite one server owns the file, so both
// "replicas" are that one server and this is TestParallelGuessesOverHTTP again.
// Does not prove: which replica evaluated which guess, nor anything about replicas in other
// processes (the core throttle does not know one from the other).
func TestParallelGuessesOverTwoReplicas(t *testing.T) {
	a := newTestServer(t)
	b := a
	if dbtest.Engine() == db.Postgres {
		b = a.replica(Config{})
	}
	replicas := []*testServer{a, b}
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	for i := 0; i < 99; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := replicas[i%2].send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "wrong-password"}, nil)
			mu.Lock()
			answers[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if evaluated := 99 - answers[429]; evaluated > 5 {
		t.Errorf("%d of 99 parallel wrong guesses over two replicas evaluated (answers %v), want at most 5", evaluated, answers)
	}
	if answers[401]+answers[429] != 99 {
		t.Errorf("answers %v: want only 401 and 429", answers)
	}
	for _, ts := range replicas {
		ts.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "owner@example.org", "password": "password123"}, 429, nil)
	}
}
