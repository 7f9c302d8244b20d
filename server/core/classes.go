package core

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/mail"
	"strings"
	"time"

	"tokenjar/db"
)

// noEmailDomain marks members who have no email (students who sign in with a code). The
// .invalid top-level domain is reserved and never delivers mail, so such an address can never
// collide with a real one or be used to sign in.
const noEmailDomain = "@no-email.invalid"

// shownEmail hides the placeholder address of members who have no email.
func shownEmail(email string) string {
	if strings.HasSuffix(email, noEmailDomain) {
		return ""
	}
	return email
}

// SigninCodeTTL is how long a one-time sign-in code works.
const SigninCodeTTL = 14 * 24 * time.Hour

// codeAlphabet leaves out letters and digits that look alike (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newSigninCode() string {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		if i == 4 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(codeAlphabet))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(codeAlphabet[n.Int64()])
	}
	return b.String()
}

func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 32
		}
		return r
	}, code)
}

// ImportRow is one member of a class list.
type ImportRow struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Group string `json:"group"`
}

// ClassImport creates members for a class from a CSV text or a list.
type ClassImport struct {
	CSV     string
	Members []ImportRow
	Group   string // default group for rows without one
	Role    string
	Codes   bool // give everyone a sign-in code, not only those without an email
}

// ImportedMember is a created member, with a one-time sign-in code when one was made.
type ImportedMember struct {
	Member    Member  `json:"member"`
	Code      string  `json:"code,omitempty"`
	ExpiresAt *string `json:"codeExpiresAt,omitempty"`
}

func parseClassCSV(text string) ([]ImportRow, error) {
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(text, "\ufeff")))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, Invalid("csv", "the CSV needs a header row with a name column (and email, group if you have them)")
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	if _, ok := col["name"]; !ok {
		return nil, Invalid("csv", "the CSV header has no name column; found: %s", strings.Join(header, ", "))
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []ImportRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, Invalid(fmt.Sprintf("row %d", line), "the CSV cannot be read here: %v", err)
		}
		row := ImportRow{Name: get(rec, "name"), Email: get(rec, "email"), Group: get(rec, "group")}
		if row == (ImportRow{}) {
			continue // blank line
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ImportMembers creates a class of members at once, all or nothing (admins only). Members
// without an email get a one-time sign-in code; with Codes, everyone does.
func (s *Service) ImportMembers(ctx context.Context, p Principal, in ClassImport) ([]ImportedMember, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	rows := in.Members
	if strings.TrimSpace(in.CSV) != "" {
		var err error
		if rows, err = parseClassCSV(in.CSV); err != nil {
			return nil, err
		}
	}
	if len(rows) == 0 {
		return nil, Invalid("csv", "the list is empty: give a CSV with a header row, or members")
	}
	if len(rows) > 2000 {
		return nil, Invalid("csv", "at most 2,000 members at once")
	}
	role := in.Role
	if role == "" {
		role = RoleMember
	}
	if role != RoleMember && role != RoleAdmin {
		return nil, Invalid("role", "imported members are members or admins")
	}
	seen := map[string]int{}
	for i := range rows {
		row := &rows[i]
		field := fmt.Sprintf("row %d", i+1)
		if strings.TrimSpace(in.CSV) != "" {
			field = fmt.Sprintf("row %d", i+2) // the line in the file, after the header
		}
		row.Name = strings.TrimSpace(row.Name)
		row.Email = strings.TrimSpace(row.Email)
		if row.Group == "" {
			row.Group = strings.TrimSpace(in.Group)
		}
		if row.Name == "" || len(row.Name) > 100 {
			return nil, Invalid(field+": name", "%s: name must be 1 to 100 characters", field)
		}
		if len(row.Group) > 60 {
			return nil, Invalid(field+": group", "%s: group must be at most 60 characters", field)
		}
		if row.Email != "" {
			if a, err := mail.ParseAddress(row.Email); err != nil || a.Address != row.Email || strings.HasSuffix(strings.ToLower(row.Email), noEmailDomain) {
				return nil, Invalid(field+": email", "%s: %q is not an email address", field, row.Email)
			}
			key := strings.ToLower(row.Email)
			if prev, dup := seen[key]; dup {
				return nil, Invalid(field+": email", "%s: %s appears twice (also in row %d)", field, row.Email, prev)
			}
			seen[key] = i + 1
			if _, err := s.db.Read().UserByEmail(ctx, row.Email); err == nil {
				return nil, &Error{Code: ECONFLICT, Message: fmt.Sprintf("%s: a member with email %s exists already", field, row.Email), Field: field + ": email"}
			} else if !errors.Is(err, db.ErrNotFound) {
				return nil, err
			}
		}
	}
	now := s.clock.Now()
	cycle := CycleAt(now, s.Settings().Location).Key
	var out []ImportedMember
	err := s.db.Update(ctx, func(c *db.Conn) error {
		out = out[:0]
		for _, row := range rows {
			email := row.Email
			if email == "" {
				plain, _ := secret("")
				email = slugify(row.Name) + "-" + plain[:8] + noEmailDomain
			}
			id, err := c.InsertUser(ctx, db.User{Email: email, Name: row.Name, Role: role, CreatedAt: ms(now), Group: row.Group})
			if db.IsUniqueViolation(err) {
				return &Error{Code: ECONFLICT, Message: "a member with email " + email + " exists already", Field: "email"}
			}
			if err != nil {
				return err
			}
			if err := c.InsertCycleGrant(ctx, id, cycle, sql.NullInt64{}, ms(now)); err != nil {
				return err
			}
			u, err := c.UserByID(ctx, id)
			if err != nil {
				return err
			}
			im := ImportedMember{Member: memberOf(u)}
			if row.Email == "" || in.Codes {
				code, exp, err := s.putCode(ctx, c, id, now)
				if err != nil {
					return err
				}
				im.Code, im.ExpiresAt = code, &exp
			}
			out = append(out, im)
		}
		return nil
	})
	return out, err
}

func (s *Service) putCode(ctx context.Context, c *db.Conn, userID int64, now time.Time) (string, string, error) {
	code := newSigninCode()
	exp := now.Add(SigninCodeTTL)
	err := c.PutSigninCode(ctx, userID, hashSecret(normalizeCode(code)), ms(now), ms(exp))
	return code, exp.UTC().Format(time.RFC3339), err
}

// SigninCode is a one-time code a member signs in with.
type SigninCode struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expiresAt"`
}

// NewSigninCode makes a fresh one-time sign-in code for a member (admins only), replacing any
// earlier code.
func (s *Service) NewSigninCode(ctx context.Context, p Principal, userID int64) (SigninCode, error) {
	if err := p.requireAdmin(); err != nil {
		return SigninCode{}, err
	}
	var out SigninCode
	err := s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, userID)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no member %d", userID)
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return Errorf(ECONFLICT, "%s is disabled; enable them first", u.Name)
		}
		out.Code, out.ExpiresAt, err = s.putCode(ctx, c, userID, s.clock.Now())
		return err
	})
	return out, err
}

// LoginWithCode signs a member in with a one-time code. The code works once.
func (s *Service) LoginWithCode(ctx context.Context, code, ip string) (Member, string, Session, error) {
	norm := normalizeCode(code)
	if norm == "" {
		return Member{}, "", Session{}, Invalid("code", "code is required")
	}
	now := s.clock.Now()
	att, wait := s.throttle.begin(now, "", "", ip)
	if wait > 0 {
		return Member{}, "", Session{}, tooManySignins(wait)
	}
	var u db.User
	err := s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.TakeSigninCode(ctx, hashSecret(norm), ms(now))
		if err != nil {
			return err
		}
		u, err = c.UserByID(ctx, id)
		return err
	})
	s.throttle.finish(s.clock.Now(), att, err == nil && !u.Disabled)
	if errors.Is(err, db.ErrNotFound) || (err == nil && u.Disabled) {
		s.audit(ctx, 0, "signin_failed", "code", ip, "")
		return Member{}, "", Session{}, &Error{Code: EUNAUTHORIZED, Message: "this code is wrong, used or expired; ask for a new one", Field: "code"}
	}
	if err != nil {
		return Member{}, "", Session{}, err
	}
	id, sess, err := s.openSession(ctx, u.ID)
	if err == nil {
		s.audit(ctx, u.ID, "signin", fmt.Sprintf("member %d", u.ID), ip, "one-time code")
	}
	return memberOf(u), id, sess, err
}
