package core

import (
	"encoding/json"
	"testing"
)

func TestCreditsJSON(t *testing.T) {
	cases := map[Credits]string{0: "0", 1: "0.001", 12345: "12.345", 12300: "12.3", -1500: "-1.5", 1000: "1", -1: "-0.001"}
	for in, want := range cases {
		b, err := json.Marshal(in)
		if err != nil || string(b) != want {
			t.Errorf("%d → %s (%v), want %s", int64(in), b, err, want)
		}
	}
}

func TestCostToCreditsRoundsHalfUpExactly(t *testing.T) {
	cases := []struct {
		cost string
		per  int64
		want Credits
		ok   bool
	}{
		{"0.0123", 1_000_000, 12300, true},
		{"0.0000005", 1_000_000, 1, true},    // 0.5 millicredit rounds up
		{"0.0000004999", 1_000_000, 0, true}, // just under half rounds down
		{"0.1", 1_000_000, 100000, true},
		{"1e-3", 1_000_000, 1000, true},
		{"2E2", 1_000_000, 200_000_000, true},
		{"3", 1_234_500, 3_703_500, true},
		{"-1", 1_000_000, 0, false},
		{"1.", 1_000_000, 0, false},
		{"abc", 1_000_000, 0, false},
		{"99999999999999999999", 1_000_000, 0, false},
	}
	for _, c := range cases {
		got, ok := costToCredits(c.cost, c.per)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("costToCredits(%s, %d) = %d, %v; want %d, %v", c.cost, c.per, got, ok, c.want, c.ok)
		}
	}
}

func TestParseCredits(t *testing.T) {
	for in, want := range map[string]Credits{"12.345": 12345, "7": 7000, "5.0010": 5001, "1e-3": 1, "2E2": 200_000, "0.5e1": 5000} {
		got, ok := ParseCredits(in)
		if !ok || got != want {
			t.Errorf("ParseCredits(%s) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if got, ok := ParseCredits("1000000000"); !ok || got != MaxAmount {
		t.Errorf("a billion credits: %d, %v", got, ok)
	}
	for _, in := range []string{"1000000000.001", "1e15", "9223372036854775807"} {
		if got, ok := ParseCredits(in); ok {
			t.Errorf("ParseCredits(%s) = %d: past MaxAmount, want refused", in, got)
		}
	}
}

// TestParseCreditsRefusesFinerThanAMillicredit proves an amount with more precision than a
// millicredit is refused instead of rounded (5.0001 used to become 5). It does not cover
// totalCost, which is USD and is rounded half up to the millicredit by design (SPEC 3).
func TestParseCreditsRefusesFinerThanAMillicredit(t *testing.T) {
	for _, in := range []string{"5.0001", "0.0005", "0.0004", "1.23456", "1e-4", "0.00001e1"} {
		if got, ok := ParseCredits(in); ok {
			t.Errorf("ParseCredits(%s) = %d, want refused: it has more than 3 decimals", in, got)
		}
	}
}
