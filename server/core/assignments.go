package core

import (
	"context"
	"sort"
)

// AssignmentTable is the teacher's student × assignment table: what each grantee spent per
// project (assignment) in a range, split into what the caller's allowances paid and what the
// grantee paid from their own credits for the same assignments. Own spending shows only as
// totals per student and assignment, never as requests (SPEC 5: a granter never sees a
// grantee's personal events), and only for assignments the caller's allowances paid for.
type AssignmentTable struct {
	Projects []AssignmentTotal `json:"projects"`
	Students []AssignmentRow   `json:"students"`
	Totals   AssignmentSplit   `json:"totals"`
}

// AssignmentSplit is an amount split by who paid it.
type AssignmentSplit struct {
	Allowance Credits `json:"allowance"` // the caller's allowances
	Own       Credits `json:"own"`       // the student's own credits (debt included)
	Total     Credits `json:"total"`
}

func (a *AssignmentSplit) add(allowance, own int64) {
	a.Allowance += Credits(allowance)
	a.Own += Credits(own)
	a.Total += Credits(allowance + own)
}

// AssignmentTotal is one column: an assignment ("" for requests that named none) and its total.
type AssignmentTotal struct {
	Project string `json:"project"`
	AssignmentSplit
}

// AssignmentRow is one student: a cell per assignment they spent on, and their total.
type AssignmentRow struct {
	UserID int64                      `json:"userId"`
	Name   string                     `json:"name"`
	Cells  map[string]AssignmentSplit `json:"cells"`
	AssignmentSplit
}

// GrantedAssignments builds the student × assignment table for the caller's allowances over
// the query's range (whole days, as the charts count them).
func (s *Service) GrantedAssignments(ctx context.Context, p Principal, q UsageQuery) (AssignmentTable, error) {
	if err := p.requireUser(); err != nil {
		return AssignmentTable{}, err
	}
	r, err := s.resolveQuery(ctx, UsageQuery{From: q.From, To: q.To})
	if err != nil {
		return AssignmentTable{}, err
	}
	a := r.agg
	cells, err := s.db.Read().GrantedAssignments(ctx, p.UserID, a.HasFrom, a.FromDay, a.HasTo, a.ToDay)
	if err != nil {
		return AssignmentTable{}, err
	}
	t := AssignmentTable{Projects: []AssignmentTotal{}, Students: []AssignmentRow{}}
	cols := map[string]int{}
	for _, c := range cells {
		if n := len(t.Students); n == 0 || t.Students[n-1].UserID != c.UserID {
			t.Students = append(t.Students, AssignmentRow{UserID: c.UserID, Name: c.UserName, Cells: map[string]AssignmentSplit{}})
		}
		row := &t.Students[len(t.Students)-1]
		cell := row.Cells[c.Project]
		cell.add(c.Allowance, c.Own)
		row.Cells[c.Project] = cell
		row.add(c.Allowance, c.Own)
		i, ok := cols[c.Project]
		if !ok {
			i = len(t.Projects)
			cols[c.Project] = i
			t.Projects = append(t.Projects, AssignmentTotal{Project: c.Project})
		}
		t.Projects[i].add(c.Allowance, c.Own)
		t.Totals.add(c.Allowance, c.Own)
	}
	// Assignments by name; requests that named none last.
	sort.Slice(t.Projects, func(i, j int) bool {
		a, b := t.Projects[i].Project, t.Projects[j].Project
		if (a == "") != (b == "") {
			return b == ""
		}
		return a < b
	})
	return t, nil
}
