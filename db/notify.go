package db

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Notices tell the other replicas on one PostgreSQL database that something they keep in memory
// changed (LISTEN/NOTIFY). On SQLite there is one process: a notice sent with DB.Notify goes
// straight to the listeners of the same DB, so the code that sends and listens is the same on
// both engines.
//
// A notice is a hint, never the data: PostgreSQL delivers it to the connections listening at
// the time it commits, and a listener whose connection dropped misses what was sent meanwhile.
// After a reconnect every listener is called with the payload "", meaning "you may have missed
// notices: drop everything you keep".

// MaxNotifyPayload is the longest payload a notice may carry (PostgreSQL refuses more than
// 8000 bytes; a little is kept spare).
const MaxNotifyPayload = 7900

// listenAppName names the listening connection in pg_stat_activity.
const listenAppName = "tokenjar-listen"

// listener backoff after a failed or dropped connection.
const (
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// notifier is a DB's listeners and, on PostgreSQL, the one connection that LISTENs for them.
type notifier struct {
	url string // PostgreSQL's; "" on SQLite

	mu        sync.Mutex
	next      int
	listeners map[string]map[int]func(string) // channel → id → fn
	acks      []chan struct{}                 // Listen calls waiting for their LISTEN
	wake      chan struct{}                   // a channel was added
	stop      chan struct{}
	done      chan struct{} // closed when the listening goroutine ends (nil: never started)
	closed    bool
}

var notifyMu sync.Mutex // guards DB.notify's creation

func (d *DB) notifier() *notifier {
	notifyMu.Lock()
	defer notifyMu.Unlock()
	if d.notify == nil {
		n := &notifier{listeners: map[string]map[int]func(string){}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
		if d.pg != nil {
			n.url = d.pg.url
		}
		d.notify = n
	}
	return d.notify
}

// Notify sends a notice on channel to every listener of this database, in this process and, on
// PostgreSQL, in every replica. Call it after the change it tells of has committed; inside a
// write, Conn.Notify sends it with the commit instead.
func (d *DB) Notify(ctx context.Context, channel, payload string) error {
	if len(payload) > MaxNotifyPayload {
		return errors.New("db: notice payload too long")
	}
	if d.pg != nil {
		_, err := d.pg.pool.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload)
		return storageError(err)
	}
	d.notifier().deliver(channel, payload)
	return nil
}

// Notify, inside a write on PostgreSQL, sends a notice that goes out when the write commits, and
// not at all if it rolls back (nor for the runs of a write that PostgreSQL made start again).
// On SQLite it sends nothing: there is no other process to tell, and the caller already acts on
// its own process once the write has committed, as it must on both engines (its own notices
// come back to it on PostgreSQL, and are to be told apart by their payload).
func (c *Conn) Notify(ctx context.Context, channel, payload string) error {
	if len(payload) > MaxNotifyPayload {
		return errors.New("db: notice payload too long")
	}
	if !c.pg {
		return nil
	}
	_, err := c.exec(ctx, `SELECT pg_notify(?, ?)`, channel, payload)
	return err
}

// Listen calls fn with the payload of every notice sent on channel from now on, until the
// returned stop is called or the DB is closed. On PostgreSQL it returns once the channel is
// listened to (or the first try to connect failed: fn then gets "" once it is); fn is called
// on the one listening goroutine, one notice after another, so it must be quick and must not
// call Listen. fn gets "" after a lost connection came back: notices may have been missed.
func (d *DB) Listen(channel string, fn func(payload string)) (stop func()) {
	n := d.notifier()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return func() {}
	}
	n.next++
	id := n.next
	if n.listeners[channel] == nil {
		n.listeners[channel] = map[int]func(string){}
	}
	n.listeners[channel][id] = fn
	var ack chan struct{}
	if n.url != "" {
		ack = make(chan struct{})
		n.acks = append(n.acks, ack)
		if n.done == nil {
			n.done = make(chan struct{})
			go n.run()
		}
	}
	n.mu.Unlock()
	stop = func() {
		n.mu.Lock()
		delete(n.listeners[channel], id)
		n.mu.Unlock()
	}
	if ack == nil {
		return stop
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
	select {
	case <-ack:
	case <-n.stop:
	case <-time.After(15 * time.Second): // the connect itself times out sooner
	}
	return stop
}

// closeNotify stops the listening connection (DB.Close).
func (d *DB) closeNotify() {
	notifyMu.Lock()
	n := d.notify
	notifyMu.Unlock()
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	close(n.stop)
	done := n.done
	n.mu.Unlock()
	if done != nil {
		<-done
	}
}

// deliver calls channel's listeners with payload, outside the lock.
func (n *notifier) deliver(channel, payload string) {
	n.mu.Lock()
	fns := make([]func(string), 0, len(n.listeners[channel]))
	for _, fn := range n.listeners[channel] {
		fns = append(fns, fn)
	}
	n.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
}

// deliverAll tells every listener it may have missed notices.
func (n *notifier) deliverAll() {
	n.mu.Lock()
	var fns []func(string)
	for _, m := range n.listeners {
		for _, fn := range m {
			fns = append(fns, fn)
		}
	}
	n.mu.Unlock()
	for _, fn := range fns {
		fn("")
	}
}

// ackAll releases the Listen calls waiting so far.
func (n *notifier) ackAll() {
	n.mu.Lock()
	acks := n.acks
	n.acks = nil
	n.mu.Unlock()
	for _, a := range acks {
		close(a)
	}
}

func (n *notifier) stopped() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// run keeps one listening connection: it connects, LISTENs on every channel, and delivers
// notices; when the connection fails it connects again after a growing pause, and tells every
// listener that it may have missed notices.
func (n *notifier) run() {
	defer close(n.done)
	backoff := listenBackoffMin
	missed := false // a connection was lost (or never made): notices may have been missed
	for !n.stopped() {
		conn, err := n.connect()
		if err == nil {
			var served bool
			served, err = n.serve(conn, missed)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn.Close(ctx)
			cancel()
			if served {
				backoff = listenBackoffMin // it worked for a while: the next try comes soon
			}
		} else {
			n.ackAll() // Listen returns; its fn gets "" once a connection is made
		}
		if n.stopped() {
			return
		}
		missed = true
		slog.Warn("database notices: connection lost, connecting again", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-n.stop:
			return
		}
		backoff = min(backoff*2, listenBackoffMax)
	}
}

func (n *notifier) connect() (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(n.url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = listenAppName
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return pgx.ConnectConfig(ctx, cfg)
}

// serve LISTENs on every channel (and on those added later) and delivers notices until the
// connection fails or the notifier stops. served is true once it has listened on every channel.
func (n *notifier) serve(conn *pgx.Conn, missed bool) (served bool, err error) {
	listening := map[string]bool{}
	for {
		n.mu.Lock()
		var add []string
		for ch := range n.listeners {
			if !listening[ch] {
				add = append(add, ch)
			}
		}
		n.mu.Unlock()
		for _, ch := range add {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize())
			cancel()
			if err != nil {
				return served, err
			}
			listening[ch] = true
		}
		served = true
		n.ackAll()
		if missed {
			missed = false
			n.deliverAll()
		}
		for {
			note, added, err := n.wait(conn)
			if err != nil {
				return served, err
			}
			if note != nil {
				n.deliver(note.Channel, note.Payload)
			}
			if added {
				break
			}
		}
	}
}

// errStopped ends serve when the notifier stops.
var errStopped = errors.New("db: notices stopped")

// wait returns the next notice; added is true when Listen added a channel meanwhile.
func (n *notifier) wait(conn *pgx.Conn) (note *pgconn.Notification, added bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	woken, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-n.wake:
			close(woken)
			cancel()
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	note, err = conn.WaitForNotification(ctx)
	cancel()
	<-exited // it has taken the wake, or will not take it
	select {
	case <-woken:
		added = true
	default:
	}
	if err == nil {
		return note, added, nil
	}
	if n.stopped() {
		return nil, false, errStopped
	}
	if added && !conn.IsClosed() {
		return nil, true, nil
	}
	return nil, false, err
}
