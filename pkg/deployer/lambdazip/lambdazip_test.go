package lambdazip

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeELF is the 64-byte header of an ELF file and nothing else: enough for
// debug/elf, and for Lambda to be refused or accepted by checkELF.
func fakeELF(t *testing.T, class elf.Class, machine elf.Machine, typ elf.Type) []byte {
	t.Helper()
	var b bytes.Buffer
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	if class == elf.ELFCLASS32 {
		h := elf.Header32{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 52}
		binary.Write(&b, binary.LittleEndian, h)
	} else {
		h := elf.Header64{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT), Ehsize: 64}
		binary.Write(&b, binary.LittleEndian, h)
	}
	// Something after the header, as a binary has.
	b.WriteString(strings.Repeat("odin ", 1000))
	return b.Bytes()
}

func arm64ELF(t *testing.T) []byte { return fakeELF(t, elf.ELFCLASS64, elf.EM_AARCH64, elf.ET_EXEC) }

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// unzip returns the package's one file, checking Lambda can run it.
func unzip(t *testing.T, z []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("zip holds %d files, want 1 (bootstrap)", len(zr.File))
	}
	zf := zr.File[0]
	if zf.Name != "bootstrap" || zf.Mode() != 0o755 {
		t.Fatalf("zip holds %s mode %v, want bootstrap mode -rwxr-xr-x", zf.Name, zf.Mode())
	}
	if !zf.Modified.Equal(modTime) {
		t.Errorf("modified %v, want %v", zf.Modified, modTime)
	}
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The same binary always gives the same package, whenever and wherever it
// is built: the stack's code digest changes only with odin.
func TestBuildIsDeterministic(t *testing.T) {
	bin := arm64ELF(t)
	first := write(t, "odin", bin)
	z1, sum1, desc, err := Build(context.Background(), Source{Binary: first})
	if err != nil {
		t.Fatal(err)
	}
	if desc != "odin binary "+first {
		t.Errorf("desc %q", desc)
	}
	if got := sha256.Sum256(z1); hex.EncodeToString(got[:]) != sum1 {
		t.Errorf("digest %s is not the zip's", sum1)
	}
	if got := unzip(t, z1); !bytes.Equal(got, bin) {
		t.Error("bootstrap is not the binary")
	}

	// Another copy, another name, another time.
	second := write(t, "odin-copy", bin)
	later := time.Now().Add(48 * time.Hour)
	if err := os.Chtimes(second, later, later); err != nil {
		t.Fatal(err)
	}
	z2, sum2, _, err := Build(context.Background(), Source{Binary: second})
	if err != nil {
		t.Fatal(err)
	}
	if sum1 != sum2 || !bytes.Equal(z1, z2) {
		t.Errorf("same binary, different packages: %s and %s", sum1, sum2)
	}

	_, sum3, _, err := Build(context.Background(), Source{Binary: write(t, "odin", append(bin, '!'))})
	if err != nil {
		t.Fatal(err)
	}
	if sum3 == sum1 {
		t.Error("different binaries, same digest")
	}
}

func TestBuildRefusesWhatLambdaCannotRun(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"x86-64", fakeELF(t, elf.ELFCLASS64, elf.EM_X86_64, elf.ET_EXEC), "built for EM_X86_64, not linux/arm64"},
		{"32-bit arm", fakeELF(t, elf.ELFCLASS32, elf.EM_ARM, elf.ET_EXEC), "built for EM_ARM (ELFCLASS32), not linux/arm64"},
		{"object file", fakeELF(t, elf.ELFCLASS64, elf.EM_AARCH64, elf.ET_REL), "an ELF ET_REL, not an executable"},
		{"macOS", append([]byte{0xcf, 0xfa, 0xed, 0xfe}, make([]byte, 100)...), "not a Linux (ELF) executable (a macOS binary)"},
		{"Windows", append([]byte("MZ"), make([]byte, 100)...), "not a Linux (ELF) executable (a Windows binary)"},
		{"script", []byte("#!/bin/sh\nexec odin deployer lambda\n"), "not a Linux (ELF) executable (unknown format)"},
		{"archive", append([]byte{0x1f, 0x8b}, make([]byte, 100)...), "an archive: pass it with --archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, "odin", tt.data)
			_, _, _, err := Build(context.Background(), Source{Binary: p})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, p, tt.want)
			}
			if !strings.Contains(err.Error(), "linux_arm64 release archive") && tt.name != "archive" {
				t.Errorf("%v does not say what to use instead", err)
			}
		})
	}
	if _, _, _, err := Build(context.Background(), Source{Binary: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing binary: %v", err)
	}
}

type archiveFile struct {
	name string
	data []byte
}

func tarGz(t *testing.T, files ...archiveFile) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "completions/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return b.Bytes()
}

func zipArchive(t *testing.T, files ...archiveFile) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A goreleaser archive holds odin next to README, LICENSE and completion
// scripts (one of which a shell may name odin too).
func TestBuildFromArchive(t *testing.T) {
	bin := arm64ELF(t)
	readme := archiveFile{"README.md", []byte("# odin\n")}
	completion := archiveFile{"completions/odin", []byte("complete -F _odin odin\n")}
	tests := []struct {
		name    string
		archive []byte
		want    string // error; empty: the package holds bin
	}{
		{"odin_1.2.0_linux_arm64.tar.gz", tarGz(t, readme, completion, archiveFile{"odin", bin}), ""},
		{"odin_1.2.0_linux_arm64.zip", zipArchive(t, readme, archiveFile{"odin_1.2.0_linux_arm64/odin", bin}), ""},
		{"odin_1.2.0_linux_amd64.tar.gz", tarGz(t, readme, archiveFile{"odin", fakeELF(t, elf.ELFCLASS64, elf.EM_X86_64, elf.ET_EXEC)}), "built for EM_X86_64, not linux/arm64"},
		{"odin_1.2.0_windows_arm64.zip", zipArchive(t, readme, archiveFile{"odin.exe", append([]byte("MZ"), make([]byte, 64)...)}), "a Windows binary"},
		{"odin_1.2.0_linux_arm64.tar.gz", tarGz(t, readme), "holds no odin executable"},
		{"odin.tar.gz", []byte("not gzip"), "not a tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, tt.name, tt.archive)
			z, _, desc, err := Build(context.Background(), Source{Archive: p})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
					t.Fatalf("got %v, want an error naming the archive and saying %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := unzip(t, z); !bytes.Equal(got, bin) {
				t.Error("bootstrap is not the archive's odin")
			}
			if desc != "odin from release archive "+p {
				t.Errorf("desc %q", desc)
			}
		})
	}
}

// Where no binary is given: on linux/arm64, the running odin; elsewhere a
// cross-compile, or a refusal that says what to do.
func TestBuildWithoutSource(t *testing.T) {
	bin := arm64ELF(t)
	self := write(t, "odin", bin)
	noGo := func(string) (string, error) { return "", errors.New("not found") }
	dir := t.TempDir()
	cwd := func() (string, error) { return dir, nil }
	onLambdaArch := host{goos: "linux", goarch: "arm64", executable: func() (string, error) { return self, nil }, getwd: cwd, lookPath: noGo}
	z, _, desc, err := onLambdaArch.build(context.Background(), Source{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzip(t, z), bin) || desc != "this odin ("+self+")" {
		t.Errorf("on linux/arm64 the package is not this odin: %s", desc)
	}

	elsewhere := host{goos: "darwin", goarch: "arm64", getwd: cwd, lookPath: noGo}
	_, _, _, err = elsewhere.build(context.Background(), Source{})
	if err == nil || err.Error() != "no Go toolchain and no --binary/--archive: download the linux_arm64 release archive and pass --archive" {
		t.Errorf("no Go toolchain: %v", err)
	}

	withGo := elsewhere
	withGo.lookPath = func(string) (string, error) { return "/usr/bin/go", nil }
	_, _, _, err = withGo.build(context.Background(), Source{})
	if err == nil || !strings.Contains(err.Error(), "odin's source is not here") || !strings.Contains(err.Error(), dir) {
		t.Errorf("outside odin's source: %v", err)
	}
	other := write(t, "go.mod", []byte("module example.com/other\n\ngo 1.26\n"))
	_, _, _, err = withGo.build(context.Background(), Source{SourceDir: filepath.Dir(other)})
	if err == nil || !strings.Contains(err.Error(), "is not odin's source") {
		t.Errorf("another module: %v", err)
	}

	_, _, _, err = Build(context.Background(), Source{Binary: self, Archive: self})
	if err == nil || !strings.Contains(err.Error(), "not several") {
		t.Errorf("two sources: %v", err)
	}
}

func TestFindModule(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("// odin\nmodule   \"github.com/odin-deploy/odin\" // the tool\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(root, "pkg", "deployer")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	// A nested module (examples, tools) is not odin.
	if err := os.WriteFile(filepath.Join(root, "pkg", "go.mod"), []byte("module github.com/odin-deploy/odin/pkg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := findModule(nested)
	if err != nil || got != root {
		t.Fatalf("findModule = %q, %v; want %q", got, err, root)
	}
}

// Cross-compiling this repository gives a Lambda's binary.
func TestBuildCrossCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles odin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h := system()
	h.goos, h.goarch = "darwin", "amd64" // never the running odin, even on arm64
	start := time.Now()
	z, sum, desc, err := h.build(ctx, Source{Version: "v9.9.9-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes zipped, sha256 %s, in %s", desc, len(z), sum, time.Since(start).Round(time.Second))
	if !strings.HasPrefix(desc, "odin cross-compiled for linux/arm64 from ") || !strings.HasSuffix(desc, "(version v9.9.9-test)") {
		t.Errorf("desc %q", desc)
	}
	bin := unzip(t, z)
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("built %s %s %s, want an aarch64 executable", f.Class, f.Machine, f.Type)
	}
	if !bytes.Contains(bin, []byte("v9.9.9-test")) {
		t.Error("the version is not stamped")
	}
}
