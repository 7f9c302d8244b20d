package core

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxReportBytes is the largest usage report body accepted.
const MaxReportBytes = 64 << 10

// The window a report's timestamp (backfill) must fall in: at most a year back, and at most
// five minutes ahead of the server's clock, for clients whose clocks run a little fast.
const (
	MaxBackfillYears = 1
	MaxReportAhead   = 5 * time.Minute
)

// UsageReport is a validated POST /usage body.
type UsageReport struct {
	AIAgentID        string
	UserID           int64
	UserEmail        string
	Description      string
	UsageType        string
	ShortDescription string
	TotalCost        string // exact decimal text; "" when absent
	Credits          *Credits
	Model            string
	Provider         string
	Modality         string
	InputTokens      int64
	OutputTokens     int64
	TotalTokens      int64
	ProcessingTimeMs *int64
	ModelParameters  string // JSON object text, "" when absent
	InternalUnits    string // JSON scalar text, "" when absent
	Project          string
	BillingSource    string
	ChargeUser       bool
	IdempotencyKey   string
	Timestamp        *time.Time
}

var (
	usageTypeRe = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)
	modalities  = map[string]bool{"text": true, "image": true, "audio": true, "video": true, "embedding": true}
)

type fieldReader struct {
	raw map[string]json.RawMessage
	err error
}

func (r *fieldReader) present(name string) (json.RawMessage, bool) {
	v, ok := r.raw[name]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

func (r *fieldReader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = Invalid(field, format, args...)
	}
}

func (r *fieldReader) str(name string, maxLen int) string {
	v, ok := r.present(name)
	if !ok || r.err != nil {
		return ""
	}
	var s string
	if err := decodeString(v, &s); err != nil {
		r.fail(name, "%s must be a string", name)
		return ""
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxLen {
		r.fail(name, "%s must be at most %d characters", name, maxLen)
	}
	return s
}

// number returns the JSON number text of a field.
func (r *fieldReader) number(name string) (string, bool) {
	v, ok := r.present(name)
	if !ok || r.err != nil {
		return "", false
	}
	s := string(bytes.TrimSpace(v))
	if len(s) == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		r.fail(name, "%s must be a number", name)
		return "", false
	}
	return s, true
}

func (r *fieldReader) count(name string) (int64, bool) {
	s, ok := r.number(name)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > MaxCount {
		r.fail(name, "%s must be a whole number from 0 to 1000000000000", name)
		return 0, false
	}
	return n, true
}

// ParseUsageReport decodes and validates a usage report. Every problem is an Invalid error
// naming the field, so a client can fix its request.
func ParseUsageReport(body []byte, now time.Time) (UsageReport, error) {
	var rep UsageReport
	if len(body) > MaxReportBytes {
		return rep, Errorf(ETOOLARGE, "the body is larger than 64 KiB")
	}
	r := &fieldReader{}
	if fields, ok := objectFields(body); ok {
		r.raw = fields
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&r.raw); err != nil || r.raw == nil {
			return rep, Invalid("body", "the body must be a JSON object")
		}
		if dec.More() {
			return rep, Invalid("body", "the body must hold one JSON object")
		}
	}

	if v, ok := r.present("aiAgentId"); ok {
		var s string
		if decodeString(v, &s) == nil {
			rep.AIAgentID = strings.TrimSpace(s)
		} else if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n > 0 {
			rep.AIAgentID = strconv.FormatInt(n, 10)
		} else {
			r.fail("aiAgentId", "aiAgentId must be an app id or slug")
		}
	}
	if v, ok := r.present("userId"); ok && r.err == nil {
		var s string
		if json.Unmarshal(v, &s) == nil {
			v = json.RawMessage(s)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n <= 0 {
			r.fail("userId", "userId must be a member id")
		}
		rep.UserID = n
	}
	rep.UserEmail = r.str("userEmail", 254)
	rep.Description = r.str("description", 2000)
	if r.err == nil && rep.Description == "" {
		r.fail("description", "description is required: say in words what the user did")
	}
	rep.UsageType = r.str("usageType", 64)
	if rep.UsageType == "" {
		rep.UsageType = "api_call"
	} else if r.err == nil && !usageTypeRe.MatchString(rep.UsageType) {
		r.fail("usageType", "usageType may hold letters, digits, _, - and . only")
	}
	rep.ShortDescription = r.str("shortDescription", 200)
	if strings.ContainsAny(rep.ShortDescription, "\r\n") {
		r.fail("shortDescription", "shortDescription must be one line")
	}
	if s, ok := r.number("totalCost"); ok {
		if _, valid := parseDecimal(s); !valid {
			r.fail("totalCost", "totalCost must be a decimal number of USD ≥ 0")
		}
		rep.TotalCost = s
	}
	if s, ok := r.number("credits"); ok {
		c, valid := ParseCredits(s)
		if !valid {
			r.fail("credits", "credits must be a number of credits from 0 to 1000000000 with at most 3 decimals")
		}
		rep.Credits = &c
	}
	if r.err == nil && rep.TotalCost == "" && rep.Credits == nil {
		r.fail("totalCost", "totalCost is required unless credits is given")
	}
	rep.Model = r.str("model", 100)
	rep.Provider = r.str("provider", 100)
	rep.Modality = r.str("modality", 20)
	if rep.Modality != "" && !modalities[rep.Modality] {
		r.fail("modality", "modality must be text, image, audio, video or embedding")
	}
	rep.InputTokens, _ = r.count("inputTokens")
	rep.OutputTokens, _ = r.count("outputTokens")
	if n, ok := r.count("totalTokens"); ok {
		rep.TotalTokens = n
	} else {
		rep.TotalTokens = rep.InputTokens + rep.OutputTokens
	}
	if n, ok := r.count("processingTimeMs"); ok {
		rep.ProcessingTimeMs = &n
	}
	if v, ok := r.present("modelParameters"); ok && r.err == nil {
		// v is valid JSON (the body was), so an object is a value that starts with {.
		if v[0] != '{' {
			r.fail("modelParameters", "modelParameters must be a JSON object")
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			rep.ModelParameters = buf.String()
		}
	}
	if v, ok := r.present("internalTokensOrCredits"); ok && r.err == nil {
		t := bytes.TrimSpace(v)
		if len(t) == 0 || t[0] == '{' || t[0] == '[' || len(t) > 200 {
			r.fail("internalTokensOrCredits", "internalTokensOrCredits must be a number or a short string")
		}
		rep.InternalUnits = string(t)
	}
	rep.Project = r.str("project", 100)
	if v, ok := r.present("billingSource"); ok && r.err == nil {
		// "personal", or a delegation id as a number (the form the reply uses) or a string.
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n > 0 {
			rep.BillingSource = strconv.FormatInt(n, 10)
		} else if rep.BillingSource = r.str("billingSource", 40); r.err == nil && rep.BillingSource == "" {
			r.fail("billingSource", `billingSource must be "personal" or a delegation id`)
		}
		if r.err != nil {
			r.err = Invalid("billingSource", `billingSource must be "personal" or a delegation id`)
		}
	}
	rep.ChargeUser = true
	if v, ok := r.present("chargeUser"); ok && r.err == nil {
		if json.Unmarshal(v, &rep.ChargeUser) != nil {
			r.fail("chargeUser", "chargeUser must be true or false")
		}
	}
	rep.IdempotencyKey = r.str("idempotencyKey", 200)
	if v, ok := r.present("timestamp"); ok && r.err == nil {
		var s string
		t, err := time.Time{}, decodeString(v, &s)
		if err == nil {
			t, err = time.Parse(time.RFC3339Nano, s)
		}
		if err != nil {
			r.fail("timestamp", "timestamp must be an RFC 3339 time such as 2026-11-22T10:00:00Z")
		} else if t.After(now.Add(MaxReportAhead)) {
			r.fail("timestamp", "timestamp is in the future: at most 5 minutes ahead of the server's clock is accepted")
		} else if t.Before(now.AddDate(-MaxBackfillYears, 0, 0)) {
			r.fail("timestamp", "timestamp is more than a year ago: backfilled usage may go back at most one year")
		} else {
			rep.Timestamp = &t
		}
	}
	return rep, r.err
}
