package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestSplitChargeGoesLiveToEveryGranterWhoPaid: a report paid by two allowances of two granters
// reaches both granters' live streams at once, each with their own allowance and part (as their
// granted log shows it), and the member's with the whole charge; a member who paid nothing gets
// nothing.
func TestSplitChargeGoesLiveToEveryGranterWhoPaid(t *testing.T) {
	ts := newTestServer(t)
	f := twoGranters(ts)
	parent, teacher, stranger, kid, fromParent, fromTeacher := f.parent, f.teacher, f.stranger, f.kid, f.fromParent, f.fromTeacher

	streams := map[string]*liveStream{}
	for name, token := range map[string]string{"parent": parent, "teacher": teacher, "kid": kid, "stranger": stranger} {
		streams[name] = openStream(t, ts, http.DefaultClient, token)
	}
	var split struct{ ID int64 }
	ts.do("POST", "/api/v1/usage", kid, map[string]any{"description": "essay", "credits": 25, "project": "Essay"}, 201, &split)

	for _, w := range []struct {
		name, source, part string
	}{
		{"parent", itoa(fromParent.ID), "10"},
		{"teacher", itoa(fromTeacher.ID), "15"},
		{"kid", itoa(fromParent.ID), "10"}, // the member's own view: the first source, and its part
	} {
		ls := streams[w.name]
		t.Logf("waiting for %s's live event", w.name)
		ls.waitFor(split.ID)
		ls.mu.Lock()
		data := ls.raw[split.ID]
		ls.mu.Unlock()
		var it grantedEvent
		if err := json.Unmarshal([]byte(data), &it); err != nil {
			t.Fatalf("%s's live event: %v in %s", w.name, err, data)
		}
		if it.BillingSource != w.source || it.DelegationCredits.String() != w.part || it.Credits.String() != "25" {
			t.Fatalf("%s's live event is billed to %s with part %s of %s; want allowance %s, part %s of 25",
				w.name, it.BillingSource, it.DelegationCredits, it.Credits, w.source, w.part)
		}
	}
	// What the teacher saw live is what the teacher's granted log shows after a reload.
	var page struct{ Items []grantedEvent }
	ts.do("GET", "/api/v1/granted/usage", teacher, nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].BillingSource != itoa(fromTeacher.ID) || page.Items[0].DelegationCredits.String() != "15" {
		t.Fatalf("the teacher's granted log: %+v", page.Items)
	}
	time.Sleep(100 * time.Millisecond)
	if got := streams["stranger"].ids(); slices.Contains(got, split.ID) {
		t.Fatalf("a member who paid nothing got the event live: %v", got)
	}
}
