package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Event is one server-sent event as it came: Raw is its bytes including the blank line that ends it, to
// pass on unchanged; Name is its "event:" field and Data its "data:" lines joined by "\n".
type Event struct {
	Raw  []byte
	Name string
	Data []byte
}

// MaxEventBytes bounds one event, so a broken upstream cannot make the gateway buffer without end
// (a streamed image's partial is a few MB of base64).
const MaxEventBytes = 32 << 20

// ErrEventTooLarge is returned when one event exceeds MaxEventBytes.
var ErrEventTooLarge = errors.New("wire: stream event too large")

// SSEReader reads events one at a time from a stream, holding only the event being read.
type SSEReader struct {
	br  *bufio.Reader
	buf []byte
}

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader { return &SSEReader{br: bufio.NewReaderSize(r, 16<<10)} }

// Next returns the next event. At the end of the stream it returns io.EOF. A stream that ends after
// whole lines but without the blank line closing its last event still yields that event; one cut
// inside a line yields the partial event with io.ErrUnexpectedEOF (its bytes may still be passed on).
// Any other error is the upstream's read error. The returned Raw and Data are valid until the next call.
func (s *SSEReader) Next() (Event, error) {
	s.buf = s.buf[:0]
	var ev Event
	var data [][]byte
	for {
		line, err := s.br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) { // a long line: keep reading it
			s.buf = append(s.buf, line...)
			if len(s.buf) > MaxEventBytes {
				return Event{}, ErrEventTooLarge
			}
			line, err = s.br.ReadSlice('\n')
		}
		start := len(s.buf)
		s.buf = append(s.buf, line...)
		if len(s.buf) > MaxEventBytes {
			return Event{}, ErrEventTooLarge
		}
		if err != nil {
			if len(s.buf) == 0 && errors.Is(err, io.EOF) {
				return Event{}, io.EOF
			}
			if errors.Is(err, io.EOF) && len(data) == 0 && ev.Name == "" && len(bytes.TrimSpace(s.buf)) == 0 {
				return Event{}, io.EOF // only blank space after the last event
			}
			// Bytes after the last "\n" are a line cut short. Without any, the stream ended after
			// whole lines, only without the closing blank line: the event stands, and the next call
			// sees EOF.
			if errors.Is(err, io.EOF) && s.buf[len(s.buf)-1] != '\n' {
				err = io.ErrUnexpectedEOF
			} else if errors.Is(err, io.EOF) {
				err = nil
			}
			ev.Raw = s.buf
			return ev.finish(data), err
		}
		content := bytes.TrimRight(s.buf[lineStart(s.buf, start):], "\r\n")
		if len(content) == 0 {
			if len(s.buf) == len(line) && len(data) == 0 && ev.Name == "" {
				s.buf = s.buf[:0] // a stray blank line between events: skip it
				continue
			}
			ev.Raw = s.buf
			return ev.finish(data), nil
		}
		field, value := splitField(content)
		ev.Name, data = applyField(ev.Name, data, field, value)
	}
}

func applyField(name string, data [][]byte, field string, value []byte) (string, [][]byte) {
	switch field {
	case "event":
		name = string(value)
	case "data":
		data = append(data, value)
	}
	return name, data
}

// lineStart finds where the last line in buf begins when a long line was read in several pieces.
func lineStart(buf []byte, start int) int {
	return bytes.LastIndexByte(buf[:start], '\n') + 1
}

func splitField(line []byte) (string, []byte) {
	name, value, found := bytes.Cut(line, []byte(":"))
	if !found {
		return string(line), nil
	}
	return string(name), bytes.TrimPrefix(value, []byte(" "))
}

func (ev Event) finish(data [][]byte) Event {
	ev.Data = bytes.Join(data, []byte("\n"))
	return ev
}
