package core

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"tokenjar/db"
)

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
	// BaseURL is where invitation links point (the server's own address).
	BaseURL string
}

// ImportedMember is a created member with their way in, shown once: an invitation link to set
// a password (members with an email), a one-time sign-in code (members without one, or
// everyone with Codes), or both.
type ImportedMember struct {
	Member          Member  `json:"member"`
	Code            string  `json:"code,omitempty"`
	ExpiresAt       *string `json:"codeExpiresAt,omitempty"`
	InviteURL       string  `json:"inviteUrl,omitempty"`
	InviteExpiresAt *string `json:"inviteExpiresAt,omitempty"`
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

// ImportMembers creates a class of members at once, all or nothing (admins only). Each gets a
// way in: members with an email an invitation link to set their password, members without one
// a one-time sign-in code; with Codes, everyone gets a code too.
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
			if row.Email != "" {
				link, exp, err := s.memberInviteLink(ctx, c, u, p.UserID, now, in.BaseURL)
				if err != nil {
					return err
				}
				im.InviteURL, im.InviteExpiresAt = link, &exp
			}
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
