package providers

import (
	"errors"
	"fmt"
	"time"
)

// TimeoutError is a provider that sent no byte within the timeout: before its reply began (nothing is
// charged; the handler answers 504) or, mid-stream, for as long again between two reads.
type TimeoutError struct {
	Provider  string
	After     time.Duration
	MidStream bool
}

func (e *TimeoutError) Error() string {
	where := "before replying"
	if e.MidStream {
		where = "mid-stream"
	}
	return fmt.Sprintf("provider %s sent nothing for %s %s", e.Provider, e.After, where)
}

// UnreachableError is a provider that could not be reached (refused, DNS, TLS, reset before a reply):
// the handler answers 502 and charges nothing. Err is for the log only; it never holds the key.
type UnreachableError struct {
	Provider string
	Err      error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("provider %s could not be reached: %v", e.Provider, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// IsTimeout reports whether err is (or wraps) a TimeoutError.
func IsTimeout(err error) bool {
	var te *TimeoutError
	return errors.As(err, &te)
}
