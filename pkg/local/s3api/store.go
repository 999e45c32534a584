package s3api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Layout under the S3 directory:
//
//	s3.db          bbolt: bucket records and object metadata, committed atomically
//	blobs/<id>     object bytes, one immutable file per version written
//	blobs/.tmp-*   uploads in progress (swept at start)
//
// An object's metadata names its blob. A write streams to a temporary file,
// fsyncs it, and only inside the bolt transaction that checks the write's
// conditions renames it to its blob name; so conditions are atomic with the
// write, a crash never exposes half an object, and a blob left without
// metadata by a crash is removed at the next start.

var (
	bucketsKey = []byte("buckets") // name -> bucketRecord
	objectsKey = []byte("objects") // nested: bucket name -> key -> objectMeta
)

type bucketRecord struct {
	Created time.Time `json:"created"`
}

type objectMeta struct {
	Blob         string            `json:"blob"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // hex MD5, unquoted
	LastModified time.Time         `json:"lastModified"`
	Headers      map[string]string `json:"headers,omitempty"` // Content-Type and the other stored headers
	Metadata     map[string]string `json:"metadata,omitempty"`
	Checksums    map[string]string `json:"checksums,omitempty"` // algorithm -> base64
}

type store struct {
	db    *bolt.DB
	blobs string
}

func openStore(dir string) (*store, error) {
	blobs := filepath.Join(dir, "blobs")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", blobs, err)
	}
	db, err := bolt.Open(filepath.Join(dir, "s3.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, "s3.db"), err)
	}
	// bolt's mode applies to a new file only; the index names every object.
	if err := os.Chmod(db.Path(), 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("make %s private: %w", db.Path(), err)
	}
	s := &store{db: db, blobs: blobs}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, k := range [][]byte{bucketsKey, uploadsKey} {
			if _, err := tx.CreateBucketIfNotExists(k); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucketIfNotExists(objectsKey)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise %s: %w", filepath.Join(dir, "s3.db"), err)
	}
	if err := s.sweep(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// sweep removes uploads that never committed and blobs no object names.
func (s *store) sweep() error {
	live := map[string]bool{}
	err := s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(uploadsKey).ForEach(func(_, v []byte) error {
			var u upload
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			for _, p := range u.Parts {
				live[p.Blob] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(objectsKey).ForEachBucket(func(name []byte) error {
			return tx.Bucket(objectsKey).Bucket(name).ForEach(func(_, v []byte) error {
				var m objectMeta
				if err := json.Unmarshal(v, &m); err != nil {
					return err
				}
				live[m.Blob] = true
				return nil
			})
		})
	})
	if err != nil {
		return fmt.Errorf("read object index: %w", err)
	}
	entries, err := os.ReadDir(s.blobs)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.blobs, err)
	}
	for _, e := range entries {
		if !live[e.Name()] {
			if err := os.Remove(filepath.Join(s.blobs, e.Name())); err != nil {
				return fmt.Errorf("remove orphan blob: %w", err)
			}
		}
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }

func newBlobID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *store) blobPath(id string) string { return filepath.Join(s.blobs, id) }

// tempFile creates the file an upload streams into.
func (s *store) tempFile() (*os.File, error) {
	return os.CreateTemp(s.blobs, ".tmp-*")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func getMeta(b *bolt.Bucket, key string) (*objectMeta, error) {
	v := b.Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	var m objectMeta
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, fmt.Errorf("object %q has a corrupt index entry: %w", key, err)
	}
	return &m, nil
}

// conditions are the preconditions of a write or delete.
type conditions struct {
	ifNoneMatchAny bool
	ifMatch        string // unquoted ETag, or "*"
	ifMatchSize    *int64
	ifMatchLMT     *time.Time
}

func (c conditions) check(bucket, key string, cur *objectMeta) *Error {
	if c.ifNoneMatchAny && cur != nil {
		return errPrecondition("If-None-Match")
	}
	if c.ifMatch != "" || c.ifMatchSize != nil || c.ifMatchLMT != nil {
		if cur == nil {
			return errNoSuchKey(bucket, key)
		}
	}
	if c.ifMatch != "" && c.ifMatch != "*" && c.ifMatch != cur.ETag {
		return errPrecondition("If-Match")
	}
	if c.ifMatchSize != nil && *c.ifMatchSize != cur.Size {
		return errPrecondition("x-amz-if-match-size")
	}
	if c.ifMatchLMT != nil && !c.ifMatchLMT.Equal(cur.LastModified.Truncate(time.Second)) {
		return errPrecondition("x-amz-if-match-last-modified-time")
	}
	return nil
}

// errAbort carries an S3 error out of a bolt transaction, rolling it back.
type errAbort struct{ e *Error }

func (e errAbort) Error() string { return e.e.Error() }

func asS3Error(err error) (*Error, bool) {
	var a errAbort
	if errors.As(err, &a) {
		return a.e, true
	}
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// commitPut links the fsynced temporary file tmp as the object's bytes if
// cond holds, and returns the blob it replaced (to be removed by the caller).
func (s *store) commitPut(bucket, key, tmp string, meta objectMeta, cond conditions) (old string, err error) {
	return s.commitPutWith(bucket, key, tmp, meta, cond, nil)
}

// commitPutWith is commitPut that also runs also in the same transaction.
func (s *store) commitPutWith(bucket, key, tmp string, meta objectMeta, cond conditions, also func(*bolt.Tx) error) (old string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketsKey).Get([]byte(bucket)) == nil {
			return errAbort{errNoSuchBucket(bucket)}
		}
		ob := tx.Bucket(objectsKey).Bucket([]byte(bucket))
		cur, err := getMeta(ob, key)
		if err != nil {
			return err
		}
		if e := cond.check(bucket, key, cur); e != nil {
			return errAbort{e}
		}
		v, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		if err := ob.Put([]byte(key), v); err != nil {
			return err
		}
		if err := os.Rename(tmp, s.blobPath(meta.Blob)); err != nil {
			return fmt.Errorf("link object data: %w", err)
		}
		// The rename must be durable before the index that names it is.
		if err := syncDir(s.blobs); err != nil {
			return fmt.Errorf("sync %s: %w", s.blobs, err)
		}
		if cur != nil {
			old = cur.Blob
		}
		return nil
	})
	if err != nil {
		// A failed commit leaves the renamed blob orphaned; remove it now
		// rather than at the next start.
		_ = os.Remove(s.blobPath(meta.Blob))
		return "", err
	}
	return old, nil
}

// deleteObject removes key if cond holds and returns the blob to remove.
func (s *store) deleteObject(bucket, key string, cond conditions) (old string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(bucket)) == nil {
			return errAbort{errNoSuchBucket(bucket)}
		}
		ob := tx.Bucket(objectsKey).Bucket([]byte(bucket))
		cur, err := getMeta(ob, key)
		if err != nil {
			return err
		}
		if e := cond.check(bucket, key, cur); e != nil {
			return errAbort{e}
		}
		if cur == nil {
			return nil
		}
		old = cur.Blob
		return ob.Delete([]byte(key))
	})
	return old, err
}

// openObject returns the object's metadata and its bytes, opened inside the
// read transaction so a concurrent overwrite cannot remove them first.
func (s *store) openObject(bucket, key string) (*objectMeta, *os.File, error) {
	var (
		meta *objectMeta
		f    *os.File
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(bucket)) == nil {
			return errAbort{errNoSuchBucket(bucket)}
		}
		m, err := getMeta(tx.Bucket(objectsKey).Bucket([]byte(bucket)), key)
		if err != nil {
			return err
		}
		if m == nil {
			return errAbort{errNoSuchKey(bucket, key)}
		}
		f, err = os.Open(s.blobPath(m.Blob))
		if err != nil {
			return fmt.Errorf("open data of %s/%s: %w", bucket, key, err)
		}
		meta = m
		return nil
	})
	return meta, f, err
}

func (s *store) createBucket(name string, now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(name)) != nil {
			return errAbort{&Error{Status: 409, Code: "BucketAlreadyOwnedByYou",
				Message: "Your previous request to create the named bucket succeeded and you already own it.", Bucket: name}}
		}
		v, _ := json.Marshal(bucketRecord{Created: now})
		if err := tx.Bucket(bucketsKey).Put([]byte(name), v); err != nil {
			return err
		}
		_, err := tx.Bucket(objectsKey).CreateBucketIfNotExists([]byte(name))
		return err
	})
}

func (s *store) deleteBucket(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(name)) == nil {
			return errAbort{errNoSuchBucket(name)}
		}
		ob := tx.Bucket(objectsKey).Bucket([]byte(name))
		if k, _ := ob.Cursor().First(); k != nil {
			return errAbort{&Error{Status: 409, Code: "BucketNotEmpty", Message: "The bucket you tried to delete is not empty", Bucket: name}}
		}
		if err := tx.Bucket(objectsKey).DeleteBucket([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketsKey).Delete([]byte(name))
	})
}

func (s *store) bucketExists(name string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketsKey).Get([]byte(name)) != nil
		return nil
	})
	return ok, err
}

func (s *store) listBuckets() ([]bucketInfo, error) {
	var out []bucketInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketsKey).ForEach(func(k, v []byte) error {
			var r bucketRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, bucketInfo{Name: string(k), CreationDate: s3Time(r.Created)})
			return nil
		})
	})
	return out, err
}

// listing is one page of a bucket listing.
type listing struct {
	objects   []listedObject
	prefixes  []string
	truncated bool
	// next is where the following page starts (exclusive); for a common
	// prefix it is the prefix itself, and every key under it is skipped.
	next     string
	nextIsCP bool
}

type listedObject struct {
	key  string
	meta objectMeta
}

// list walks keys in byte order (S3's UTF-8 binary order) from after, which
// is exclusive, rolling keys up to delimiter into common prefixes.
func (s *store) list(bucket, prefix, delimiter, after string, afterIsCP bool, max int) (*listing, error) {
	out := &listing{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketsKey).Get([]byte(bucket)) == nil {
			return errAbort{errNoSuchBucket(bucket)}
		}
		c := tx.Bucket(objectsKey).Bucket([]byte(bucket)).Cursor()
		start := prefix
		if after > start {
			start = after
		}
		n := 0
		for k, v := c.Seek([]byte(start)); k != nil; k, v = c.Next() {
			key := string(k)
			if !strings.HasPrefix(key, prefix) {
				break
			}
			if after != "" && (key == after || (afterIsCP && strings.HasPrefix(key, after)) || key < after) {
				continue
			}
			var cp string
			if delimiter != "" {
				if i := strings.Index(key[len(prefix):], delimiter); i >= 0 {
					cp = key[:len(prefix)+i+len(delimiter)]
				}
			}
			if cp != "" && len(out.prefixes) > 0 && out.prefixes[len(out.prefixes)-1] == cp {
				continue
			}
			if n == max {
				// max-keys=0 asks for nothing, not for an endless pagination.
				out.truncated = max > 0
				return nil
			}
			n++
			if cp != "" {
				out.prefixes = append(out.prefixes, cp)
				out.next, out.nextIsCP = cp, true
				continue
			}
			var m objectMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("object %q has a corrupt index entry: %w", key, err)
			}
			out.objects = append(out.objects, listedObject{key: key, meta: m})
			out.next, out.nextIsCP = key, false
		}
		return nil
	})
	return out, err
}
