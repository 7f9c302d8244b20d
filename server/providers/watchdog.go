package providers

import (
	"context"
	"io"
	"sync"
	"time"
)

// watchdog cancels a request when the provider is silent for longer than its timeout: first until the
// reply's headers arrive, then within any one read of the body. fired says the cancel was its doing.
type watchdog struct {
	d      time.Duration
	cancel context.CancelFunc
	mu     sync.Mutex
	timer  *time.Timer
	fired  bool
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d, cancel: cancel}
	if d > 0 {
		w.timer = time.AfterFunc(d, w.fire)
	}
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	w.fired = true
	w.mu.Unlock()
	w.cancel()
}

func (w *watchdog) didFire() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// arm starts the silence clock anew: before each read of the body.
func (w *watchdog) arm() {
	if w.timer != nil {
		w.timer.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// body is a reply body read under the watchdog; a read cut by the watchdog returns a TimeoutError.
// Close releases the request's context.
type body struct {
	rc       io.ReadCloser
	w        *watchdog
	cancel   context.CancelFunc
	provider string
}

// Read times only the wait on the provider: the clock runs inside Read and stops when it returns, so
// a slow client (the relay blocked writing to it) never counts as a silent provider.
func (b *body) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.rc.Read(p)
	b.w.stop()
	if err != nil && err != io.EOF && b.w.didFire() {
		return n, &TimeoutError{Provider: b.provider, After: b.w.d, MidStream: true}
	}
	return n, err
}

func (b *body) Close() error {
	b.w.stop()
	err := b.rc.Close()
	b.cancel()
	return err
}
