package core

import (
	"strconv"
	"testing"
	"time"
)

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"gpt-4o-mini", "gpt-4o-mini", true},
		{"gpt-4o-mini", "gpt-4o", false},
		{"gpt-4o", "gpt-4o-mini", false},
		{"claude-*-haiku*", "claude-3-5-haiku-20241022", true},
		{"claude-*-haiku*", "claude-haiku-4-5", false},
		{"claude-*haiku*", "claude-haiku-4-5", true},
		{"*", "anything", true},
		{"*", "", true},
		{"GPT-4o*", "gpt-4o-2024-08-06", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"gpt-?", "gpt-5", false}, // only * is special
	} {
		if got := GlobMatch(c.pattern, c.name); got != c.want {
			t.Errorf("GlobMatch(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

// Both lists apply: a model must match the member's own list and the allowance's.
func TestMayUse(t *testing.T) {
	c := GatewayCaller{MemberModels: []string{"gpt-*", "claude-*"}, DelegationModels: []string{"*mini*"}}
	for model, want := range map[string]bool{"gpt-4o-mini": true, "gpt-4o": false, "claude-sonnet-4-5": false, "o4-mini": false} {
		if c.MayUse(model) != want {
			t.Errorf("%s: %v", model, !want)
		}
	}
	if !(GatewayCaller{}).MayUse("anything") {
		t.Error("no lists must allow any model")
	}
}

// The per-member window slides with the (injected) clock and says when the next request fits.
func TestGatewayRateCheck(t *testing.T) {
	h := newHarness(t, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	c := GatewayCaller{MemberID: 7, RPM: 2}
	for i := 0; i < 2; i++ {
		if _, ok := h.svc.GatewayRateCheck(c); !ok {
			t.Fatalf("request %d refused", i)
		}
		h.clock.Advance(10 * time.Second)
	}
	wait, ok := h.svc.GatewayRateCheck(c)
	if ok || wait != 40*time.Second {
		t.Fatalf("third: ok %v wait %v", ok, wait)
	}
	if _, ok := h.svc.GatewayRateCheck(GatewayCaller{MemberID: 8, RPM: 2}); !ok {
		t.Error("another member was limited")
	}
	h.clock.Advance(40 * time.Second)
	if _, ok := h.svc.GatewayRateCheck(c); !ok {
		t.Error("refused once the first request left the window")
	}
	if _, ok := h.svc.GatewayRateCheck(GatewayCaller{MemberID: 7}); !ok {
		t.Error("no limit must never refuse")
	}
}

// An app key names members only when allowed, and only enabled members; a personal token cannot
// name anyone else; an app key bound to one member's allowance cannot bill another.
func TestGatewayCallerOf(t *testing.T) {
	h := newHarness(t, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	kid := h.member("kid")
	if _, err := h.svc.GatewayCallerOf(h.ctx, h.app, "kid@example.org"); ErrorCode(err) != EFORBIDDEN {
		t.Fatalf("not allowed: %v", err)
	}
	if err := h.svc.SetAppNamesMembers(h.ctx, h.owner, h.app.AppID, true); err != nil {
		t.Fatal(err)
	}
	c, err := h.svc.GatewayCallerOf(h.ctx, h.app, "KID@example.org")
	if err != nil || c.MemberID != kid || c.AppID != h.app.AppID {
		t.Fatalf("named: %+v %v", c, err)
	}
	if c, err := h.svc.GatewayCallerOf(h.ctx, h.app, strconv.FormatInt(kid, 10)); err != nil || c.MemberID != kid {
		t.Fatalf("by id: %+v %v", c, err)
	}
	for _, named := range []string{"", "nobody@example.org", "99999"} {
		if _, err := h.svc.GatewayCallerOf(h.ctx, h.app, named); ErrorCode(err) != EUNAUTHORIZED {
			t.Errorf("%q: %v", named, err)
		}
	}
	disabled := true
	if _, err := h.svc.UpdateMember(h.ctx, h.owner, kid, MemberUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.GatewayCallerOf(h.ctx, h.app, "kid@example.org"); ErrorCode(err) != EUNAUTHORIZED {
		t.Errorf("disabled member: %v", err)
	}
	if _, err := h.svc.GatewayCallerOf(h.ctx, h.owner, "kid@example.org"); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("token naming another: %v", err)
	}
	if c, err := h.svc.GatewayCallerOf(h.ctx, h.owner, "owner@example.org"); err != nil || c.MemberID != h.owner.UserID {
		t.Errorf("token naming itself: %+v %v", c, err)
	}
	models, rpm := []string{" gpt-* "}, int64(5)
	got, err := h.svc.SetMemberGatewayAccess(h.ctx, h.owner, h.owner.UserID, &models, &rpm)
	if err != nil || len(got.AllowedModels) != 1 || got.AllowedModels[0] != "gpt-*" || got.RequestsPerMinute != 5 {
		t.Fatalf("set access: %+v %v", got, err)
	}
	if c, _ := h.svc.GatewayCallerOf(h.ctx, h.owner, ""); c.RPM != 5 || !c.MayUse("gpt-4o") || c.MayUse("claude-haiku-4-5") {
		t.Errorf("access not applied: %+v", c)
	}
	neg := int64(-1)
	if _, err := h.svc.SetMemberGatewayAccess(h.ctx, h.owner, h.owner.UserID, nil, &neg); ErrorCode(err) != EINVALID {
		t.Errorf("negative rpm: %v", err)
	}
	if _, err := h.svc.SetMemberGatewayAccess(h.ctx, h.app, h.owner.UserID, nil, &rpm); ErrorCode(err) != EFORBIDDEN {
		t.Errorf("app key set access: %v", err)
	}
}
