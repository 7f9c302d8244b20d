package server

import (
	"strings"
	"testing"
)

type importReply struct {
	Items []struct {
		Member struct {
			ID    int64
			Email string
			Name  string
		}
		Code      string
		InviteURL string
	}
}

// TestClassImportGivesEveryStudentAWayIn proves each imported student can sign in: one with
// an email gets an invitation link that sets the password of the member the import made (no
// second member, works once), one without gets a sign-in code; with codes for everyone, a
// student with an email gets both.
func TestClassImportGivesEveryStudentAWayIn(t *testing.T) {
	ts := newTestServer(t)
	var r importReply
	ts.do("POST", "/api/v1/members/import", ts.owner, map[string]any{"csv": "name,email,group\nAda Lovelace,ada@example.org,7B\nAlan Turing,,7B\n"}, 201, &r)
	if len(r.Items) != 2 {
		t.Fatalf("imported %d", len(r.Items))
	}
	ada, alan := r.Items[0], r.Items[1]
	if ada.InviteURL == "" || ada.Code != "" || !strings.HasPrefix(ada.InviteURL, ts.url+"/invite/") {
		t.Fatalf("Ada (with an email) should get an invitation link only: %+v", ada)
	}
	if alan.Code == "" || alan.InviteURL != "" {
		t.Fatalf("Alan (no email) should get a sign-in code only: %+v", alan)
	}
	token := strings.TrimPrefix(ada.InviteURL, ts.url+"/invite/")
	// The invitations page lists invitations that create members, not the import's links.
	var invites struct{ Items []struct{ Email string } }
	ts.do("GET", "/api/v1/invites", ts.owner, nil, 200, &invites)
	if len(invites.Items) != 0 {
		t.Fatalf("the import's links are listed as invitations: %+v", invites.Items)
	}
	var pub struct{ Email string }
	ts.do("GET", "/api/v1/invites/"+token, "", nil, 200, &pub)
	if pub.Email != "ada@example.org" {
		t.Fatalf("the invitation names %q", pub.Email)
	}
	// A bad password writes nothing and leaves the link usable.
	status, b := ts.send(httpClient, "POST", "/api/v1/invites/"+token+"/accept", "", map[string]any{"email": "ada@example.org", "password": "short"}, nil)
	if status != 400 || !strings.Contains(string(b), `"field":"password"`) {
		t.Fatalf("short password: %d %s", status, b)
	}
	var acc struct{ User struct{ ID int64 } }
	ts.do("POST", "/api/v1/invites/"+token+"/accept", "", map[string]any{"email": "ada@example.org", "password": "ada-password"}, 201, &acc)
	if acc.User.ID != ada.Member.ID {
		t.Fatalf("accepting signed in member %d, want the imported Ada %d", acc.User.ID, ada.Member.ID)
	}
	status, b = ts.send(httpClient, "POST", "/api/v1/auth/login", "", map[string]any{"email": "ada@example.org", "password": "ada-password"}, nil)
	if status != 200 {
		t.Fatalf("Ada cannot sign in with the password she chose: %d %s", status, b)
	}
	if status, _ := ts.send(httpClient, "POST", "/api/v1/invites/"+token+"/accept", "", map[string]any{"email": "ada@example.org", "password": "other-password"}, nil); status != 404 {
		t.Fatalf("the link worked twice: %d", status)
	}
	var list struct{ Items []struct{ Email string } }
	ts.do("GET", "/api/v1/members", ts.owner, nil, 200, &list)
	if len(list.Items) != 3 { // the owner, Ada, Alan
		t.Fatalf("accepting made a new member: %d members", len(list.Items))
	}
	status, b = ts.send(httpClient, "POST", "/api/v1/auth/code", "", map[string]any{"code": alan.Code}, nil)
	if status != 200 {
		t.Fatalf("Alan's code: %d %s", status, b)
	}

	ts.do("POST", "/api/v1/members/import", ts.owner, map[string]any{"csv": "name,email\nGrace Hopper,grace@example.org\n", "codes": true}, 201, &r)
	if g := r.Items[0]; g.Code == "" || g.InviteURL == "" {
		t.Fatalf("with codes for everyone, Grace should get a code and a link: %+v", g)
	}
}
