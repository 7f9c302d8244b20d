// Package core holds tokenjar's rules: credit buckets, deduction order, the ledger, debt,
// refunds, delegation billing, the scheduled jobs, and the accounts that use them. It talks
// to the database through package db and knows nothing of HTTP.
package core

import (
	"errors"
	"fmt"

	"tokenjar/db"
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
	// EDISKFULL: a write failed because the disk holding the data folder is full. Nothing of it
	// was stored; the same request succeeds once there is room again.
	EDISKFULL = "disk_full"
	// ESTORAGE: writing the database files failed; the write was not acknowledged (if only the
	// fsync failed, SQLite may still find it in the log at the next start).
	ESTORAGE = "storage_unavailable"
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

// storageFailure turns a write that failed on the disk into a coded error that says so, or
// returns nil when err is something else.
func storageFailure(err error) *Error {
	switch {
	case errors.Is(err, db.ErrWritesStopped):
		return Errorf(ESTORAGE, "tokenjar could not make a write durable on its disk, so it stopped saving anything to protect what it has. Check the server's disk and restart tokenjar; then send unconfirmed writes again (with the same idempotencyKey, nothing is counted twice)")
	case errors.Is(err, db.ErrDiskFull):
		return Errorf(EDISKFULL, "tokenjar's disk is full, so nothing was saved. Free some space on the server; writes resume by themselves")
	case errors.Is(err, db.ErrStorage):
		return Errorf(ESTORAGE, "tokenjar could not confirm that your write reached its disk. Send it again later (with the same idempotencyKey, it is never counted twice), and check the server's disk")
	}
	return nil
}

// ErrorCode returns the code of a coded error, or EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if se := storageFailure(err); se != nil {
		return se.Code
	}
	return EINTERNAL
}

// AsError returns err's coded error: the one it carries, one that says a write failed on the
// disk, or nil for an internal error whose text is not for the client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return storageFailure(err)
}
