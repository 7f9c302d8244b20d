package db

import (
	"testing"
	"time"
)

// BenchmarkCSVLineFinish is Go's part of an exported CSV line: a raw line as SQLite's printf
// makes it, finished into the export's line.
func BenchmarkCSVLineFinish(b *testing.B) {
	cells := csvCells{member: map[int64][]byte{2: []byte(`"Ada Lovelace","member002@example.org"`)}, app: map[int64][]byte{6: []byte(`"photo-studio"`)}}
	raw := []byte(`9876543,1763884800123,2,6,"gpt-4o-mini","OpenAI","text","token_usage","Scale test request","",1200,340,1540,2100,"Course 4",,0.000384,384,1,0,`)
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		line = cells.finish(line[:0], raw)
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
