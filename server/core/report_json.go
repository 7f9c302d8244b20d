package core

import (
	"encoding/json"
	"unicode/utf8"
)

// The ingest handler decodes every report, so the common shape takes a shorter way than
// encoding/json's reflection: a decode into map[string]json.RawMessage and a json.Unmarshal per
// string field were about half of ParseUsageReport's 13.6 us. Each shortcut gives exactly what
// encoding/json gives, and anything it does not handle simply goes the long way
// (report_json_test.go compares the two on valid and invalid bodies).

// objectFields splits a JSON object into its members' raw values, like decoding it into a
// map[string]json.RawMessage (a repeated key keeps its last value). ok is false when the body is
// not valid JSON or a key holds an escape: the caller then decodes it the long way, which also
// gives the error.
func objectFields(body []byte) (fields map[string]json.RawMessage, ok bool) {
	if !json.Valid(body) {
		return nil, false
	}
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	fields = make(map[string]json.RawMessage, 24)
	i = skipSpace(body, i+1)
	if body[i] == '}' {
		return fields, true
	}
	for {
		// body is valid JSON, so a key string follows, then a colon, a value, and , or }.
		end := i + 1
		for body[end] != '"' {
			if body[end] == '\\' {
				return nil, false
			}
			end++
		}
		key := string(body[i+1 : end])
		i = skipSpace(body, end+1) + 1 // past the colon
		i = skipSpace(body, i)
		vend := valueEnd(body, i)
		fields[key] = json.RawMessage(body[i:vend])
		i = skipSpace(body, vend)
		if body[i] == '}' {
			return fields, true
		}
		i = skipSpace(body, i+1) // past the comma
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns where the valid JSON value starting at b[i] ends.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

// stringEnd returns the index just past the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// plainString returns the text of a JSON string without escapes, control characters or
// invalid UTF-8, which encoding/json would decode to the same bytes; ok is false otherwise.
func plainString(v []byte) (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c < 0x20 || c == '\\' || c == '"' {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// decodeString is json.Unmarshal into a string, the short way when it can.
func decodeString(v []byte, s *string) error {
	if p, ok := plainString(v); ok {
		*s = p
		return nil
	}
	return json.Unmarshal(v, s)
}
