package db

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The read pool opens the database file through readAheadVFS: SQLite's unix VFS, except that a
// run of reads moving forward through the file is served from one larger read.
//
// SQLite reads the database a page (4 KiB) at a time, one pread each. A long walk, like the
// export of a member's million events, reads its table pages in file order (backwards, newest
// first), each page once: at 10M events those preads were most of the export's time (3.7 us a
// row). When a read lands just after (or before) the last read of one of a few streams, the VFS
// reads readAheadSize bytes in that direction instead, and the next pages come from memory. A
// read anywhere else is a plain pread.
//
// What a reader reads from the database file cannot change while its read transaction lasts: a
// checkpoint copies a page into the file only when every reader would take that page from the
// log instead. So the copies are dropped whenever the connection takes or lets go of a lock on
// the shared memory (every read transaction begins and ends with one), and on any write or
// truncate through it.

const (
	readAheadVFSName = "tokenjar-readahead"
	readAheadSize    = 64 << 10
	readAheadStreams = 4
)

type xShmLockFn = func(*libc.TLS, uintptr, int32, int32, int32) int32

var (
	raVFSOnce sync.Once
	raVFSErr  error
	raVFS     sqlite3.Tsqlite3_vfs
	raVFSZ    = append([]byte(readAheadVFSName), 0)
	raOpenFn  xOpenFn

	raMethodsMu   sync.Mutex
	raBaseMethods uintptr // the unix VFS's database file methods
	raMethods     sqlite3.Tsqlite3_io_methods
	raUnix        struct {
		close    xCloseFn
		read     xReadWriteFn
		write    xReadWriteFn
		truncate xTruncateFn
		shmLock  xShmLockFn
	}

	raFilesMu  sync.Mutex
	raFiles    = map[uintptr]*readAhead{}
	raClosedIO = map[string][2]int64{} // reads and preads of closed files, by name (for tests)
)

// readAhead is one open database file's streams of forward reads.
type readAhead struct {
	mu      sync.Mutex
	name    string
	streams [readAheadStreams]raStream
	next    int // the stream a new one replaces

	reads, preads int64 // SQLite's reads, and the reads of the file that served them (for tests)
}

// raStream is a run of reads: the last offset read, and the bytes read around it.
type raStream struct {
	last int64
	off  int64
	mem  uintptr // readAheadSize bytes of C memory: SQLite's read writes into it
	n    int     // bytes of the file from off held in mem; 0 when none
}

// buf is the bytes the stream holds.
func (s *raStream) buf() []byte {
	if s.n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cmem(s.mem)), s.n)
}

func registerReadAheadVFS() error {
	raVFSOnce.Do(func() { raVFSErr = registerVFS(&raVFS, raVFSZ, &raOpenFn, readAheadOpen) })
	return raVFSErr
}

// registerVFS registers a copy of SQLite's default VFS named name, whose xOpen is open; base
// gets the default's xOpen.
func registerVFS(vfs *sqlite3.Tsqlite3_vfs, name []byte, base *xOpenFn, open xOpenFn) error {
	tls := libc.NewTLS()
	defer tls.Close()
	def := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if def == 0 {
		return fmt.Errorf("no default SQLite VFS")
	}
	*vfs = *(*sqlite3.Tsqlite3_vfs)(cmem(def))
	vfs.FpNext = 0
	vfs.FzName = uintptr(unsafe.Pointer(&name[0]))
	*base = *slot[xOpenFn](&vfs.FxOpen)
	*slot[xOpenFn](&vfs.FxOpen) = open
	if rc := sqlite3.Xsqlite3_vfs_register(tls, uintptr(unsafe.Pointer(vfs)), 0); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("register the %s VFS: SQLite error %d", name[:len(name)-1], rc)
	}
	return nil
}

// wrapReadAheadMethods derives the method table once, from the first database file's; a file
// with other methods is left alone.
func wrapReadAheadMethods(m uintptr) bool {
	raMethodsMu.Lock()
	defer raMethodsMu.Unlock()
	if raBaseMethods == 0 {
		um := (*sqlite3.Tsqlite3_io_methods)(cmem(m))
		if um.FiVersion < 2 || um.FxShmLock == 0 {
			return false
		}
		raBaseMethods = m
		raMethods = *um
		raUnix.close = hook(&raMethods.FxClose, xCloseFn(raClose))
		raUnix.read = hook(&raMethods.FxRead, xReadWriteFn(raRead))
		raUnix.write = hook(&raMethods.FxWrite, xReadWriteFn(raWrite))
		raUnix.truncate = hook(&raMethods.FxTruncate, xTruncateFn(raTruncate))
		raUnix.shmLock = hook(&raMethods.FxShmLock, xShmLockFn(raShmLock))
	}
	return m == raBaseMethods
}

func readAheadOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := raOpenFn(tls, pVfs, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_MAIN_DB == 0 || *fileMethods(pFile) == 0 ||
		!wrapReadAheadMethods(*fileMethods(pFile)) {
		return rc
	}
	r := &readAhead{name: libc.GoString(zName)}
	r.drop()
	raFilesMu.Lock()
	raFiles[pFile] = r
	raFilesMu.Unlock()
	*fileMethods(pFile) = uintptr(unsafe.Pointer(&raMethods))
	return rc
}

func lockedReadAhead(pFile uintptr) *readAhead {
	raFilesMu.Lock()
	r := raFiles[pFile]
	raFilesMu.Unlock()
	r.mu.Lock()
	return r
}

// drop forgets every stream and the bytes read ahead.
func (r *readAhead) drop() {
	for i := range r.streams {
		r.streams[i].last = -1 << 62
		r.streams[i].n = 0
	}
}

func raRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	r := lockedReadAhead(pFile)
	defer r.mu.Unlock()
	r.reads++
	end := iOfst + int64(iAmt)
	for i := range r.streams {
		s := &r.streams[i]
		if iOfst >= s.off && end <= s.off+int64(s.n) {
			copy(unsafe.Slice((*byte)(cmem(zBuf)), iAmt), s.buf()[iOfst-s.off:])
			s.last = iOfst
			return sqlite3.SQLITE_OK
		}
	}
	for i := range r.streams {
		s := &r.streams[i]
		if iAmt >= readAheadSize || iOfst == s.last {
			continue
		}
		// Forward, the window starts at this read; backward (a walk in descending order), it
		// ends with it.
		from := iOfst
		if iOfst < s.last {
			if s.last-iOfst > readAheadSize {
				continue
			}
			from = max(0, end-readAheadSize)
		} else if iOfst-s.last > readAheadSize {
			continue
		}
		s.last, s.n = iOfst, 0
		if s.mem == 0 {
			if s.mem = libc.Xmalloc(tls, readAheadSize); s.mem == 0 {
				r.preads++
				return raUnix.read(tls, pFile, zBuf, iAmt, iOfst)
			}
		}
		r.preads++
		if rc := raUnix.read(tls, pFile, s.mem, readAheadSize, from); rc != sqlite3.SQLITE_OK {
			// Past the end of the file (a short read), or an error: read just what was asked.
			r.preads++
			return raUnix.read(tls, pFile, zBuf, iAmt, iOfst)
		}
		s.off, s.n = from, readAheadSize
		copy(unsafe.Slice((*byte)(cmem(zBuf)), iAmt), s.buf()[iOfst-from:])
		return sqlite3.SQLITE_OK
	}
	// Not near any stream: it may start one.
	s := &r.streams[r.next]
	r.next = (r.next + 1) % readAheadStreams
	s.last, s.n = iOfst, 0
	r.preads++
	return raUnix.read(tls, pFile, zBuf, iAmt, iOfst)
}

func raWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	r := lockedReadAhead(pFile)
	defer r.mu.Unlock()
	r.drop()
	return raUnix.write(tls, pFile, zBuf, iAmt, iOfst)
}

func raTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	r := lockedReadAhead(pFile)
	defer r.mu.Unlock()
	r.drop()
	return raUnix.truncate(tls, pFile, size)
}

func raShmLock(tls *libc.TLS, pFile uintptr, ofst, n, flags int32) int32 {
	r := lockedReadAhead(pFile)
	r.drop()
	r.mu.Unlock()
	return raUnix.shmLock(tls, pFile, ofst, n, flags)
}

func raClose(tls *libc.TLS, pFile uintptr) int32 {
	raFilesMu.Lock()
	if r := raFiles[pFile]; r != nil {
		io := raClosedIO[r.name]
		raClosedIO[r.name] = [2]int64{io[0] + r.reads, io[1] + r.preads}
		for _, s := range r.streams {
			if s.mem != 0 {
				libc.Xfree(tls, s.mem)
			}
		}
	}
	delete(raFiles, pFile)
	raFilesMu.Unlock()
	return raUnix.close(tls, pFile)
}
