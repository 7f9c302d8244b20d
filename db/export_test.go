package db

import (
	"testing"
	"time"
)

// BenchmarkCSVLineFinish is Go's part of an exported CSV line: a raw row as SQLite's concat_ws()
// makes it, finished into the export's line.
func BenchmarkCSVLineFinish(b *testing.B) {
	w := csvWalk{cells: csvCells{member: map[int64][]byte{2: []byte(`"Ada Lovelace","member002@example.org"`)}, app: map[int64][]byte{6: []byte(`"photo-studio"`)}}}
	// 14 integer cells (the request's credits last), the metering cell (empty: a reported event), the texts.
	raw := "9876543\x1f1763884800123\x1f2\x1f6\x1f1200\x1f340\x1f1540\x1f2100\x1f\x1f384\x1f1\x1f0\x1f\x1f384\x1f\x1fgpt-4o-mini\x1fOpenAI\x1ftext\x1ftoken_usage\x1fScale test request\x1f\x1fCourse 4\x1f0.000384"
	var line []byte
	if _, err := w.line(nil, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if line, err = w.line(line[:0], raw); err != nil {
			b.Fatal(err)
		}
	}
}

// appendStamp writes what time.RFC3339Nano writes, for any millisecond.
func TestAppendStampMatchesRFC3339Nano(t *testing.T) {
	ms := []int64{0, 1, -1, -100, 999, 1000, 1763884800120, 1763884800007, 1763884800500, -62135596800000, 253402300799999, 253402300800000}
	for i := int64(0); i < 2000; i++ {
		ms = append(ms, i*7919*104729*13-5_000_000_000_000)
	}
	for _, m := range ms {
		want := time.UnixMilli(m).UTC().Format(time.RFC3339Nano)
		if got := string(appendStamp(nil, m)); got != want {
			t.Fatalf("appendStamp(%d) = %s, want %s", m, got, want)
		}
	}
}

// appendMicroUSD writes what MicroUSD.String writes (core/prices.go): the fraction's trailing
// zeros dropped.
func TestAppendMicroUSD(t *testing.T) {
	for m, want := range map[int64]string{0: "0", 1: "0.000001", 2_500_000: "2.5", 75_000: "0.075", 3_000_000: "3",
		15_000_010: "15.00001", 123_456_789: "123.456789"} {
		if got := string(appendMicroUSD(nil, m)); got != want {
			t.Errorf("appendMicroUSD(%d) = %s, want %s", m, got, want)
		}
	}
}

// appendCredits writes millicredits as the API does, the fraction's trailing zeros dropped.
func TestAppendCredits(t *testing.T) {
	for mc, want := range map[int64]string{0: "0", 1: "0.001", 12_300: "12.3", 5_000: "5", -940_500: "-940.5",
		-7: "-0.007", 123_456: "123.456"} {
		if got := string(appendCredits(nil, mc)); got != want {
			t.Errorf("appendCredits(%d) = %s, want %s", mc, got, want)
		}
	}
}
