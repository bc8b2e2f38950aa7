package zfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestUnpackAndReadAllGiveTheOriginal(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("\x7fELF kernel bytes "), 100000)
	enc, _ := zstd.NewWriter(nil)
	src := filepath.Join(dir, "vmlinux.zst")
	os.WriteFile(src, enc.EncodeAll(want, nil), 0o644)
	enc.Close()
	got, err := ReadAll(src)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAll: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	dst := filepath.Join(dir, "vmlinux")
	if err := Unpack(src, dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
		t.Errorf("Unpack wrote %d bytes, want the original %d", len(got), len(want))
	}
}

// A file cut short is an error, and leaves no partial output.
func TestUnpackOfADamagedFileFails(t *testing.T) {
	dir := t.TempDir()
	enc, _ := zstd.NewWriter(nil)
	b := enc.EncodeAll(bytes.Repeat([]byte("abcdefgh"), 1<<16), nil)
	enc.Close()
	src := filepath.Join(dir, "k.zst")
	os.WriteFile(src, b[:len(b)/2], 0o644)
	dst := filepath.Join(dir, "k")
	if err := Unpack(src, dst); err == nil {
		t.Fatal("Unpack of half a file succeeded")
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("partial output left: %v", err)
	}
	if _, err := ReadAll(src); err == nil {
		t.Error("ReadAll of half a file succeeded")
	}
}
