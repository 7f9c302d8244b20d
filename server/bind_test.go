package server

import (
	"context"
	"encoding/json"
	"testing"
)

// A value of the wrong type is named by the key the client sent, not by the Go field it
// landed in, and nothing is written.
func TestWrongTypesAreNamedAsSent(t *testing.T) {
	ts := newTestServer(t)
	kID, _ := ts.member("kid@example.org")
	rows := func() int64 {
		var n int64
		q := "SELECT (SELECT count(*) FROM delegations) + (SELECT count(*) FROM buckets) + (SELECT count(*) FROM tokens)"
		if err := ts.db.Read().QueryRowForTest(context.Background(), q, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rows()
	cases := []struct {
		path  string
		body  string
		field string
	}{
		{"/api/v1/delegations", `{"granteeId":"x","credits":1,"period":"once"}`, "granteeId"},
		{"/api/v1/delegations", `{"granteeId":2,"credits":"abc","period":"once"}`, "credits"},
		{"/api/v1/delegations/bulk", `{"granteeIds":5,"credits":1,"period":"once"}`, "granteeIds"},
		{"/api/v1/members/" + itoa(kID) + "/grants", `{"kind":"addon","credits":"abc"}`, "credits"},
		{"/api/v1/members/" + itoa(kID) + "/grants", `{"kind":7,"credits":1}`, "kind"},
		{"/api/v1/tokens", `{"name":["t"]}`, "name"},
	}
	for _, c := range cases {
		status, b := ts.send(httpClient, "POST", c.path, ts.owner, c.body, nil)
		var e struct {
			Error struct{ Field, Message string }
		}
		json.Unmarshal(b, &e)
		if status != 400 || e.Error.Field != c.field {
			t.Errorf("POST %s %s: %d %s; want 400 naming %s", c.path, c.body, status, b, c.field)
		}
	}
	if n := rows(); n != before {
		t.Fatalf("refused bodies wrote %d rows", n-before)
	}
}
