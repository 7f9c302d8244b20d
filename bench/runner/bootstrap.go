package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"tokenjar/server/demo"
)

// loginToken signs in with a password (session cookie + CSRF double submit) and creates a
// personal token, which the rest of the benchmark uses as a bearer token.
func loginToken(a *api, email, password, name string) (string, int64, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: a.hc.Transport, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := hc.Post(a.base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", 0, fmt.Errorf("login %s: HTTP %d %s", email, resp.StatusCode, raw)
	}
	var me struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	json.Unmarshal(raw, &me)
	u, _ := url.Parse(a.base)
	csrf := ""
	for _, c := range jar.Cookies(u) {
		if c.Name == "tj_csrf" {
			csrf = c.Value
		}
	}
	body, _ = json.Marshal(map[string]string{"name": name})
	req, _ := http.NewRequest("POST", a.base+"/api/v1/tokens", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err = hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return "", 0, fmt.Errorf("create token for %s: HTTP %d %s", email, resp.StatusCode, raw)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.Token == "" {
		return "", 0, fmt.Errorf("create token for %s: no token in %s", email, raw)
	}
	return tok.Token, me.User.ID, nil
}

// cmdBootstrap writes DIR/demo.json for a data folder filled by the plain `tokenjar demo` (the
// family dataset), which has no demo.json of its own: it signs in as each member with the demo
// password, creates personal tokens and one new key per app, and lists the delegations.
func cmdBootstrap(args []string) error {
	fs := flag.NewFlagSet("bootstrap", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	data := fs.String("data", "", "the data folder")
	owner := fs.String("owner", "alex@example.org", "the owner's email")
	password := fs.String("password", "demo-password", "every member's password")
	fs.Parse(args)
	a, err := newAPI(cf.base, 8)
	if err != nil {
		return err
	}
	var d Demo
	d.Bootstrapped = true
	d.Owner.Email, d.Owner.Password = *owner, *password
	if d.Owner.Token, d.Owner.ID, err = loginToken(a, *owner, *password, "bench"); err != nil {
		return err
	}
	var members struct {
		Items []struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
			Role  string `json:"role"`
		} `json:"items"`
	}
	if _, err := a.get("/members", nil, d.Owner.Token, &members); err != nil {
		return err
	}
	models, projects := map[string]bool{}, map[string]bool{}
	for _, m := range members.Items {
		if m.Email == "" {
			continue
		}
		tok := d.Owner.Token
		if m.ID != d.Owner.ID {
			if tok, _, err = loginToken(a, m.Email, *password, "bench"); err != nil {
				return err
			}
		}
		d.Members = append(d.Members, demo.ScaleMember{ID: m.ID, Email: m.Email, Token: tok})
		var dl struct {
			Given []struct {
				ID int64 `json:"id"`
			} `json:"given"`
		}
		if _, err := a.get("/delegations", nil, tok, &dl); err != nil {
			return err
		}
		if len(dl.Given) > 0 {
			g := demo.ScaleGrant{ID: m.ID, Token: tok}
			for _, x := range dl.Given {
				g.Delegations = append(g.Delegations, x.ID)
			}
			d.Granters = append(d.Granters, g)
		}
		var f struct {
			Models   []string `json:"models"`
			Projects []string `json:"projects"`
		}
		if _, err := a.get("/usage/facets", nil, tok, &f); err != nil {
			return err
		}
		for _, x := range f.Models {
			models[x] = true
		}
		for _, x := range f.Projects {
			projects[x] = true
		}
	}
	var apps struct {
		Items []struct {
			ID       int64  `json:"id"`
			Slug     string `json:"slug"`
			Disabled bool   `json:"disabled"`
		} `json:"items"`
	}
	if _, err := a.get("/apps", nil, d.Owner.Token, &apps); err != nil {
		return err
	}
	for _, ap := range apps.Items {
		if ap.Disabled {
			continue
		}
		var k struct {
			Key string `json:"key"`
		}
		if _, _, err := a.call("POST", "/apps/"+strconv.FormatInt(ap.ID, 10)+"/keys", d.Owner.Token, map[string]any{}, &k); err != nil {
			return err
		}
		d.Apps = append(d.Apps, demo.ScaleApp{ID: ap.ID, Slug: ap.Slug, Key: k.Key})
	}
	if len(d.Apps) == 0 {
		return errors.New("the dataset has no enabled app")
	}
	for m := range models {
		d.Models = append(d.Models, m)
	}
	for p := range projects {
		d.Projects = append(d.Projects, p)
	}
	sort.Strings(d.Models)
	sort.Strings(d.Projects)
	n, err := countEvents(a, d.Owner.Token)
	if err != nil {
		return err
	}
	d.Events = n
	d.To = time.Now().UTC().Format(time.RFC3339)
	d.From = time.Now().AddDate(0, 0, -91).UTC().Format(time.RFC3339)
	b, _ := json.MarshalIndent(d, "", "  ")
	out := filepath.Join(*data, "demo.json")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d events, %d members, %d apps, %d granters\n", out, n, len(d.Members), len(d.Apps), len(d.Granters))
	return nil
}

// countEvents is the number of usage events of every member (owner, scope=all, totals).
func countEvents(a *api, ownerToken string) (int64, error) {
	var agg aggReply
	if _, err := a.get("/usage/aggregate", url.Values{"scope": {"all"}, "by": {"month"}}, ownerToken, &agg); err != nil {
		return 0, err
	}
	return agg.Totals.Requests.Int64()
}

func cmdCount(args []string) error {
	fs := flag.NewFlagSet("count", flag.ExitOnError)
	var cf commonFlags
	cf.register(fs)
	fs.Parse(args)
	d, err := loadDemo(cf.demo)
	if err != nil {
		return err
	}
	a, err := newAPI(cf.base, 2)
	if err != nil {
		return err
	}
	n, err := countEvents(a, d.Owner.Token)
	if err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

// aggReply is GET /usage/aggregate's reply.
type aggReply struct {
	By    string `json:"by"`
	Items []struct {
		Key      json.RawMessage `json:"key"`
		Label    string          `json:"label"`
		Requests json.Number     `json:"requests"`
		Credits  json.Number     `json:"credits"`
	} `json:"items"`
	Totals struct {
		Requests json.Number `json:"requests"`
		Credits  json.Number `json:"credits"`
	} `json:"totals"`
}

// keyStr is an aggregate item's key as text (keys are strings or numbers).
func keyStr(k json.RawMessage) string {
	var s string
	if json.Unmarshal(k, &s) == nil {
		return s
	}
	return string(k)
}
