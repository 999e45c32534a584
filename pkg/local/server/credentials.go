package server

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Credentials are the one access key the local backend accepts.
type Credentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// String keeps the secret out of logs and %v.
func (c Credentials) String() string { return "Credentials{" + c.AccessKeyID + ", secret redacted}" }

// CredentialsFile is the name of the credentials file in the data directory.
const CredentialsFile = "credentials.json"

// generateCredentials makes a key id shaped like AWS's (20 upper-case
// characters; the LKIA prefix says "local") and a 40-character secret.
func generateCredentials() (Credentials, error) {
	id := make([]byte, 10)
	secret := make([]byte, 30)
	if _, err := rand.Read(id); err != nil {
		return Credentials{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     "LKIA" + base32.StdEncoding.EncodeToString(id),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret),
	}, nil
}

// loadOrCreateCredentials reads dir's credentials, generating them on first
// start. The file is 0600; a file others can read is tightened, because the
// secret is all that guards the backend.
func loadOrCreateCredentials(dir string) (Credentials, error) {
	path := filepath.Join(dir, CredentialsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err := generateCredentials()
		if err != nil {
			return Credentials{}, fmt.Errorf("generate credentials: %w", err)
		}
		b, _ := json.MarshalIndent(c, "", "  ")
		if err := writeFileAtomic(path, append(b, '\n')); err != nil {
			return Credentials{}, err
		}
		return c, nil
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("read %s: %w", path, err)
	}
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, fmt.Errorf("%s is not valid credentials JSON (delete it to generate new credentials)", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return Credentials{}, fmt.Errorf("restrict %s to mode 0600: %w", path, err)
		}
	}
	return c, nil
}

// writeFileAtomic writes a 0600 file by rename, so a reader never sees half of it.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
