package providers

import (
	"context"
	"io"
	"sync"
	"time"
)

// watchdog cancels a request when the provider is silent for longer than its timeout: first until the
// reply's headers arrive, then between two reads of the body. fired says the cancel was its doing.
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

// kick restarts the silence clock after a sign of life.
func (w *watchdog) kick() {
	if w.timer != nil {
		w.timer.Reset(w.d)
	}
}

func (w *watchdog) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// body is a reply body whose reads keep the watchdog quiet; a read cut by the watchdog returns a
// TimeoutError. Close releases the request's context.
type body struct {
	rc       io.ReadCloser
	w        *watchdog
	cancel   context.CancelFunc
	provider string
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.kick()
	}
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
