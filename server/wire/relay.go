package wire

import (
	"errors"
	"io"
)

// RelayResult says how a relayed stream ended.
type RelayResult struct {
	// ClientGone is true when writing to the client failed; reading went on for the usage.
	ClientGone bool
	// UpstreamErr is the upstream's read error (nil at a clean end of stream). A stream cut inside an
	// event is io.ErrUnexpectedEOF; a stream that ended without its end marker is visible through
	// the meter's Complete.
	UpstreamErr error
	// Events is how many events were read.
	Events int
}

// Relay passes a stream from src to the client event by event as each arrives, flushing after each,
// while m meters it. When the client goes away it calls onClientGone (if set) once and keeps reading
// without writing, so the provider's usage can still be read; the caller bounds that reading by
// cancelling the upstream request (SPEC: at most 30 s). flush may be nil.
func Relay(dst io.Writer, flush func() error, src io.Reader, m *StreamMeter, onClientGone func()) RelayResult {
	var res RelayResult
	r := NewSSEReader(src)
	for {
		ev, err := r.Next()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			if !errors.Is(err, io.EOF) {
				res.UpstreamErr = err
			}
			return res
		}
		res.Events++
		forward := m.Observe(ev)
		if forward && !res.ClientGone {
			if werr := write(dst, flush, ev.Raw); werr != nil {
				res.ClientGone = true
				if onClientGone != nil {
					onClientGone()
				}
			}
		}
		if err != nil {
			res.UpstreamErr = err
			return res
		}
	}
}

func write(dst io.Writer, flush func() error, b []byte) error {
	if _, err := dst.Write(b); err != nil {
		return err
	}
	if flush != nil {
		return flush()
	}
	return nil
}
