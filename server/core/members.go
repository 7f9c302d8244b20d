package core

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"strings"
	"time"

	"tokenjar/db"
)

// NewMember is what an admin (or the first-run setup) fills in.
type NewMember struct {
	Email    string
	Name     string
	Password string
	Role     string
}

func validateMember(m *NewMember) error {
	m.Email = strings.TrimSpace(m.Email)
	m.Name = strings.TrimSpace(m.Name)
	if m.Email == "" {
		return Invalid("email", "email is required")
	}
	if a, err := mail.ParseAddress(m.Email); err != nil || a.Address != m.Email || len(m.Email) > 254 {
		return Invalid("email", "%q is not an email address", m.Email)
	}
	if m.Name == "" || len(m.Name) > 100 {
		return Invalid("name", "name must be 1 to 100 characters")
	}
	if m.Password != "" && len(m.Password) < 8 {
		return Invalid("password", "password must be at least 8 characters")
	}
	if len(m.Password) > 72 {
		return Invalid("password", "password must be at most 72 bytes")
	}
	switch m.Role {
	case "":
		m.Role = RoleMember
	case RoleOwner, RoleAdmin, RoleMember:
	default:
		return Invalid("role", "role must be owner, admin or member")
	}
	return nil
}

// Member is a member as the API shows it.
type Member struct {
	ID                 int64    `json:"id"`
	Email              string   `json:"email"`
	Name               string   `json:"name"`
	Role               string   `json:"role"`
	Disabled           bool     `json:"disabled"`
	MonthlyCredits     Credits  `json:"monthlyCredits"`
	NextMonthlyCredits *Credits `json:"nextMonthlyCredits"`
	Balance            Credits  `json:"balance"`
	Debt               Credits  `json:"debt"`
	Group              string   `json:"group"`
	CreatedAt          string   `json:"createdAt"`
}

func memberOf(u db.User) Member {
	m := Member{ID: u.ID, Email: shownEmail(u.Email), Name: u.Name, Group: u.Group, Role: u.Role, Disabled: u.Disabled,
		MonthlyCredits: Credits(u.PlanCredits), Balance: Credits(u.Balance), Debt: Credits(u.Debt),
		CreatedAt: fromMS(u.CreatedAt).Format(time.RFC3339)}
	if u.PlanNext.Valid {
		n := Credits(u.PlanNext.Int64)
		m.NextMonthlyCredits = &n
	}
	return m
}

// CreateMember adds a member (admins only; only owners make owners).
func (s *Service) CreateMember(ctx context.Context, p Principal, m NewMember) (Member, error) {
	if err := p.requireAdmin(); err != nil {
		return Member{}, err
	}
	if err := validateMember(&m); err != nil {
		return Member{}, err
	}
	if m.Role == RoleOwner && p.Role != RoleOwner {
		return Member{}, &Error{Code: EFORBIDDEN, Message: "only an owner can make owners", Field: "role"}
	}
	hash, err := hashPassword(m.Password)
	if err != nil {
		return Member{}, err
	}
	var out Member
	err = s.db.Update(ctx, func(c *db.Conn) error {
		id, err := c.InsertUser(ctx, db.User{Email: m.Email, Name: m.Name, Role: m.Role, PasswordHash: hash, CreatedAt: ms(s.clock.Now())})
		if db.IsUniqueViolation(err) {
			return &Error{Code: ECONFLICT, Message: "a member with this email exists already", Field: "email"}
		}
		if err != nil {
			return err
		}
		// A plan set later starts with the next cycle (or at once with now=true), so this
		// cycle counts as handled for the refresh job.
		if err := c.InsertCycleGrant(ctx, id, CycleAt(s.clock.Now(), s.Settings().Location).Key, sql.NullInt64{}, ms(s.clock.Now())); err != nil {
			return err
		}
		u, err := c.UserByID(ctx, id)
		out = memberOf(u)
		return err
	})
	return out, err
}

// MemberUpdate changes a member; nil fields stay as they are.
type MemberUpdate struct {
	Name     *string
	Role     *string
	Disabled *bool
	Group    *string
}

// UpdateMember renames, changes the role of, or disables a member (admins only).
func (s *Service) UpdateMember(ctx context.Context, p Principal, id int64, upd MemberUpdate) (Member, error) {
	if err := p.requireAdmin(); err != nil {
		return Member{}, err
	}
	var out Member
	err := s.db.Update(ctx, func(c *db.Conn) error {
		u, err := c.UserByID(ctx, id)
		if errors.Is(err, db.ErrNotFound) {
			return Errorf(ENOTFOUND, "no such member")
		}
		if err != nil {
			return err
		}
		name, role, disabled, group := u.Name, u.Role, u.Disabled, u.Group
		if upd.Group != nil {
			group = strings.TrimSpace(*upd.Group)
			if len(group) > 60 {
				return Invalid("group", "group must be at most 60 characters")
			}
		}
		if upd.Name != nil {
			name = strings.TrimSpace(*upd.Name)
			if name == "" || len(name) > 100 {
				return Invalid("name", "name must be 1 to 100 characters")
			}
		}
		if upd.Role != nil {
			role = *upd.Role
			if role != RoleOwner && role != RoleAdmin && role != RoleMember {
				return Invalid("role", "role must be owner, admin or member")
			}
			if (role == RoleOwner || u.Role == RoleOwner) && role != u.Role && p.Role != RoleOwner {
				return &Error{Code: EFORBIDDEN, Message: "only an owner can make or unmake owners", Field: "role"}
			}
		}
		if upd.Disabled != nil {
			disabled = *upd.Disabled
		}
		if u.Role == RoleOwner && !u.Disabled && (role != RoleOwner || disabled) {
			owners, err := c.CountActiveOwners(ctx)
			if err != nil {
				return err
			}
			if owners <= 1 {
				return Errorf(ECONFLICT, "%s is the only owner; make another owner first", u.Email)
			}
		}
		if err := c.UpdateUserProfile(ctx, id, name, role, disabled, group); err != nil {
			return err
		}
		if disabled && !u.Disabled {
			if err := c.DeleteUserSessions(ctx, id); err != nil {
				return err
			}
		}
		target := memberTarget(name, u.Email)
		if role != u.Role {
			if err := s.auditTx(ctx, c, p.UserID, "role_changed", target, p.IP, u.Role+" → "+role); err != nil {
				return err
			}
		}
		if disabled != u.Disabled {
			action := map[bool]string{true: "member_disabled", false: "member_enabled"}[disabled]
			if err := s.auditTx(ctx, c, p.UserID, action, target, p.IP, u.Email); err != nil {
				return err
			}
		}
		u, err = c.UserByID(ctx, id)
		out = memberOf(u)
		return err
	})
	if err == nil {
		s.changed(cacheKeys, cacheLookups) // roles and disabled members must take effect on cached tokens at once
		if out.Disabled {
			s.credentialsEnded(credentialEnd{userID: id, allSessions: true, allTokens: true})
		}
	}
	return out, err
}

// MemberSummary is a member with this cycle's totals, for the admin's members page.
type MemberSummary struct {
	Member
	// UsedThisCycle is what the member's requests cost their own credits this cycle: the same
	// figure, with the same definition, as cycle.used in the member's own GET /balance.
	UsedThisCycle Credits `json:"usedThisCycle"`
	// AllowancesThisCycle is what allowances the member receives paid for their requests this
	// cycle (out of their granters' credits).
	AllowancesThisCycle Credits `json:"allowancesThisCycle"`
	// RequestsThisCycle counts all their requests this cycle, whoever paid.
	RequestsThisCycle int64 `json:"requestsThisCycle"`
}

// ListMembers lists every member with balances and this cycle's totals (admins only). It shows
// totals, never another member's per-request log.
func (s *Service) ListMembers(ctx context.Context, p Principal, group string) ([]MemberSummary, error) {
	if err := p.requireAdmin(); err != nil {
		return nil, err
	}
	r := s.db.Read()
	us, err := r.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	use, err := s.cycleUse(ctx, r, 0)
	if err != nil {
		return nil, err
	}
	out := []MemberSummary{}
	for _, u := range us {
		if group != "" && u.Group != group {
			continue
		}
		m := use[u.ID]
		out = append(out, MemberSummary{Member: memberOf(u), UsedThisCycle: Credits(m.Own), AllowancesThisCycle: Credits(m.Allowances),
			RequestsThisCycle: m.OwnRequests + m.AllowanceRequests})
	}
	return out, nil
}

// memberUse is what a member's requests cost in a cycle, split by who paid.
type memberUse struct {
	Own, OwnRequests              int64 // from the member's own credits (and debt)
	Allowances, AllowanceRequests int64 // from allowances the member receives
}

// cycleUse is the one definition of "used this cycle", for the members page and for a member's
// own /balance alike: the current cycle's whole days in the instance time zone, from the
// rollups, by member (userID 0: every member), in one query.
func (s *Service) cycleUse(ctx context.Context, r *db.Conn, userID int64) (map[int64]memberUse, error) {
	loc := s.Settings().Location
	cy := CycleAt(s.clock.Now(), loc)
	rows, err := r.UsageByMemberModel(ctx, db.AggFilter{UserID: userID, HasFrom: true, FromDay: DayOf(cy.Start, loc), HasTo: true, ToDay: DayOf(cy.End, loc) - 1})
	if err != nil {
		return nil, err
	}
	out := map[int64]memberUse{}
	for _, row := range rows {
		m := out[row.UserID]
		if row.ByAllowance {
			m.Allowances += row.Credits
			m.AllowanceRequests += row.Requests
		} else {
			m.Own += row.Credits
			m.OwnRequests += row.Requests
		}
		out[row.UserID] = m
	}
	return out, nil
}
