package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The short way must give what encoding/json gives, member by member, or step aside.
func TestObjectFieldsIsTheMapDecode(t *testing.T) {
	bodies := []string{
		`{}`,
		` { } `,
		"{\n\t\"model\" : \"gpt-4o\" ,\r\n \"inputTokens\":12 }\n",
		`{"description":"Said \"hi\" and \\ left","model":"gpt-4o"}`,
		`{"description":"caf\u00e9 \ud83d\ude00 naïve","x":"\u0000"}`,
		`{"model":"a","model":"b"}`,
		`{"modelParameters":{"stop":["}","]","\"{"],"n":{"deep":[1,2,{"x":"y"}]}},"z":1}`,
		`{"totalCost":-1.5e-7,"credits":0,"chargeUser":false,"timestamp":null,"processingTimeMs":true}`,
		`{"a\u0062c":1,"abc":2}`,
		`{"k\"ey":"v"}`,
		`{"e":[],"o":{},"s":""}`,
		"{\"bad\":\"\xff\xfe\",\"ok\":\"fine\"}",
		`{"trailing":1,}`,
		`{"a":1} {"b":2}`,
		`{"a":1`,
		`[1,2]`,
		`null`,
		`"text"`,
		``,
		`{"a":tru}`,
		`{"a":01}`,
	}
	shortWays := 0
	for _, body := range bodies {
		got, ok := objectFields([]byte(body))
		var want map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader([]byte(body)))
		err := dec.Decode(&want)
		valid := err == nil && want != nil && !dec.More()
		if !ok {
			continue // the long way decodes it, and answers with its error if any
		}
		shortWays++
		if !valid {
			t.Errorf("%q: the short way accepted a body encoding/json refuses (%v)", body, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n short way %q\n encoding/json %q", body, got, want)
		}
	}
	if shortWays < 10 {
		t.Fatalf("only %d bodies took the short way: it is not in use", shortWays)
	}
	bench := []byte(`{"aiAgentId":"homework-helper","userEmail":"member042@example.org","description":"Explained long division","modelParameters":{"temperature":0.7},"idempotencyKey":"wrk-1-2"}`)
	if _, ok := objectFields(bench); !ok {
		t.Fatal("the shape bench/ingest.lua sends did not take the short way")
	}
}

func TestDecodeStringIsUnmarshal(t *testing.T) {
	values := []string{
		`"plain"`, `""`, `"  spaced  "`, `"caf\u00e9"`, `"café"`, `"tab\there"`, `"quote\"d"`,
		`"back\\slash"`, `"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\"", "\"ok\xc3\xa9\"", `12`, `null`,
		`true`, `{"a":1}`, `["x"]`, `"a/b"`, `"\/"`,
	}
	for _, v := range values {
		var got, want string
		gerr := decodeString([]byte(v), &got)
		werr := json.Unmarshal([]byte(v), &want)
		if (gerr == nil) != (werr == nil) || got != want {
			t.Errorf("%s: short way %q (err %v), encoding/json %q (err %v)", v, got, gerr, want, werr)
		}
	}
	if _, ok := plainString([]byte(`"Explained long division step by step"`)); !ok {
		t.Fatal("a plain string did not take the short way")
	}
}
