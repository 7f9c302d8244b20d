package core

import (
	"strings"
	"time"
)

// refusal is the 402 of a hold that does not fit: what ran out, and when it refills, in words
// a child understands ("Your Homework allowance from Mum is used up until tomorrow 00:00.").
// A source with a little left says how much, since the request could cost more than that.
func (g *chargeGroup) refusal(plan fundingPlan, set Settings) error {
	var said []string
	someLeft := false
	for _, s := range plan.shortOf {
		said = append(said, g.shortText(s, set))
		someLeft = someLeft || s.left > 0
	}
	if len(said) == 0 {
		said = []string{"there are no credits left to pay for this"}
	}
	msg := strings.Join(said, ", and ")
	msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
	if someLeft {
		msg += " That is not enough for this request."
	}
	return Errorf(EPAYMENT, "%s", msg)
}

func (g *chargeGroup) shortText(s shortNote, set Settings) string {
	if s.delegation == nil {
		if s.left > 0 {
			return "you have only " + Credits(s.left).String() + " of your own credits left"
		}
		return "your own credits are used up"
	}
	d := s.delegation
	allowance := "your allowance"
	if note := strings.TrimSpace(d.Note); note != "" {
		allowance = "your " + note + " allowance"
	}
	if s.granterOut {
		return d.GranterName + " has no credits left for " + allowance
	}
	name := allowance + " from " + d.GranterName
	state := " is used up"
	if s.left > 0 {
		state = " has only " + Credits(s.left).String() + " credits left"
	}
	end := periodEnd(d.Period, g.now, set.Location)
	if end.IsZero() {
		return name + state
	}
	return name + state + " until " + whenText(end, g.now, set.Location)
}

// whenText names a moment near now as people say it: "today 18:00", "tomorrow 00:00",
// "Monday 00:00", "Jan 2 00:00".
func whenText(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	clock := t.Format("15:04")
	days := DayOf(t, loc) - DayOf(now, loc)
	switch {
	case days <= 0:
		return "today " + clock
	case days == 1:
		return "tomorrow " + clock
	case days < 7:
		return t.Weekday().String() + " " + clock
	}
	return t.Format("Jan 2") + " " + clock
}
