package server

import (
	"bytes"
	"encoding/json"
	"errors"
)

// jsonNumber is a JSON number as the client wrote it. Unlike json.Number, which also takes a
// string holding a number ("5"), it takes only a JSON number: credits are numbers in the API
// (SPEC 8), and a client that quotes them has a bug it should hear about.
type jsonNumber string

var errNotNumber = errors.New("not a JSON number")

func (n *jsonNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil // as for json.Number: absent
	}
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return errNotNumber
	}
	var v json.Number
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = jsonNumber(v)
	return nil
}
