package server

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Serve serves on ln until Shutdown. Unlike fasthttp's own loop, which returns (and so ended
// `tokenjar serve` with exit code 1) when accept fails, it keeps serving: when the process is
// out of file descriptors it waits and tries again.
func (s *Server) Serve(ln net.Listener) error {
	return s.app.Listener(&keepAccepting{Listener: ln, log: s.log})
}

// Listen serves on addr until Shutdown.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Accept backs off between failed accepts from acceptMinWait, doubling to acceptMaxWait.
const (
	acceptMinWait = 5 * time.Millisecond
	acceptMaxWait = time.Second
)

// keepAccepting is a listener whose Accept fails only when the listener is closed. Any other
// failure (EMFILE, ENFILE, ENOBUFS, a connection reset before it was accepted) is waited out:
// the connections being served close (idle ones after IdleTimeout, slow ones after
// ReadTimeout) and free descriptors. At the limit accept fails and succeeds by turns, so it
// logs the first failure and then at most one line a minute, with the count since.
type keepAccepting struct {
	net.Listener
	log    *slog.Logger
	mu     sync.Mutex
	failed int       // accepts failed since the last log line
	logged time.Time // when the last line was logged
}

// acceptLogEvery is the least time between two log lines about failing accepts.
const acceptLogEvery = time.Minute

func (l *keepAccepting) Accept() (net.Conn, error) {
	wait := acceptMinWait
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		l.mu.Lock()
		l.failed++
		if l.logged.IsZero() || time.Since(l.logged) >= acceptLogEvery {
			l.log.Warn("cannot accept connections; waiting for some to close", "err", err, "failed", l.failed)
			l.logged, l.failed = time.Now(), 0
		}
		l.mu.Unlock()
		time.Sleep(wait)
		wait = min(2*wait, acceptMaxWait)
	}
}
