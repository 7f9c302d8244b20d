package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errFolderInUse: another tokenjar serves from the same data folder.
var errFolderInUse = errors.New("the data folder is in use")

// lockDataFolder takes an exclusive lock on DATA/tokenjar.lock for as long as the process runs,
// so two servers never share one database: each would keep its own caches of tokens, members
// and balances, and run the jobs, and a token revoked through one would still work on the
// other. The lock is the operating system's (released when the process dies, even by
// SIGKILL); the file only says which process holds it.
func lockDataFolder(dir string) (release func(), err error) {
	path := filepath.Join(dir, "tokenjar.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the data folder: %w", err)
	}
	if err := lockFile(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if pid := strings.TrimSpace(string(holder)); pid != "" {
			return nil, fmt.Errorf("%w: tokenjar (process %s) is already serving %s; stop it first, or use another --data folder", errFolderInUse, pid, dir)
		}
		return nil, fmt.Errorf("%w: another tokenjar is already serving %s (%v)", errFolderInUse, dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		f.Truncate(0)
		unlockFile(f)
		f.Close()
	}, nil
}
