package debianprov

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// armHeader is the 64-byte header of an arm64 Image with its magic.
func armHeader() []byte {
	h := make([]byte, 4096)
	binary.LittleEndian.PutUint32(h[56:], armImageMagic)
	return h
}

func TestArmImageKeepsARawImage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(path, armHeader(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := flatImage(path, filepath.Join(dir, "Image"), false)
	if err != nil || got != path {
		t.Errorf("armImage = %s, %v; want the vmlinuz itself", got, err)
	}
}

func TestArmImageDecompressesGzip(t *testing.T) {
	dir := t.TempDir()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(armHeader())
	zw.Close()
	path, out := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "Image")
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := flatImage(path, out, false)
	if err != nil || got != out {
		t.Fatalf("armImage = %s, %v; want %s", got, err, out)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, armHeader()) {
		t.Error("the Image is not the decompressed vmlinuz")
	}
	// A bzImage is neither.
	if err := os.WriteFile(path, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := flatImage(path, out, false); err == nil {
		t.Error("armImage accepted a file without the arm64 magic")
	}
}

// TestRiscvImage: a RISC-V Image is recognised by its own magic, and an
// arm64 Image is not one.
func TestRiscvImage(t *testing.T) {
	dir := t.TempDir()
	h := make([]byte, 4096)
	binary.LittleEndian.PutUint32(h[56:], riscvImageMagic)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(h)
	zw.Close()
	path, out := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "Image")
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := flatImage(path, out, true); err != nil || got != out {
		t.Fatalf("flatImage = %s, %v; want %s", got, err, out)
	}
	if err := os.WriteFile(path, armHeader(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := flatImage(path, out, true); err == nil {
		t.Error("an arm64 Image passed for a RISC-V one")
	}
}
