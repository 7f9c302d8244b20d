package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"tokenjar/db"
)

// Several replicas (tokenjar serve processes) may share one PostgreSQL database. Each keeps
// caches in memory (keys and tokens, members and apps, the gateway's providers and prices, the
// settings) and the live views open on it. A change made through one replica is told to every
// other one by a database notice (db.Notify, LISTEN/NOTIFY on PostgreSQL), and each replica's
// listener drops what it keeps about it, or ends the live views whose credential ended. On
// SQLite the same notices reach the other Services of the same DB in this process.
//
// Notices are hints: a replica whose listening connection dropped is told "" when it is back,
// and drops everything. The caches' TTLs bound what a notice lost another way leaves stale.

const (
	cacheChannel = "tokenjar_cache" // "<origin> c <what,…>" or "<origin> end <credentialEnd>"
	usageChannel = "tokenjar_usage" // "<origin> <entry> <entry>…" (see announceUsage)
)

// What a cache notice names.
const (
	cacheKeys     = "keys"     // tokens and app keys (keyCache)
	cacheLookups  = "lookups"  // apps and members for the ingest path (lookups)
	cacheGateway  = "gateway"  // providers and the price book (gatewayConfig)
	cacheSettings = "settings" // instance settings
)

// newOrigin names this Service in its notices, so it skips its own when they come back.
func newOrigin() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// listen subscribes the Service to the notices of the other replicas.
func (s *Service) listen() {
	s.unlisten = append(s.unlisten,
		s.db.Listen(cacheChannel, s.onCacheNotice),
		s.db.Listen(usageChannel, s.onUsageNotice))
}

// changed drops cached entries after a change to what they hold has committed, in this
// process and in every replica.
func (s *Service) changed(what ...string) {
	s.dropCaches(what)
	s.announce("c " + strings.Join(what, ","))
}

// announce tells the other replicas of a committed change. A notice that cannot be sent is
// logged, not returned: the change has committed, and the caches' TTLs bound the damage.
func (s *Service) announce(notice string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.db.Notify(ctx, cacheChannel, s.origin+" "+notice); err != nil {
		s.log.Error("could not tell the other replicas of a change", "err", err)
	}
}

func (s *Service) dropCaches(what []string) {
	for _, w := range what {
		switch w {
		case cacheKeys:
			s.keys.clear()
		case cacheLookups:
			s.lookups.clear()
		case cacheGateway:
			s.gwConf.clear()
		case cacheSettings:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.loadSettings(ctx); err != nil {
				s.log.Error("could not reload the settings another replica changed", "err", err)
			}
			cancel()
		}
	}
}

// onCacheNotice is the listener of cache notices.
func (s *Service) onCacheNotice(payload string) {
	if payload == "" {
		// Notices may have been missed: drop everything, and have every live view check its
		// credential now.
		s.dropCaches([]string{cacheKeys, cacheLookups, cacheGateway, cacheSettings})
		s.hub.recheckAll()
		return
	}
	origin, rest, _ := strings.Cut(payload, " ")
	if origin == s.origin {
		return // done here already, before it was sent
	}
	verb, args, _ := strings.Cut(rest, " ")
	switch verb {
	case "c":
		s.dropCaches(strings.Split(args, ","))
	case "end":
		e, ok := parseCredentialEnd(args)
		if !ok {
			s.log.Error("unreadable notice of ended credentials", "notice", args)
			s.keys.clear()
			s.hub.recheckAll()
			return
		}
		s.endCredentials(e)
	}
}

// String is the credential end as a notice carries it: fields separated by spaces, "-" for
// an empty text.
func (e credentialEnd) String() string {
	text := func(v string) string {
		if v == "" {
			return "-"
		}
		return v
	}
	return strings.Join([]string{strconv.FormatInt(e.userID, 10), strconv.FormatInt(e.tokenID, 10), text(e.session),
		strconv.FormatBool(e.allSessions), text(e.keepSession), strconv.FormatBool(e.allTokens)}, " ")
}

func parseCredentialEnd(s string) (credentialEnd, bool) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return credentialEnd{}, false
	}
	text := func(v string) string {
		if v == "-" {
			return ""
		}
		return v
	}
	var e credentialEnd
	var err1, err2, err3, err4 error
	e.userID, err1 = strconv.ParseInt(f[0], 10, 64)
	e.tokenID, err2 = strconv.ParseInt(f[1], 10, 64)
	e.session = text(f[2])
	e.allSessions, err3 = strconv.ParseBool(f[3])
	e.keepSession = text(f[4])
	e.allTokens, err4 = strconv.ParseBool(f[5])
	return e, err1 == nil && err2 == nil && err3 == nil && err4 == nil && e.userID != 0
}

// Live usage across replicas. After a charge group commits, its events and balance notices
// are announced on usageChannel; each other replica reads the events its live views may see
// (one query by id) and publishes them to them. A payload holds entries separated by spaces:
//
//	e<event id>.<member id>[:<granter>.<delegation>.<credits>/…]   an event and its granters' parts
//	b<member id>                                                   a balance notice
//
// split over as many notices as db.MaxNotifyPayload needs.

// balanceChanged tells the live views of a member, here and in every replica, that their
// spending power changed without a usage event (a grant), after it committed.
func (s *Service) balanceChanged(userID int64) {
	s.hub.notifyBalance([]int64{userID})
	s.announceUsage([]chargeOutcome{{notify: []int64{userID}}})
}

// announceUsage tells the other replicas of the events and balance changes a committed group
// made. It never fails the group: live views are best effort.
func (s *Service) announceUsage(outs []chargeOutcome) {
	var entries []string
	var b strings.Builder
	for _, o := range outs {
		if o.event.ID != 0 && !o.duplicate {
			b.Reset()
			b.WriteString("e")
			b.WriteString(strconv.FormatInt(o.event.ID, 10))
			b.WriteString(".")
			b.WriteString(strconv.FormatInt(o.event.UserID, 10))
			for i, p := range o.granters {
				if i == 0 {
					b.WriteString(":")
				} else {
					b.WriteString("/")
				}
				b.WriteString(strconv.FormatInt(p.userID, 10) + "." + strconv.FormatInt(p.delegationID, 10) + "." + strconv.FormatInt(p.credits, 10))
			}
			entries = append(entries, b.String())
		}
		for _, id := range o.notify {
			entries = append(entries, "b"+strconv.FormatInt(id, 10))
		}
	}
	if len(entries) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, payload := range packNotices(s.origin, entries, db.MaxNotifyPayload) {
		if err := s.db.Notify(ctx, usageChannel, payload); err != nil {
			s.log.Error("could not tell the other replicas of new usage", "err", err)
			return
		}
	}
}

// packNotices puts entries after prefix into as few payloads of at most max bytes as fit.
func packNotices(prefix string, entries []string, max int) []string {
	var out []string
	var b strings.Builder
	for _, e := range entries {
		if b.Len() > 0 && b.Len()+1+len(e) > max {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(prefix)
		}
		b.WriteString(" ")
		b.WriteString(e)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// usageEntry is an event another replica announced.
type usageEntry struct {
	id, userID int64
	granters   []granterPart
}

func parseUsageEntry(s string) (usageEntry, bool) {
	var u usageEntry
	head, parts, _ := strings.Cut(s, ":")
	id, user, ok := strings.Cut(head, ".")
	if !ok {
		return u, false
	}
	var err1, err2 error
	u.id, err1 = strconv.ParseInt(id, 10, 64)
	u.userID, err2 = strconv.ParseInt(user, 10, 64)
	if err1 != nil || err2 != nil {
		return u, false
	}
	if parts != "" {
		for _, p := range strings.Split(parts, "/") {
			f := strings.Split(p, ".")
			if len(f) != 3 {
				return u, false
			}
			var g granterPart
			var e1, e2, e3 error
			g.userID, e1 = strconv.ParseInt(f[0], 10, 64)
			g.delegationID, e2 = strconv.ParseInt(f[1], 10, 64)
			g.credits, e3 = strconv.ParseInt(f[2], 10, 64)
			if e1 != nil || e2 != nil || e3 != nil {
				return u, false
			}
			u.granters = append(u.granters, g)
		}
	}
	return u, true
}

// onUsageNotice is the listener of usage notices: it publishes another replica's events to
// the live views here that may see them.
func (s *Service) onUsageNotice(payload string) {
	if payload == "" {
		return // missed events are missed: a live view shows what arrives while it is open
	}
	origin, rest, _ := strings.Cut(payload, " ")
	if origin == s.origin || s.hub.empty() {
		return // published here already, or no one to show it to
	}
	var events []usageEntry
	var balances []int64
	for _, f := range strings.Fields(rest) {
		switch {
		case strings.HasPrefix(f, "b"):
			if id, err := strconv.ParseInt(f[1:], 10, 64); err == nil {
				balances = append(balances, id)
			}
		case strings.HasPrefix(f, "e"):
			if u, ok := parseUsageEntry(f[1:]); ok && s.hub.watchesAny(u.userID, u.granters) {
				events = append(events, u)
			}
		}
	}
	s.hub.notifyBalance(balances)
	if len(events) == 0 {
		return
	}
	ids := make([]int64, len(events))
	for i, u := range events {
		ids[i] = u.id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := s.db.Read().UsageByIDs(ctx, ids)
	if err != nil {
		s.log.Error("could not read the usage another replica charged", "err", err)
		return
	}
	byID := make(map[int64]usageEntry, len(events))
	for _, u := range events {
		byID[u.id] = u
	}
	for _, e := range rows {
		it := s.usageItem(ctx, e)
		s.hub.publish(it, grantedItems(it, byID[e.ID].granters))
	}
}
