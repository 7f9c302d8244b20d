package db

import (
	"strings"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The writer's connection opens its files through walBufferVFS: SQLite's own unix VFS, except
// that writes to the write-ahead log are gathered and reach the file in a few large writes per
// commit.
//
// SQLite writes a commit as two pwrite calls per page (the 24-byte frame header, then the
// page), and a charge group commits about a hundred pages: at 10M events those calls were a
// third of the writer's CPU, and gathering them raised ingest by a quarter. (The kernel's cost of
// copying the bytes stays: it is most of what writing the log costs now.) Gathering changes no
// byte of the file and nothing anyone else can see:
//   - SQLite makes new frames visible to readers and checkpointers only by writing the
//     shared-memory index header, and it calls the database file's xShmBarrier between the two
//     copies of that header. The barrier writes the log's gathered bytes out first, so no one
//     can look for a frame that is still in the buffer.
//   - Any other call on the log (read, sync, truncate, size, file control, close) and any write
//     that does not append to the gathered bytes writes them out first, so the file SQLite
//     sees through this connection is always the file it wrote.
//   - The writer's syncer fsyncs the log only after a commit returned, so after its barrier.
//   - A crash loses only what a crash would lose anyway: frames no reader could see yet.
// The database file keeps the unix VFS's methods but its barrier; every other file is the
// unix VFS's unchanged.

const walBufferVFSName = "tokenjar-walbuf"

// walBufferLimit bounds the gathered bytes, so a huge transaction does not hold its whole log
// in memory: past it they are written out and gathering starts again.
const walBufferLimit = 1 << 20

// walWriteMax is the most one write hands the unix VFS: it masks a write's length with 0x1ffff.
const walWriteMax = 0x1ffff &^ 0xfff

type (
	xOpenFn      = func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32
	xCloseFn     = func(*libc.TLS, uintptr) int32
	xReadWriteFn = func(*libc.TLS, uintptr, uintptr, int32, int64) int32
	xTruncateFn  = func(*libc.TLS, uintptr, int64) int32
	xSyncFn      = func(*libc.TLS, uintptr, int32) int32
	xFileSizeFn  = func(*libc.TLS, uintptr, uintptr) int32
	xFileCtlFn   = func(*libc.TLS, uintptr, int32, uintptr) int32
	xBarrierFn   = func(*libc.TLS, uintptr)
)

// slot reads or sets a C function pointer: modernc.org/sqlite keeps a Go func value there.
func slot[F any](p *uintptr) *F { return (*F)(unsafe.Pointer(p)) }

// hook puts fn in a method table's slot and returns the function that was there.
func hook[F any](p *uintptr, fn F) F {
	old := *slot[F](p)
	*slot[F](p) = fn
	return old
}

var (
	walVFSOnce sync.Once
	walVFSErr  error
	walVFS     sqlite3.Tsqlite3_vfs
	walVFSZ    = append([]byte(walBufferVFSName), 0)
	unixOpen   xOpenFn

	methodsMu sync.Mutex
	// The io_methods the unix VFS gives logs and databases, and this VFS's versions of them.
	unixLogMethods, unixDBMethods uintptr
	walMethods, dbMethods         sqlite3.Tsqlite3_io_methods
	unix                          struct {
		dbClose  xCloseFn
		close    xCloseFn
		read     xReadWriteFn
		write    xReadWriteFn
		truncate xTruncateFn
		sync     xSyncFn
		fileSize xFileSizeFn
		fileCtl  xFileCtlFn
		barrier  xBarrierFn
	}

	filesMu  sync.Mutex
	walFiles = map[uintptr]*walBuffer{}  // open log files → their gathered bytes
	dbFiles  = map[uintptr]string{}      // open database files → their names
	walsOf   = map[string][]*walBuffer{} // database name → its open log files
)

// walBuffer is one open log file's gathered writes: buf belongs at offset off.
type walBuffer struct {
	mu   sync.Mutex // SQLite calls a file from one connection at a time; a barrier may come from another
	file uintptr
	db   string
	buf  []byte
	off  int64

	gathered, written int64 // writes SQLite made, writes that reached the file (for tests)
}

// registerWALBufferVFS registers walBufferVFS once per process.
func registerWALBufferVFS() error {
	walVFSOnce.Do(func() { walVFSErr = registerVFS(&walVFS, walVFSZ, &unixOpen, walVFSOpen) })
	return walVFSErr
}

// cmem turns an address SQLite handed over into a pointer. It points into C memory (or a Go
// global that SQLite was given), never into the moving parts of the Go heap.
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// fileMethods is the io_methods pointer of an open file.
func fileMethods(pFile uintptr) *uintptr {
	return &(*sqlite3.Tsqlite3_file)(cmem(pFile)).FpMethods
}

// wrapLogMethods derives the log's method table from the unix VFS's, once. The unix VFS gives
// a log file other methods than a database file (no locks, no shared memory). It reports
// whether m are the methods the first log had: a file with any other methods is left alone.
func wrapLogMethods(m uintptr) bool {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if unixLogMethods == 0 {
		unixLogMethods = m
		walMethods = *(*sqlite3.Tsqlite3_io_methods)(cmem(m))
		unix.close = hook(&walMethods.FxClose, xCloseFn(walClose))
		unix.read = hook(&walMethods.FxRead, xReadWriteFn(walRead))
		unix.write = hook(&walMethods.FxWrite, xReadWriteFn(walWrite))
		unix.truncate = hook(&walMethods.FxTruncate, xTruncateFn(walTruncate))
		unix.sync = hook(&walMethods.FxSync, xSyncFn(walSync))
		unix.fileSize = hook(&walMethods.FxFileSize, xFileSizeFn(walFileSize))
		unix.fileCtl = hook(&walMethods.FxFileControl, xFileCtlFn(walFileControl))
	}
	return m == unixLogMethods
}

// wrapDBMethods is wrapLogMethods for database files, whose barrier it wraps.
func wrapDBMethods(m uintptr) bool {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if unixDBMethods == 0 {
		um := (*sqlite3.Tsqlite3_io_methods)(cmem(m))
		if um.FiVersion < 2 || um.FxShmBarrier == 0 {
			return false // no shared memory: SQLite could not run a log on it
		}
		unixDBMethods = m
		dbMethods = *um
		unix.dbClose = hook(&dbMethods.FxClose, xCloseFn(dbClose))
		unix.barrier = hook(&dbMethods.FxShmBarrier, xBarrierFn(dbBarrier))
	}
	return m == unixDBMethods
}

func walVFSOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := unixOpen(tls, pVfs, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || zName == 0 || *fileMethods(pFile) == 0 {
		return rc
	}
	isDB := flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0
	switch {
	case isDB && wrapDBMethods(*fileMethods(pFile)):
	case flags&sqlite3.SQLITE_OPEN_WAL != 0 && wrapLogMethods(*fileMethods(pFile)):
	default:
		return rc
	}
	name := libc.GoString(zName)
	filesMu.Lock()
	defer filesMu.Unlock()
	if isDB {
		dbFiles[pFile] = name
		*fileMethods(pFile) = uintptr(unsafe.Pointer(&dbMethods))
		return rc
	}
	b := &walBuffer{file: pFile, db: strings.TrimSuffix(name, "-wal")}
	walFiles[pFile] = b
	walsOf[b.db] = append(walsOf[b.db], b)
	*fileMethods(pFile) = uintptr(unsafe.Pointer(&walMethods))
	return rc
}

// dbBarrier runs before SQLite publishes new log frames (see the top of this file).
func dbBarrier(tls *libc.TLS, pFile uintptr) {
	filesMu.Lock()
	wals := walsOf[dbFiles[pFile]]
	filesMu.Unlock()
	for _, b := range wals {
		// A failed write shows again: the log's next call writes the same bytes out first.
		b.mu.Lock()
		b.flush(tls)
		b.mu.Unlock()
	}
	unix.barrier(tls, pFile)
}

func dbClose(tls *libc.TLS, pFile uintptr) int32 {
	filesMu.Lock()
	delete(dbFiles, pFile)
	filesMu.Unlock()
	return unix.dbClose(tls, pFile)
}

// lockedBuffer is the open log file's buffer, locked.
func lockedBuffer(pFile uintptr) *walBuffer {
	filesMu.Lock()
	b := walFiles[pFile]
	filesMu.Unlock()
	b.mu.Lock()
	return b
}

// flushThen writes the log's gathered bytes out before SQLite's call f runs on the file.
func flushThen(tls *libc.TLS, pFile uintptr, f func() int32) int32 {
	b := lockedBuffer(pFile)
	defer b.mu.Unlock()
	if rc := b.flush(tls); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return f()
}

// flush writes the gathered bytes out. They are dropped only once written: after a failure
// SQLite's next call on the log tries them again (or fails its transaction).
func (b *walBuffer) flush(tls *libc.TLS) int32 {
	done := 0
	for done < len(b.buf) {
		n := min(len(b.buf)-done, walWriteMax)
		b.written++
		if rc := unix.write(tls, b.file, uintptr(unsafe.Pointer(&b.buf[done])), int32(n), b.off+int64(done)); rc != sqlite3.SQLITE_OK {
			b.buf = b.buf[:copy(b.buf, b.buf[done:])]
			b.off += int64(done)
			return rc
		}
		done += n
	}
	b.buf = b.buf[:0]
	return sqlite3.SQLITE_OK
}

func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	b := lockedBuffer(pFile)
	defer b.mu.Unlock()
	b.gathered++
	if len(b.buf) > 0 && iOfst != b.off+int64(len(b.buf)) {
		// Not an append (SQLite rewriting a frame of the open transaction): in order, through.
		if rc := b.flush(tls); rc != sqlite3.SQLITE_OK {
			return rc
		}
		b.written++
		return unix.write(tls, pFile, zBuf, iAmt, iOfst)
	}
	if len(b.buf) == 0 {
		b.off = iOfst
	}
	b.buf = append(b.buf, unsafe.Slice((*byte)(cmem(zBuf)), iAmt)...)
	if len(b.buf) >= walBufferLimit {
		return b.flush(tls)
	}
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	return flushThen(tls, pFile, func() int32 { return unix.read(tls, pFile, zBuf, iAmt, iOfst) })
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	return flushThen(tls, pFile, func() int32 { return unix.truncate(tls, pFile, size) })
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	return flushThen(tls, pFile, func() int32 { return unix.sync(tls, pFile, flags) })
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	return flushThen(tls, pFile, func() int32 { return unix.fileSize(tls, pFile, pSize) })
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	return flushThen(tls, pFile, func() int32 { return unix.fileCtl(tls, pFile, op, pArg) })
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	b := lockedBuffer(pFile)
	rc := b.flush(tls)
	b.mu.Unlock()
	filesMu.Lock()
	delete(walFiles, pFile)
	ws := walsOf[b.db]
	for i := range ws {
		if ws[i] == b {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(walsOf, b.db)
	} else {
		walsOf[b.db] = ws
	}
	filesMu.Unlock()
	if crc := unix.close(tls, pFile); rc == sqlite3.SQLITE_OK {
		rc = crc
	}
	return rc
}
