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
}

func newHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscribe starts a subscription; call Unsubscribe when the viewer leaves.
func (h *Hub) Subscribe(userID int64) *Subscription {
	sub := &Subscription{UserID: userID, C: make(chan UsageItem, 64)}
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

// publish delivers an event to the member it belongs to and to the granter who paid for it.
// A slow viewer misses events rather than slowing ingest.
func (h *Hub) publish(item UsageItem, granterID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		if sub.UserID == item.UserID || (granterID != 0 && sub.UserID == granterID) {
			select {
			case sub.C <- item:
			default:
			}
		}
	}
}
