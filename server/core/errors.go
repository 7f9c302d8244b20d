// Package core holds tokenjar's rules: credit buckets, deduction order, the ledger, debt,
// refunds, delegation billing, the scheduled jobs, and the accounts that use them. It talks
// to the database through package db and knows nothing of HTTP.
package core

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP statuses by the server's one error handler.
const (
	EINVALID      = "invalid"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ETOOLARGE     = "too_large"
	ERATELIMITED  = "rate_limited"
	EINTERNAL     = "internal"
)

// Error is an error meant for the client: a code, a sentence, and the field at fault.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Errorf returns a coded error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error naming the field at fault.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...), Field: field}
}

// ErrorCode returns the code of a coded error, or EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
