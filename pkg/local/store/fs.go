package store

import (
	"fmt"
	"io"
	"os"
)

// FS is the file layer the store reads and writes through. OSFS is the real
// one; tests inject faults (a full disk, a failed fsync) behind it.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	// SyncDir makes a rename in dir durable.
	SyncDir(dir string) error
}

// File is an open file of an FS.
type File interface {
	io.ReaderAt
	io.Writer
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// openPrivate opens a file the store writes, mode 0600 whatever mode it
// had: the mode given to OpenFile applies only to a new file, and a file
// left readable by others (copied in, restored from a backup) would stay
// so. A file layer whose files cannot change mode is left as it is.
func openPrivate(fsys FS, name string, flag int) (File, error) {
	f, err := fsys.OpenFile(name, flag, 0o600)
	if err != nil {
		return nil, err
	}
	if c, ok := f.(interface{ Chmod(os.FileMode) error }); ok {
		if err := c.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("restrict %s to mode 0600: %w", name, err)
		}
	}
	return f, nil
}

// OSFS is the operating system's file layer.
type OSFS struct{}

// OpenFile opens a file with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}

// Rename renames a file with os.Rename.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove removes a file with os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir fsyncs a directory.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
