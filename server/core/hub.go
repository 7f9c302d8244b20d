package core

import "sync"

// Hub fans out new usage events to live views (server-sent events).
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives the events one member may see: their own, and those billed to
// delegations they granted.
type Subscription struct {
	UserID int64
	C      chan UsageItem
	// Balance receives a notice (no content) when the member's spending power may have
	// changed without a usage event: a gateway hold made, settled, released or swept, on the
	// member's own sources or on an allowance they granted. Notices coalesce: one waiting
	// notice stands for any number. The viewer reads GET /balance for the figures, so a
	// granter learns nothing of the grantee from it.
	Balance chan struct{}
	// Done is closed when the credential the viewer subscribed with ends: its token revoked,
	// its session ended, its member disabled. The stream must then stop at once and send
	// nothing more, not even what is already waiting in C.
	Done <-chan struct{}
	// Recheck receives a notice when the credential may have ended without this process being
	// told which (a replica's notices were missed): the viewer checks it at once.
	Recheck chan struct{}

	done    chan struct{}
	via     string
	keyID   int64  // the personal token, for ViaToken
	session string // the session's hash, for ViaSession
}

func newHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscribe starts a subscription for the caller; call Unsubscribe when the viewer leaves.
func (h *Hub) Subscribe(p Principal) *Subscription {
	done := make(chan struct{})
	sub := &Subscription{UserID: p.UserID, C: make(chan UsageItem, 64), Balance: make(chan struct{}, 1), Done: done, done: done, Recheck: make(chan struct{}, 1),
		via: p.Via, keyID: p.KeyID, session: p.SessionHash}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return sub
}

func (h *Hub) Unsubscribe(sub *Subscription) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

func (h *Hub) empty() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) == 0
}

// publish delivers an event to the member it belongs to, and to each granter whose allowances
// paid a part of it as that granter's granted view shows it (granted, by granter).
// A slow viewer misses events rather than slowing ingest.
func (h *Hub) publish(item UsageItem, granted map[int64]UsageItem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		it, ok := item, sub.UserID == item.UserID
		if !ok {
			it, ok = granted[sub.UserID]
		}
		if ok {
			select {
			case sub.C <- it:
			default:
			}
		}
	}
}

// notifyBalance tells the live views of these members that their spending power changed.
// It never blocks: a notice already waiting covers this one.
func (h *Hub) notifyBalance(userIDs []int64) {
	if len(userIDs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		for _, id := range userIDs {
			if sub.UserID == id {
				select {
				case sub.Balance <- struct{}{}:
				default:
				}
				break
			}
		}
	}
}

// watchesAny says whether a subscription here may see an event of this member or of these
// granters.
func (h *Hub) watchesAny(userID int64, granters []granterPart) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if sub.UserID == userID {
			return true
		}
		for _, g := range granters {
			if sub.UserID == g.userID {
				return true
			}
		}
	}
	return false
}

// recheckAll asks every live view to check its credential now.
func (h *Hub) recheckAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.Recheck <- struct{}{}:
		default:
		}
	}
}

// credentialEnd says which subscriptions a change of credentials ends.
type credentialEnd struct {
	userID      int64
	tokenID     int64  // one token (0: none)
	session     string // one session ("": none)
	allSessions bool   // every session of the member…
	keepSession string // …but this one
	allTokens   bool   // every personal token of the member
}

func (e credentialEnd) matches(sub *Subscription) bool {
	if sub.UserID != e.userID {
		return false
	}
	switch sub.via {
	case ViaToken:
		return e.allTokens || (e.tokenID != 0 && sub.keyID == e.tokenID)
	case ViaSession:
		return (e.allSessions && sub.session != e.keepSession) || (e.session != "" && sub.session == e.session)
	}
	return false
}

// end closes, at once, the subscriptions whose credentials just ended. It runs after the
// change committed; publish never reaches a subscription once it is ended.
func (h *Hub) end(e credentialEnd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if e.matches(sub) {
			delete(h.subs, sub)
			close(sub.done)
		}
	}
}
