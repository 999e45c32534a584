package privfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteIsPrivateWhateverExistedBefore(t *testing.T) {
	dir := t.TempDir()
	for _, before := range []os.FileMode{0, 0o644, 0o666} {
		path := filepath.Join(dir, before.String())
		if before != 0 {
			if err := os.WriteFile(path, []byte("an older, longer content"), before); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, before) // past the umask
		}
		if err := Write(path, []byte("new")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if fi.Mode().Perm() != 0o600 || string(b) != "new" {
			t.Errorf("over a %v file: mode %v, content %q; want 0600 and \"new\"", before, fi.Mode().Perm(), b)
		}
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil); err == nil {
		t.Error("a file in a missing directory was written")
	}
}
