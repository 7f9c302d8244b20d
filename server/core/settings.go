package core

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenjar/db"
)

// Settings are the instance-wide choices an admin makes.
type Settings struct {
	InstanceName string
	TimeZone     string
	Location     *time.Location
	// MilliPerUSD is how many millicredits one USD buys (creditsPerUSD × 1000).
	MilliPerUSD int64
	// SignupDomains are email domains whose verified provider sign-ins may create a member.
	SignupDomains []string
}

// SettingsUpdate holds the settings an admin changes; nil means unchanged.
type SettingsUpdate struct {
	InstanceName  *string
	TimeZone      *string
	CreditsPerUSD *string // decimal text
	SignupDomains *[]string
}

type settingsCache struct {
	mu sync.RWMutex
	s  Settings
}

func defaultSettings() Settings {
	return Settings{InstanceName: "tokenjar", TimeZone: "UTC", Location: time.UTC, MilliPerUSD: 1_000_000}
}

func (s *Service) loadSettings(ctx context.Context) error {
	m, err := s.db.Read().Settings(ctx)
	if err != nil {
		return err
	}
	set := defaultSettings()
	if v, ok := m["instanceName"]; ok {
		set.InstanceName = v
	}
	if v, ok := m["timeZone"]; ok {
		if loc, err := time.LoadLocation(v); err == nil {
			set.TimeZone, set.Location = v, loc
		}
	}
	if v := m["signupDomains"]; v != "" {
		set.SignupDomains = strings.Split(v, ",")
	}
	if v, ok := m["milliPerUSD"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			set.MilliPerUSD = n
		}
	}
	s.settings.mu.Lock()
	s.settings.s = set
	s.settings.mu.Unlock()
	return nil
}

// Settings returns the current instance settings.
func (s *Service) Settings() Settings {
	s.settings.mu.RLock()
	defer s.settings.mu.RUnlock()
	return s.settings.s
}

// validateSettings checks an update against the current settings and returns the result.
func validateSettings(cur Settings, u SettingsUpdate) (Settings, error) {
	next := cur
	if u.InstanceName != nil {
		name := strings.TrimSpace(*u.InstanceName)
		if name == "" || len(name) > 100 {
			return cur, Invalid("instanceName", "instance name must be 1 to 100 characters")
		}
		next.InstanceName = name
	}
	if u.TimeZone != nil {
		loc, err := time.LoadLocation(*u.TimeZone)
		if err != nil || *u.TimeZone == "" || *u.TimeZone == "Local" {
			return cur, Invalid("timeZone", "unknown time zone %q; use an IANA name such as Europe/Berlin", *u.TimeZone)
		}
		next.TimeZone, next.Location = *u.TimeZone, loc
	}
	if u.SignupDomains != nil {
		var clean []string
		for _, d := range *u.SignupDomains {
			d = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(d), "@")))
			if d == "" {
				continue
			}
			if !validEmail("x@"+d) || !strings.Contains(d, ".") {
				return cur, Invalid("signupDomains", "%q is not a domain such as school.example.org", d)
			}
			clean = append(clean, d)
		}
		next.SignupDomains = clean
	}
	if u.CreditsPerUSD != nil {
		v, ok := ParseCredits(*u.CreditsPerUSD)
		if !ok || v <= 0 || v > 1_000_000_000_000 {
			return cur, Invalid("creditsPerUSD", "creditsPerUSD must be a number greater than 0 with at most 3 decimals")
		}
		next.MilliPerUSD = int64(v)
	}
	return next, nil
}

func (s *Service) storeSettings(ctx context.Context, c *db.Conn, set Settings) error {
	for k, v := range map[string]string{"instanceName": set.InstanceName, "timeZone": set.TimeZone,
		"milliPerUSD": strconv.FormatInt(set.MilliPerUSD, 10), "signupDomains": strings.Join(set.SignupDomains, ",")} {
		if err := c.PutSetting(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

// UpdateSettings changes instance settings (admins only).
func (s *Service) UpdateSettings(ctx context.Context, p Principal, u SettingsUpdate) (Settings, error) {
	if err := p.requireAdmin(); err != nil {
		return Settings{}, err
	}
	next, err := validateSettings(s.Settings(), u)
	if err != nil {
		return Settings{}, err
	}
	if err := s.db.Update(ctx, func(c *db.Conn) error {
		if err := s.storeSettings(ctx, c, next); err != nil {
			return err
		}
		return s.auditTx(ctx, c, p.UserID, "settings_changed", "settings", p.IP, "")
	}); err != nil {
		return Settings{}, err
	}
	s.settings.mu.Lock()
	s.settings.s = next
	s.settings.mu.Unlock()
	s.announce("c " + cacheSettings)
	return next, nil
}

// DayOf is the local date of t in loc, as whole days since 1970-01-01.
func DayOf(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DayStart is the instant a local day number begins in loc.
func DayStart(day int64, loc *time.Location) time.Time {
	u := time.Unix(day*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}

// DayString formats a day number as YYYY-MM-DD.
func DayString(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format("2006-01-02")
}

// Cycle is one billing month in the instance time zone.
type Cycle struct {
	Key        int64 // YYYYMM
	Start, End time.Time
}

// CycleAt returns the cycle that holds t.
func CycleAt(t time.Time, loc *time.Location) Cycle {
	lt := t.In(loc)
	start := time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, loc)
	return Cycle{Key: int64(lt.Year())*100 + int64(lt.Month()), Start: start, End: start.AddDate(0, 1, 0)}
}
