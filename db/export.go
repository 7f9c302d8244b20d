package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The CSV export asks SQLite for each row as one text of raw values and finishes the line in
// Go. Reading a row's columns one by one costs a driver call (and a lock) per column; one text
// per row does not. SQLite only concatenates (concat(), which writes NULL as nothing and sizes
// its result once; printf() with %w quoting cost 0.3 µs a row more), and the export reads
// usage_events alone: formatting times and credits in SQL, and joining each row to its member
// and app, cost twice what finishing the line in Go does.
//
// The rows come straight from the driver (sql.Conn.Raw), not through database/sql's Rows and
// Scan, whose locks and copies were another 0.1-0.2 µs of the 3.5 µs a row took at 10M events.
//
// The line holds the same records as writing usage items with encoding/csv: every text cell is
// quoted (quotes doubled), and one that starts with = + - @ tab or CR gets a leading apostrophe,
// so a spreadsheet does not run it as a formula. server/export_test.go checks that both agree.

// CSVColumns are the export's columns, in order.
var CSVColumns = []string{"id", "at", "member", "memberEmail", "app", "model", "provider", "modality", "usageType",
	"description", "shortDescription", "inputTokens", "outputTokens", "totalTokens", "processingTimeMs", "project",
	"billingSource", "costUsd", "credits", "charged", "debt", "refunded",
	// Gateway metering (SPEC 10), added at the end so readers of the older columns keep working:
	// 0, false or empty for reported usage. Prices in USD per million tokens (per image).
	"cachedInputTokens", "cacheWriteTokens", "reasoningTokens", "estimated", "overHold",
	"priceInput", "priceOutput", "priceCachedInput", "priceCacheWrite", "pricePerImage"}

// csvRaw is a row as SQLite hands it over: its cells joined by a unit separator (0x1f), NULL
// as nothing. A text holding that byte itself makes the row one cell too long; its texts are
// then read again alone (csvTextsByID). Nothing tokenjar writes puts it there, but nothing
// forbids it either.
//
// The gateway's metering (csvMetering) is one cell, empty for the many events that have none:
// turning ten zeros and NULLs into text for every row of an export cost more than a third of
// its speed. Go writes their zeros instead.
const csvRaw = `concat_ws(x'1f', e.id, e.at, e.user_id, ifnull(e.app_id, ''), e.input_tokens, e.output_tokens, ` +
	`e.total_tokens, ifnull(e.processing_time_ms, ''), ifnull(` + csvSource + `, ''), ` + csvCredits + `, e.charged, e.debt, ` +
	`ifnull(e.refunded_at, ''), e.credits, ` + csvMetering + `, e.model, e.provider, e.modality, e.usage_type, e.description, ` +
	`e.short_description, e.project, ifnull(e.cost_usd, ''))`

// The own export's billing source and credits cells: the event's.
const (
	csvSource  = `e.delegation_id`
	csvCredits = `e.credits`
)

// csvRawFor is csvRaw for a granter's export (granterID != 0): the billing source is the
// granter's allowance and the credits what it paid, which for a split charge is a part (the
// event's first allowance's part, or a later allowance's share in usage_sources). The whole
// request's credits (the cell after refunded) go in requestCredits.
func csvRawFor(granterID int64) string {
	if granterID == 0 {
		return csvRaw
	}
	g := strconv.FormatInt(granterID, 10)
	share := `FROM usage_sources s WHERE s.usage_id = e.id AND s.payer_id = ` + g + ` AND s.delegation_id != 0)`
	source := `CASE WHEN e.payer_id = ` + g + ` THEN e.delegation_id ELSE (SELECT min(s.delegation_id) ` + share + ` END`
	credits := `CASE WHEN e.payer_id = ` + g + ` THEN ifnull(e.delegation_credits, e.credits) ` +
		`ELSE ifnull((SELECT sum(s.credits) ` + share + `, 0) END`
	raw := strings.Replace(csvRaw, csvSource, source, 1)
	return strings.Replace(raw, csvCredits+`, e.charged`, credits+`, e.charged`, 1)
}

// GrantedCSVColumns are a granter's export's columns: allowanceCredits (what their allowance
// paid) where the own export has credits, and the whole request's credits at the end.
var GrantedCSVColumns = grantedColumns()

func grantedColumns() []string {
	cols := slices.Clone(CSVColumns)
	cols[slices.Index(cols, "credits")] = "allowanceCredits"
	return append(cols, "requestCredits")
}

// csvMetering is the metering cell: empty, or its ten values joined by 0x1e.
const csvMetering = `iif(e.price_input_micro IS NULL AND e.price_output_micro IS NULL AND e.price_per_image_micro IS NULL ` +
	`AND e.cached_input_tokens = 0 AND e.cache_write_tokens = 0 AND e.reasoning_tokens = 0 AND e.estimated = 0 ` +
	`AND e.over_hold = 0, '', concat_ws(x'1e', e.cached_input_tokens, e.cache_write_tokens, e.reasoning_tokens, ` +
	`e.estimated, e.over_hold, ifnull(e.price_input_micro, ''), ifnull(e.price_output_micro, ''), ` +
	`ifnull(e.price_cached_micro, ''), ifnull(e.price_cache_write_micro, ''), ifnull(e.price_per_image_micro, '')))`

// csvInts and csvTexts count csvRaw's integer cells (the metering cell last) and the text
// cells after them; csvMeters counts the metering cell's values.
const (
	csvInts   = 15
	csvTexts  = 8
	csvMeters = 10
)

const csvTextsByID = `SELECT model, provider, modality, usage_type, description, short_description, project, ` +
	`ifnull(cost_usd, '') FROM usage_events WHERE id = ?`

const csvSep = 0x1f

// CSVOut receives the export.
type CSVOut interface {
	// Start is called once the rows are open, before the first Write.
	Start() error
	// Write takes whole lines, each ending in a line break; lines is reused once it returns.
	Write(lines []byte) error
}

// csvWriteAt is how many bytes of lines the export gathers for one Write.
const csvWriteAt = 60 << 10

// WriteUsageCSV writes the export's lines of the events f matches to out. An error before
// out.Start is the database failing to open the rows; after it, the export is cut short. An
// error out returns ends the walk and comes back as it is.
func (c *Conn) WriteUsageCSV(ctx context.Context, f UsageFilter, out CSVOut) error {
	// One connection for the whole export: the names, the model list and the walk.
	var conn *sql.Conn
	switch q := c.q.(type) {
	case *sql.DB:
		var err error
		if conn, err = q.Conn(ctx); err != nil {
			return err
		}
		defer conn.Close()
	case *sql.Conn:
		conn = q
	default:
		return fmt.Errorf("db: the CSV export needs a pool or a connection, not %T", c.q)
	}
	held := &Conn{q: conn, pg: c.pg}
	cells, err := held.csvNameCells(ctx)
	if err != nil {
		return err
	}
	if f, err = held.withSortModels(ctx, f); err != nil {
		return err
	}
	cells.granted = f.GranterID != 0
	query, args := f.selectFrom(csvRawFor(f.GranterID), " FROM usage_events e")
	if c.pg {
		query, args = rebind(pgCSV(query)), pgArgs(args)
	}
	return conn.Raw(func(dc any) error {
		var side *Conn
		if c.pg {
			// PostgreSQL runs one query at a time on a connection: a row's texts read again
			// while the walk's rows are open come from another one of the pool.
			side = c
		}
		return writeCSV(ctx, dc, side, query, args, cells, out)
	})
}

func writeCSV(ctx context.Context, dc any, side *Conn, query string, args []any, cells csvCells, out CSVOut) error {
	rows, err := driverQuery(ctx, dc, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := out.Start(); err != nil {
		return err
	}
	w := csvWalk{ctx: ctx, dc: dc, side: side, cells: cells}
	dest := make([]driver.Value, len(rows.Columns())) // a merged order adds its sort columns
	buf := make([]byte, 0, csvWriteAt+4096)
	for {
		if err := rows.Next(dest); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		raw, ok := driverText(dest[0])
		if !ok {
			return fmt.Errorf("db: export row is %T", dest[0])
		}
		if buf, err = w.line(buf, raw); err != nil {
			return err
		}
		buf = append(buf, '\n')
		if len(buf) >= csvWriteAt {
			if err := out.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		return out.Write(buf)
	}
	return nil
}

// driverText is a text column's value as the driver hands it over.
func driverText(v driver.Value) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// driverQuery runs query on a driver connection.
func driverQuery(ctx context.Context, dc any, query string, args ...any) (driver.Rows, error) {
	prep, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("db: driver connection %T cannot prepare", dc)
	}
	st, err := prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			st.Close()
			return nil, err
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("db: driver statement %T cannot query", st)
	}
	rows, err := q.QueryContext(ctx, named)
	if err != nil {
		st.Close()
		return nil, err
	}
	return stmtRows{rows, st}, nil
}

// stmtRows closes its statement with the rows.
type stmtRows struct {
	driver.Rows
	st driver.Stmt
}

func (r stmtRows) Close() error {
	err := r.Rows.Close()
	if serr := r.st.Close(); err == nil {
		err = serr
	}
	return err
}

// csvWalk finishes raw rows into lines.
type csvWalk struct {
	ctx   context.Context
	dc    any
	side  *Conn // PostgreSQL: where readTexts reads
	cells csvCells
	ints  [csvInts]string
	texts [csvTexts]string
}

// line appends the export's line for one raw row.
func (w *csvWalk) line(b []byte, raw string) ([]byte, error) {
	for i := range w.ints {
		j := strings.IndexByte(raw, csvSep)
		if j < 0 {
			return b, fmt.Errorf("db: export row with %d cells", i+1)
		}
		w.ints[i], raw = raw[:j], raw[j+1:]
	}
	n := 0
	for ; n < csvTexts-1; n++ {
		j := strings.IndexByte(raw, csvSep)
		if j < 0 {
			break
		}
		w.texts[n], raw = raw[:j], raw[j+1:]
	}
	w.texts[n] = raw
	if n != csvTexts-1 || strings.IndexByte(raw, csvSep) >= 0 {
		// A text holds the separator: the cells cannot be told apart, so read them alone.
		if err := w.readTexts(); err != nil {
			return b, err
		}
	}
	return w.cells.finish(b, &w.ints, &w.texts), nil
}

func (w *csvWalk) readTexts() error {
	id := w.ints[0]
	if w.side != nil {
		t := &w.texts
		return w.side.queryRow(w.ctx, pgCSV(csvTextsByID), atoi(id)).Scan(&t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7])
	}
	rows, err := driverQuery(w.ctx, w.dc, csvTextsByID, atoi(id))
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]driver.Value, csvTexts)
	if err := rows.Next(dest); err != nil {
		return fmt.Errorf("db: export row %s: %w", id, err)
	}
	for i, v := range dest {
		w.texts[i], _ = driverText(v) // NULL reads as ""
	}
	return nil
}

// csvCells holds each member's name and email, and each app's slug, as finished CSV cells.
type csvCells struct {
	member  map[int64][]byte // `"name","email"`
	app     map[int64][]byte // `"slug"`
	granted bool             // a granter's export: requestCredits at the end
}

func (c *Conn) csvNameCells(ctx context.Context) (csvCells, error) {
	cells := csvCells{member: map[int64][]byte{}, app: map[int64][]byte{}}
	rows, err := c.query(ctx, `SELECT id, name, email FROM users`)
	if err != nil {
		return cells, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name, email string
		if err := rows.Scan(&id, &name, &email); err != nil {
			return cells, err
		}
		cells.member[id] = csvText(csvText(nil, name), email, ',')
	}
	if err := rows.Err(); err != nil {
		return cells, err
	}
	rows.Close()
	apps, err := c.query(ctx, `SELECT id, slug FROM apps`)
	if err != nil {
		return cells, err
	}
	defer apps.Close()
	for apps.Next() {
		var id int64
		var slug string
		if err := apps.Scan(&id, &slug); err != nil {
			return cells, err
		}
		cells.app[id] = csvText(nil, slug)
	}
	return cells, apps.Err()
}

// csvText appends s as a quoted CSV cell (after sep, if any), guarded against formulas.
func csvText(b []byte, s string, sep ...byte) []byte { return appendText(append(b, sep...), s) }

// formulaStart reports whether a cell starting with s would run as a spreadsheet formula.
func formulaStart(s string) bool {
	if len(s) == 0 {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// appendText appends s as a quoted CSV cell, guarded against formulas.
func appendText(b []byte, s string) []byte {
	b = append(b, '"')
	if formulaStart(s) {
		b = append(b, '\'')
	}
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

// finish writes a row's line from its cells, in csvRaw's order.
func (cells csvCells) finish(b []byte, n *[csvInts]string, t *[csvTexts]string) []byte {
	b = append(b, n[0]...) // id
	b = append(b, ',')
	b = appendStamp(b, atoi(n[1]))
	b = append(b, ',')
	if m, ok := cells.member[atoi(n[2])]; ok {
		b = append(b, m...)
	} else {
		b = append(b, `"",""`...)
	}
	b = append(b, ',')
	if a, ok := cells.app[atoi(n[3])]; ok {
		b = append(b, a...)
	} else {
		b = append(b, `""`...)
	}
	for i := range 6 { // model, provider, modality, usage type, description, short description
		b = append(b, ',')
		b = appendText(b, t[i])
	}
	for i := 4; i < 8; i++ { // input, output and total tokens, processing time
		b = append(b, ',')
		b = append(b, n[i]...)
	}
	b = append(b, ',')
	b = appendText(b, t[6]) // project
	b = append(b, ',')
	if d := n[8]; d != "" {
		b = append(b, d...)
	} else {
		b = append(b, "personal"...)
	}
	b = append(b, ',')
	b = append(b, t[7]...) // cost
	b = append(b, ',')
	b = appendCredits(b, atoi(n[9]))
	b = append(b, ',')
	b = strconv.AppendBool(b, n[10] != "0")
	b = append(b, ',')
	b = appendCredits(b, atoi(n[11]))
	b = append(b, ',')
	b = strconv.AppendBool(b, n[12] != "")
	b = appendMetering(b, n[14])
	if cells.granted {
		b = append(b, ',')
		b = appendCredits(b, atoi(n[13])) // the whole request
	}
	return b
}

// appendMetering writes the gateway's metering cells from csvMetering's cell.
func appendMetering(b []byte, cell string) []byte {
	if cell == "" {
		return append(b, ",0,0,0,false,false,,,,,"...)
	}
	var m [csvMeters]string
	for i := range csvMeters - 1 {
		j := strings.IndexByte(cell, 0x1e)
		if j < 0 {
			break
		}
		m[i], cell = cell[:j], cell[j+1:]
	}
	m[csvMeters-1] = cell
	for i := 0; i < 3; i++ { // cached input, cache write and reasoning tokens
		b = append(b, ',')
		b = append(b, m[i]...)
	}
	b = append(b, ',')
	b = strconv.AppendBool(b, m[3] != "0") // estimated
	b = append(b, ',')
	b = strconv.AppendBool(b, m[4] != "0") // over the hold
	// The prices, empty when the gateway did not price the event.
	for i := 5; i < csvMeters; i++ {
		b = append(b, ',')
		if m[i] != "" {
			b = appendMicroUSD(b, atoi(m[i]))
		}
	}
	return b
}

// appendMicroUSD writes micro-USD as a USD decimal, as the API does: 2.5, 0.075, 3.
func appendMicroUSD(b []byte, m int64) []byte {
	if m < 0 {
		b = append(b, '-')
		m = -m
	}
	b = strconv.AppendInt(b, m/1_000_000, 10)
	frac := m % 1_000_000
	if frac == 0 {
		return b
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendCredits writes millicredits as the API does: 12.3, 0.001, 5.
func appendCredits(b []byte, mc int64) []byte {
	if mc < 0 {
		b = append(b, '-')
		mc = -mc
	}
	b = strconv.AppendInt(b, mc/1000, 10)
	frac := mc % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendStamp writes epoch milliseconds as RFC 3339 in UTC, the fraction's trailing zeros
// dropped, as time.RFC3339Nano does (digit by digit: AppendFormat was a third of Go's part of a
// line).
func appendStamp(b []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, min, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+min/10), byte('0'+min%10), ':', byte('0'+sec/10), byte('0'+sec%10))
	if frac := t.Nanosecond() / 1e6; frac != 0 {
		digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		n := 3
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, digits[:n]...)
	}
	return append(b, 'Z')
}

// atoi reads a decimal integer SQLite wrote; anything else reads as 0.
func atoi(f string) int64 {
	neg := len(f) > 0 && f[0] == '-'
	if neg {
		f = f[1:]
	}
	var n int64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}
