package core

import (
	"context"
	"time"

	"tokenjar/db"
)

// A charge group charges several reports inside one writer operation. It keeps every wallet,
// delegation and day rollup it touches in memory and writes each once at the end, so a report
// costs its own rows (the event and its ledger rows) plus a share of those writes. Nothing in
// a group fails alone: inputs were validated before, idempotency conflicts are answered
// without writing, and any database error fails the whole group, so the deferred writes are
// all or nothing with it.

// maxGroup bounds a group, so one commit never waits on an unbounded queue.
const maxGroup = 512

type pendingCharge struct {
	pc   preparedCharge
	gw   *gatewayOp // a gateway hold, settle, release or sweep instead of a report
	done chan chargeReply
}

type chargeReply struct {
	out chargeOutcome
	err error
}

// runCharger takes queued reports and charges whatever is waiting as one group. While a group
// is charged and committed, the next one gathers, so groups grow with the load (group commit).
// Each group's callers are answered once its commit is on disk; the charger does not wait for
// that before the next group, whose fsync the log syncer may then share.
//
// One chargeGroup lives as long as the charger: the wallets and delegations it loaded stay in
// memory from one group to the next, since every change to them goes through this goroutine,
// until another write (a grant, a job, another process) may have changed them.
func (s *Service) runCharger() {
	defer close(s.chargerDone)
	g := &chargeGroup{s: s}
	g.reset()
	// onDisk is closed once the last group's commit is on disk. Before a group after that one
	// is gathered, the charger waits for it: at most one group commits while another's fsync
	// runs, so each fsync covers one group holding everything that arrived during the last
	// fsync, rather than several small groups that each write the same hot pages to the log.
	var onDisk, before chan struct{}
	for first := range s.charges {
		if before != nil {
			<-before
		}
		group := []*pendingCharge{first}
	drain:
		for len(group) < maxGroup {
			select {
			case p, ok := <-s.charges:
				if !ok {
					break drain
				}
				group = append(group, p)
			default:
				break drain
			}
		}
		before = onDisk
		onDisk = s.chargeGroup(g, group)
	}
}

// chargeGroup charges a group and returns once it has committed; the channel it returns is
// closed once the group is on disk and its reports are answered.
func (s *Service) chargeGroup(g *chargeGroup, group []*pendingCharge) chan struct{} {
	ctx := context.Background() // the group is shared: no one caller's cancel may stop it
	outs := make([]chargeOutcome, len(group))
	// The next group may start once this one has committed; its callers are answered only once
	// the commit is on disk (durable), on their own goroutine.
	err, durable := s.db.UpdateInStages(ctx, func(c *db.Conn) error {
		if err := g.begin(ctx, c, s.clock.Now()); err != nil {
			return err
		}
		if s.db.Engine() == db.Postgres {
			if err := g.prefetch(group); err != nil {
				return err
			}
		}
		for i, p := range group {
			o, err := g.run(p)
			if err != nil {
				return err
			}
			outs[i] = o
		}
		return g.flush()
	})
	if err != nil {
		g.reset() // what the group changed in memory was rolled back on disk
		s.log.Error("charge group failed", "reports", len(group), "err", err)
	}
	onDisk := make(chan struct{})
	go func() {
		err := <-durable
		for i, p := range group {
			p.done <- chargeReply{out: outs[i], err: err}
		}
		close(onDisk)
		if err == nil {
			s.announceUsage(outs) // to the live views of the other replicas
		}
	}()
	return onDisk
}

type chargeGroup struct {
	s   *Service
	ctx context.Context
	c   *db.Conn
	now time.Time
	seq uint64 // groups begun; a cached wallet records the last group it was used in

	// Kept from group to group while valid (see begin).
	gen      uint64
	version  int64
	wallets  map[int64]*wallet
	received map[int64][]int64        // grantee → delegation ids, oldest first
	delegs   map[int64]*db.Delegation // working copies
	holds    *holdBook                // nil until read

	// This group's.
	active  []*wallet      // wallets used by this group, to save
	touched map[int64]bool // delegations to store
	daily   map[dailyKey]*db.DailyDelta
	order   []dailyKey
	ledger  []db.LedgerRow // the wallets' ledger rows, in the order they were made
	sources []db.UsageSource
}

type dailyKey struct {
	user, day, app, delegation                    int64
	model, provider, usageType, project, modality string
}

// maxCachedWallets bounds the memory the charger keeps between groups.
const maxCachedWallets = 20000

// newChargeGroup starts a one-off group (ChargeBatch), which keeps nothing afterwards.
func (s *Service) newChargeGroup(ctx context.Context, c *db.Conn, now time.Time) (*chargeGroup, error) {
	g := &chargeGroup{s: s}
	g.reset()
	g.ctx, g.c, g.now = ctx, c, now
	g.seq = 1
	var err error
	g.holds, err = loadHoldBook(ctx, c)
	g.touched, g.daily = map[int64]bool{}, map[dailyKey]*db.DailyDelta{}
	return g, err
}

func (g *chargeGroup) reset() {
	g.wallets, g.received, g.delegs = map[int64]*wallet{}, map[int64][]int64{}, map[int64]*db.Delegation{}
	g.gen, g.version = 0, -1
	g.holds = nil
}

// begin starts the next group on c. What the last groups loaded is kept only if no other write
// ran since: not through this process's writer (the write generation) nor from another
// process (data_version).
func (g *chargeGroup) begin(ctx context.Context, c *db.Conn, now time.Time) error {
	version, err := c.DataVersion(ctx)
	if err != nil {
		return err
	}
	gen := c.WriteGeneration()
	if gen != g.gen || version != g.version || len(g.wallets) > maxCachedWallets {
		g.reset()
		g.gen, g.version = gen, version
		// Another write (here, or another process or replica) may have made a member a grantee.
		g.s.lookups.dropGrantees()
	}
	g.ctx, g.c, g.now = ctx, c, now
	g.seq++
	if g.holds == nil {
		if g.holds, err = loadHoldBook(ctx, c); err != nil {
			return err
		}
	}
	g.active = g.active[:0]
	g.touched, g.daily, g.order = map[int64]bool{}, map[dailyKey]*db.DailyDelta{}, nil
	g.ledger = g.ledger[:0]
	g.sources = g.sources[:0]
	return nil
}

func (g *chargeGroup) wallet(userID int64) (*wallet, error) {
	if w, ok := g.wallets[userID]; ok {
		if w.group != g.seq {
			w.ctx, w.c, w.now, w.group, w.ledger = g.ctx, g.c, ms(g.now), g.seq, &g.ledger
			g.active = append(g.active, w)
		}
		return w, nil
	}
	w, err := openWallet(g.ctx, g.c, userID, ms(g.now))
	if err != nil {
		return nil, err
	}
	w.deferred = true
	w.group, w.ledger = g.seq, &g.ledger
	g.wallets[userID] = w
	g.active = append(g.active, w)
	return w, nil
}

// prefetch reads the wallets of the group's members in two statements, for PostgreSQL, where
// reading them one member at a time cost two round trips a report. A prefetched wallet joins
// the group (g.wallet) only if a charge uses it.
func (g *chargeGroup) prefetch(group []*pendingCharge) error {
	var ids []int64
	seen := map[int64]bool{}
	for _, p := range group {
		if id := p.pc.user.ID; p.gw == nil && id != 0 && !seen[id] && g.wallets[id] == nil {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	users, err := g.c.UsersByIDs(g.ctx, ids)
	if err != nil {
		return err
	}
	buckets, err := g.c.BucketsWithCreditsOf(g.ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range users {
		w := &wallet{user: u, buckets: []db.Bucket{}, deferred: true}
		for len(buckets) > 0 && buckets[0].UserID == u.ID {
			w.buckets = append(w.buckets, buckets[0])
			buckets = buckets[1:]
		}
		g.wallets[u.ID] = w
	}
	return nil
}

func (g *chargeGroup) delegation(id int64) (*db.Delegation, error) {
	if d, ok := g.delegs[id]; ok {
		return d, nil
	}
	d, err := g.c.DelegationByID(g.ctx, id)
	if err != nil {
		return nil, err
	}
	g.delegs[id] = &d
	return &d, nil
}

func (g *chargeGroup) delegationsOf(userID int64) ([]int64, error) {
	if ids, ok := g.received[userID]; ok {
		return ids, nil
	}
	if g.s.db.Engine() != db.Postgres { // there the query below is the only one (one round trip)
		may, err := g.s.mayHaveDelegations(g.ctx, g.c, userID)
		if err != nil || !may {
			g.received[userID] = nil
			return nil, err
		}
	}
	ds, err := g.c.DelegationsReceived(g.ctx, userID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(ds))
	for i := range ds {
		if _, ok := g.delegs[ds[i].ID]; !ok {
			d := ds[i]
			g.delegs[d.ID] = &d
		}
		ids = append(ids, ds[i].ID)
	}
	g.received[userID] = ids
	return ids, nil
}

func (g *chargeGroup) addDaily(d db.DailyDelta) {
	k := dailyKey{d.UserID, d.Day, d.AppID, d.DelegationID, d.Model, d.Provider, d.UsageType, d.Project, d.Modality}
	if cur, ok := g.daily[k]; ok {
		cur.Requests += d.Requests
		cur.Credits += d.Credits
		cur.Tokens += d.Tokens
		cur.Kinds.Subscription += d.Kinds.Subscription
		cur.Kinds.Addon += d.Kinds.Addon
		cur.Kinds.Event += d.Kinds.Event
		cur.Kinds.Debt += d.Kinds.Debt
		return
	}
	g.daily[k] = &d
	g.order = append(g.order, k)
}

// flush writes what the group kept in memory, each kind of row in as few statements as it can.
func (g *chargeGroup) flush() error {
	var rem []db.Remaining
	var money []db.Money
	for _, w := range g.active {
		w.collect(&rem, &money)
	}
	if err := g.c.SetBucketsRemaining(g.ctx, rem); err != nil {
		return err
	}
	if err := g.c.SetMoneyMany(g.ctx, money); err != nil {
		return err
	}
	for id := range g.touched {
		if err := g.c.UpdateDelegationTerms(g.ctx, *g.delegs[id]); err != nil {
			return err
		}
	}
	daily := make([]db.DailyDelta, len(g.order))
	for i, k := range g.order {
		daily[i] = *g.daily[k]
	}
	if err := g.c.AddDailyMany(g.ctx, daily); err != nil {
		return err
	}
	if err := g.c.InsertUsageSources(g.ctx, g.sources); err != nil {
		return err
	}
	return g.c.InsertLedgerMany(g.ctx, g.ledger)
}
