package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// readmeCurlExample is the first sh block of README.md's "Reporting usage" section, as a reader copies it.
func readmeCurlExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## Reporting usage\n")
	if i < 0 {
		t.Fatal(`README.md has no "## Reporting usage" section`)
	}
	text = text[i:]
	start := strings.Index(text, "```sh\n")
	if start < 0 {
		t.Fatal("README.md's Reporting usage section has no sh block")
	}
	text = text[start+len("```sh\n"):]
	return text[:strings.Index(text, "```")]
}

// TestReadmeCurlExampleWorksOnAFreshInstance runs README.md's curl example, as written, against a
// fresh instance right after its first-run setup, with only the reader's token and this server's
// address put in. Run twice, it reports twice: each run makes its own idempotency key.
func TestReadmeCurlExampleWorksOnAFreshInstance(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "od", "tr"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
	example := readmeCurlExample(t)
	const tokenLine, address = "TOKEN=tj_pat_...", "http://127.0.0.1:8420"
	if !strings.Contains(example, tokenLine) || !strings.Contains(example, address) {
		t.Fatalf("the README example no longer has %q and %q for this test to fill in:\n%s", tokenLine, address, example)
	}
	ts := newBareTestServer(t, Config{})
	var setup struct{ Token string }
	ts.do("POST", "/api/v1/setup", "", map[string]any{"email": "me@example.org", "name": "Me", "password": "password123"}, 201, &setup)
	script := strings.ReplaceAll(strings.Replace(example, tokenLine, "TOKEN="+setup.Token, 1), address, ts.url)

	var ids []int64
	for run := 1; run <= 2; run++ {
		out, err := exec.Command("sh", "-c", script).Output()
		if err != nil {
			t.Fatalf("run %d of the README example: %v\n%s", run, err, out)
		}
		var reply struct {
			ID             int64
			CreditsCharged json.Number
			Error          *struct{ Message string }
		}
		if err := json.Unmarshal(out, &reply); err != nil || reply.Error != nil || reply.ID == 0 {
			t.Fatalf("run %d of the README example replied %s (%v)", run, out, err)
		}
		if reply.CreditsCharged.String() != "12.3" {
			t.Fatalf("run %d charged %s, want 12.3 (totalCost 0.0123 at 1000 credits per USD)", run, reply.CreditsCharged)
		}
		ids = append(ids, reply.ID)
	}
	if ids[0] == ids[1] || ts.countEvents() != 2 {
		t.Fatalf("two runs made events %v, %d in all; want two different events", ids, ts.countEvents())
	}
}
