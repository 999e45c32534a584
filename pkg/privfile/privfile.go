// Package privfile writes files only their owner may read.
package privfile

import (
	"errors"
	"os"
)

// Write writes b to path, mode 0600 whatever mode an existing file had (the
// mode given to OpenFile applies only to a new file), set before anything is
// written.
func Write(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
