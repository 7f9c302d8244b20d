package core

import (
	"strconv"
	"strings"
	"testing"

	"tokenjar/db"
)

// Proves: a credential end survives the trip through a notice's text, empty texts included, and
// a garbled one is refused rather than read as something else.
func TestCredentialEndNoticeRoundTrip(t *testing.T) {
	for _, e := range []credentialEnd{
		{userID: 7, tokenID: 3},
		{userID: 7, session: "ab12", allSessions: false},
		{userID: 9, allSessions: true, keepSession: "cd34", allTokens: true},
	} {
		got, ok := parseCredentialEnd(e.String())
		if !ok || got != e {
			t.Errorf("%+v came back as %+v (%v)", e, got, ok)
		}
	}
	for _, bad := range []string{"", "7 3", "x 0 - false - false", "0 0 - false - false"} {
		if _, ok := parseCredentialEnd(bad); ok {
			t.Errorf("%q was read as a credential end", bad)
		}
	}
}

// Proves: usage notices are split so none passes PostgreSQL's payload limit, every entry is
// sent exactly once with the sender's origin in front, and an entry reads back with its granters.
func TestUsageNoticesAreSplitUnderTheLimit(t *testing.T) {
	var entries []string
	for i := 1; i <= 3000; i++ {
		entries = append(entries, "e"+strconv.Itoa(1_000_000+i)+".42:5.9."+strconv.Itoa(i)+"/6.10.1")
	}
	notices := packNotices("0123456789abcdef", entries, db.MaxNotifyPayload)
	if len(notices) < 2 {
		t.Fatalf("%d notices for %d entries", len(notices), len(entries))
	}
	seen := 0
	for _, n := range notices {
		if len(n) > db.MaxNotifyPayload {
			t.Fatalf("a notice of %d bytes", len(n))
		}
		origin, rest, _ := strings.Cut(n, " ")
		if origin != "0123456789abcdef" {
			t.Fatalf("origin %q", origin)
		}
		for _, f := range strings.Fields(rest) {
			if f != entries[seen] {
				t.Fatalf("entry %d is %q, want %q", seen, f, entries[seen])
			}
			seen++
		}
	}
	if seen != len(entries) {
		t.Fatalf("%d entries sent, want %d", seen, len(entries))
	}
	u, ok := parseUsageEntry(strings.TrimPrefix(entries[0], "e"))
	want := []granterPart{{userID: 5, delegationID: 9, credits: 1}, {userID: 6, delegationID: 10, credits: 1}}
	if !ok || u.id != 1_000_001 || u.userID != 42 || len(u.granters) != 2 || u.granters[0] != want[0] || u.granters[1] != want[1] {
		t.Fatalf("parsed %+v (%v)", u, ok)
	}
}
