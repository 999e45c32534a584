// Package faultfs is a store.FS that fails on demand, as a full disk does:
// the tests of the store and of what runs on it inject faults through it.
package faultfs

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/odin-deploy/odin/pkg/local/store"
)

// FS is the operating system's file layer with injected faults. Every
// write through any file it opened is counted; the zero value injects none.
type FS struct {
	store.OSFS

	mu       sync.Mutex
	writes   int
	failAt   map[int]bool
	full     bool
	truncErr int // truncates left to fail
}

// FailWrite makes write number n (counting from 1 since the FS was made)
// fail with ENOSPC after writing half its bytes, as a disk that fills
// mid-write does.
func (f *FS) FailWrite(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt == nil {
		f.failAt = map[int]bool{}
	}
	f.failAt[n] = true
}

// SetFull makes every write fail with ENOSPC (after half its bytes) until
// SetFull(false): a disk that stays full.
func (f *FS) SetFull(full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.full = full
}

// FailTruncates makes the next n truncates fail with EIO.
func (f *FS) FailTruncates(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncErr = n
}

// Writes returns how many writes were made.
func (f *FS) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// OpenFile opens a file whose writes and truncates go through f.
func (f *FS) OpenFile(name string, flag int, perm os.FileMode) (store.File, error) {
	file, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

type faultFile struct {
	*os.File
	fs *FS
}

func (ff *faultFile) Write(b []byte) (int, error) {
	f := ff.fs
	f.mu.Lock()
	f.writes++
	fail := f.full || f.failAt[f.writes]
	n := f.writes
	f.mu.Unlock()
	if !fail {
		return ff.File.Write(b)
	}
	half, _ := ff.File.Write(b[:len(b)/2])
	return half, &os.PathError{Op: "write", Path: ff.Name(), Err: fmt.Errorf("injected at write %d: %w", n, syscall.ENOSPC)}
}

func (ff *faultFile) Truncate(size int64) error {
	f := ff.fs
	f.mu.Lock()
	fail := f.truncErr > 0
	if fail {
		f.truncErr--
	}
	f.mu.Unlock()
	if fail {
		return &os.PathError{Op: "truncate", Path: ff.Name(), Err: syscall.EIO}
	}
	return ff.File.Truncate(size)
}
