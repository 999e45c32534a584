// Package lambdazip packages odin as the deployer's Lambda deployment package:
// a zip holding one executable, bootstrap, built for linux/arm64.
package lambdazip

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// odinModule is odin's module path: the go.mod a cross-compile builds from.
const odinModule = "github.com/odin-deploy/odin"

// Source says where the linux/arm64 odin binary comes from. Set at most one
// of Binary, Archive and SourceDir. With none, Build uses the running odin
// when it runs on linux/arm64, and otherwise cross-compiles the odin source
// above the working directory.
type Source struct {
	// Binary is a linux/arm64 odin executable.
	Binary string
	// Archive is a release archive (tar.gz or zip) holding odin for
	// linux/arm64, as goreleaser builds them.
	Archive string
	// SourceDir is odin's module directory, to cross-compile from.
	SourceDir string
	// Version is stamped into a cross-compiled odin (odin --version);
	// empty leaves "dev".
	Version string
}

// modTime is every zip's modification time, so the same binary always gives
// the same bytes and digest: the zip format's earliest.
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// maxBinary bounds what Build reads: Lambda refuses more than 250 MB
// unzipped.
const maxBinary = 250 << 20

// Build returns the deployment package for src, its SHA-256 (hex) and a
// description of where the binary came from.
func Build(ctx context.Context, src Source) (zip []byte, sha256hex string, desc string, err error) {
	return system().build(ctx, src)
}

// host is what Build asks of the machine it runs on, so tests can pretend
// to be a Lambda's architecture or to lack a Go toolchain.
type host struct {
	goos, goarch string
	executable   func() (string, error)
	getwd        func() (string, error)
	lookPath     func(string) (string, error)
}

func system() host {
	return host{goos: runtime.GOOS, goarch: runtime.GOARCH, executable: os.Executable, getwd: os.Getwd, lookPath: exec.LookPath}
}

func (h host) build(ctx context.Context, src Source) ([]byte, string, string, error) {
	bin, desc, err := h.binary(ctx, src)
	if err != nil {
		return nil, "", "", err
	}
	z, err := pack(bin)
	if err != nil {
		return nil, "", "", err
	}
	sum := sha256.Sum256(z)
	return z, hex.EncodeToString(sum[:]), desc, nil
}

func (h host) binary(ctx context.Context, src Source) ([]byte, string, error) {
	set := 0
	for _, s := range []string{src.Binary, src.Archive, src.SourceDir} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return nil, "", errors.New("give one of an odin binary, a release archive and a source directory, not several")
	}
	switch {
	case src.Binary != "":
		bin, err := readBinary(src.Binary)
		if err != nil {
			return nil, "", err
		}
		return bin, "odin binary " + src.Binary, nil
	case src.Archive != "":
		bin, err := fromArchive(src.Archive)
		if err != nil {
			return nil, "", err
		}
		return bin, "odin from release archive " + src.Archive, nil
	case src.SourceDir == "" && h.goos == "linux" && h.goarch == "arm64":
		exe, err := h.executable()
		if err != nil {
			return nil, "", fmt.Errorf("find this odin's executable: %w", err)
		}
		bin, err := readBinary(exe)
		if err != nil {
			return nil, "", err
		}
		return bin, "this odin (" + exe + ")", nil
	}
	return h.crossCompile(ctx, src)
}

func readBinary(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read the odin binary: %w", err)
	}
	defer f.Close()
	bin, err := io.ReadAll(io.LimitReader(f, maxBinary+1))
	if err != nil {
		return nil, fmt.Errorf("read the odin binary %s: %w", name, err)
	}
	if err := checkELF(bin); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return bin, nil
}

// checkELF refuses anything Lambda's arm64 runtime could not execute.
func checkELF(bin []byte) error {
	const want = "use the odin binary of the linux_arm64 release archive"
	if len(bin) > maxBinary {
		return fmt.Errorf("larger than Lambda's 250 MB limit: %s", want)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not a Linux (ELF) executable (%s): %s", kind(bin), want)
	}
	switch {
	case f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_AARCH64:
		return fmt.Errorf("built for %s, not linux/arm64 (aarch64), the deployer Lambda's architecture: %s", machine(f), want)
	case f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN:
		return fmt.Errorf("an ELF %s, not an executable: %s", f.Type, want)
	}
	return nil
}

func machine(f *elf.File) string {
	if f.Machine == elf.EM_ARM || f.Machine == elf.EM_AARCH64 {
		return fmt.Sprintf("%s (%s)", f.Machine, f.Class)
	}
	return f.Machine.String()
}

// kind names a common executable format by its magic number, to tell the
// user which platform's binary they gave.
func kind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(b, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "a macOS binary"
	case bytes.HasPrefix(b, []byte("MZ")):
		return "a Windows binary"
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}), bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "an archive: pass it with --archive"
	}
	return "unknown format"
}

// fromArchive reads odin out of a release archive.
func fromArchive(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read the release archive: %w", err)
	}
	defer f.Close()
	var bin []byte
	if strings.HasSuffix(name, ".zip") {
		bin, err = fromZip(f)
	} else {
		bin, err = fromTarGz(f)
	}
	if err != nil {
		return nil, fmt.Errorf("release archive %s: %w", name, err)
	}
	if err := checkELF(bin); err != nil {
		return nil, fmt.Errorf("odin in release archive %s: %w", name, err)
	}
	return bin, nil
}

var errNoOdin = errors.New("holds no odin executable: use the odin_<version>_linux_arm64.tar.gz release archive")

// archivedOdin picks odin out of an archive's files: the first ELF named
// odin, else the first file so named (for checkELF to say which platform
// it is for).
type archivedOdin struct{ elf, other []byte }

func (a *archivedOdin) offer(name string, r io.Reader) (done bool, err error) {
	if base := path.Base(name); base != "odin" && base != "odin.exe" {
		return false, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBinary+1))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", name, err)
	}
	if bytes.HasPrefix(b, []byte(elf.ELFMAG)) {
		a.elf = b
		return true, nil
	}
	if a.other == nil {
		a.other = b
	}
	return false, nil
}

func (a *archivedOdin) result() ([]byte, error) {
	switch {
	case a.elf != nil:
		return a.elf, nil
	case a.other != nil:
		return a.other, nil
	}
	return nil, errNoOdin
}

func fromTarGz(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("not a tar.gz (%w): give a .tar.gz or .zip release archive", err)
	}
	tr := tar.NewReader(zr)
	var a archivedOdin
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a.result()
		}
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if done, err := a.offer(hdr.Name, tr); done || err != nil {
			return a.elf, err
		}
	}
}

func fromZip(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("not a zip (%w): give a .tar.gz or .zip release archive", err)
	}
	var a archivedOdin
	for _, zf := range zr.File {
		if !zf.Mode().IsRegular() {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", zf.Name, err)
		}
		done, err := a.offer(zf.Name, rc)
		rc.Close()
		if done || err != nil {
			return a.elf, err
		}
	}
	return a.result()
}

func (h host) crossCompile(ctx context.Context, src Source) ([]byte, string, error) {
	goCmd, err := h.lookPath("go")
	if err != nil {
		return nil, "", errors.New("no Go toolchain and no --binary/--archive: download the linux_arm64 release archive and pass --archive")
	}
	dir := src.SourceDir
	if dir == "" {
		wd, err := h.getwd()
		if err != nil {
			return nil, "", fmt.Errorf("find odin's source: %w", err)
		}
		if dir, err = findModule(wd); err != nil {
			return nil, "", err
		}
	} else if mod, err := modulePath(filepath.Join(dir, "go.mod")); err != nil || mod != odinModule {
		return nil, "", fmt.Errorf("%s is not odin's source (no go.mod declaring module %s): pass odin's checkout, or --archive with the linux_arm64 release archive", dir, odinModule)
	}
	tmp, err := os.MkdirTemp("", "odin-lambda-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bootstrap")
	ldflags := "-s -w"
	if src.Version != "" {
		ldflags += " -X " + odinModule + "/cmd.version=" + src.Version
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags", ldflags, "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("cross-compile odin for linux/arm64 in %s: %w\n%s\nfix the build, or pass --archive with the linux_arm64 release archive", dir, err, bytes.TrimSpace(msg))
	}
	bin, err := readBinary(out)
	if err != nil {
		return nil, "", err
	}
	desc := "odin cross-compiled for linux/arm64 from " + dir
	if src.Version != "" {
		desc += " (version " + src.Version + ")"
	}
	return bin, desc, nil
}

// findModule walks up from dir to odin's go.mod.
func findModule(dir string) (string, error) {
	for d := dir; ; {
		if mod, err := modulePath(filepath.Join(d, "go.mod")); err == nil && mod == odinModule {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("odin's source is not here (no go.mod declaring module %s in %s or above) and this is not linux/arm64: "+
				"run from odin's checkout, or pass --archive with the linux_arm64 release archive", odinModule, dir)
		}
		d = parent
	}
}

// modulePath reads the module directive of a go.mod.
func modulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "//")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`+"`"), nil
		}
	}
	return "", fmt.Errorf("%s has no module directive", gomod)
}

// pack zips bin as bootstrap, executable, at modTime.
func pack(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	hdr := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: modTime}
	hdr.SetMode(0o755)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bin); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
