package db

import (
	"context"
	"strings"
)

// The CSV export asks SQLite for each row as one finished CSV line. Reading a row's columns one
// by one through database/sql costs a driver call (and a lock) per column, which made a
// 33-column row cost more than everything else in the export; one text column per row does not.
// The line is one printf, so SQLite builds it in a single buffer (a chain of || concatenations
// allocated a new string for every piece).
//
// The line holds the same records as writing usage items with encoding/csv: every text cell is
// quoted (quotes doubled by %w), and one that starts with = + - @ tab or CR gets a leading
// apostrophe, so a spreadsheet does not run it as a formula. server/export_test.go checks that
// both agree.

// guard is the apostrophe put before a text cell that starts with = + - @ tab or CR.
func guard(x string) string {
	return `CASE WHEN unicode(` + x + `) IN (61, 43, 45, 64, 9, 13) THEN '''' ELSE '' END`
}

// credits writes millicredits as the API does (12.3, 0.001, 5): the format is chosen by how
// many trailing zeros the fraction has. Credits and debt are never negative.
func credits(x string) string {
	return `printf(CASE WHEN ` + x + ` % 1000 = 0 THEN '%d' WHEN ` + x + ` % 100 = 0 THEN '%d.%d' WHEN ` + x + ` % 10 = 0 THEN '%d.%02d' ELSE '%d.%03d' END, ` +
		x + ` / 1000, CASE WHEN ` + x + ` % 100 = 0 THEN ` + x + ` % 1000 / 100 WHEN ` + x + ` % 10 = 0 THEN ` + x + ` % 1000 / 10 ELSE ` + x + ` % 1000 END)`
}

// stamp writes epoch milliseconds as RFC 3339 in UTC with the fraction's trailing zeros dropped,
// as Go's time.RFC3339Nano does (also before 1970: the modulo is made non-negative).
func stamp(x string) string {
	ms := `((` + x + ` % 1000 + 1000) % 1000)`
	return `printf(CASE WHEN ` + ms + ` = 0 THEN '%sZ' WHEN ` + ms + ` % 100 = 0 THEN '%s.%dZ' WHEN ` + ms + ` % 10 = 0 THEN '%s.%02dZ' ELSE '%s.%03dZ' END, ` +
		`strftime('%Y-%m-%dT%H:%M:%S', (` + x + ` - ` + ms + `) / 1000, 'unixepoch'), ` +
		`CASE WHEN ` + ms + ` % 100 = 0 THEN ` + ms + ` / 100 WHEN ` + ms + ` % 10 = 0 THEN ` + ms + ` / 10 ELSE ` + ms + ` END)`
}

// CSVColumns are the export's columns, in order.
var CSVColumns = []string{"id", "at", "member", "memberEmail", "app", "model", "provider", "modality", "usageType",
	"description", "shortDescription", "inputTokens", "outputTokens", "totalTokens", "processingTimeMs", "project",
	"billingSource", "costUsd", "credits", "charged", "debt", "refunded"}

// csvLine is the printf that makes one row's line. A text cell is "%s%w": its guard, then the
// text with its double quotes doubled.
var csvLine = func() string {
	const q = `"%s%w"`
	var format, args []string
	add := func(f string, a ...string) {
		format = append(format, f)
		args = append(args, a...)
	}
	text := func(x string) { add(q, guard(x), x) }
	add("%d", "e.id")
	add("%s", stamp("e.at"))
	for _, x := range []string{"u.name", "u.email", "COALESCE(a.slug, '')", "e.model", "e.provider", "e.modality",
		"e.usage_type", "e.description", "e.short_description"} {
		text(x)
	}
	add("%d", "e.input_tokens")
	add("%d", "e.output_tokens")
	add("%d", "e.total_tokens")
	add("%s", "COALESCE(CAST(e.processing_time_ms AS TEXT), '')")
	text("e.project")
	add("%s", "COALESCE(CAST(e.delegation_id AS TEXT), 'personal')")
	add("%s", "COALESCE(e.cost_usd, '')")
	add("%s", credits("e.credits"))
	add("%s", "CASE WHEN e.charged THEN 'true' ELSE 'false' END")
	add("%s", credits("e.debt"))
	add("%s", "CASE WHEN e.refunded_at IS NOT NULL THEN 'true' ELSE 'false' END")
	return `printf('` + strings.Join(format, ",") + `', ` + strings.Join(args, ", ") + `)`
}()

// EachUsageCSV streams the events f matches to fn as CSV lines (without the line break).
func (c *Conn) EachUsageCSV(ctx context.Context, f UsageFilter, fn func(line []byte) error) error {
	q, args := f.queryCols(csvLine)
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var line []byte
	for rows.Next() {
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return rows.Err()
}
