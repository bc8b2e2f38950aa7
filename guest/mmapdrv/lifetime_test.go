package mmapdrv

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/testenv"
	"golang.org/x/sys/unix"
)

// restoreAfter makes the module loaded with its configured parameters again
// when t ends, and returns its configuration entry.
func restoreAfter(t *testing.T) string {
	t.Helper()
	testenv.SkipIfNotVM(t)
	m, err := testenv.Module(ModuleName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.RestoreModule(t, m) })
	return m.Path
}

func refcnt(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/sys/module/" + ModuleName + "/refcnt")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnloadFailsWhileMapped(t *testing.T) {
	restoreAfter(t)
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(30, pageSize)
	m, err := d.Map(0, int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	copy(m, want)
	// Only the mapping holds the module now, through vma->vm_file.
	d.Close()
	if n := refcnt(t); n != 1 {
		t.Errorf("refcnt with one mapping and no descriptor = %d, want 1", n)
	}
	err = testenv.UnloadModule(ModuleName)
	expectErrno(t, "unload while mapped", err, unix.EAGAIN, unix.EBUSY)
	if err == nil {
		t.Fatal("module unloaded under a live mapping")
	}
	if !bytes.Equal(m, want) {
		t.Errorf("mapping changed across the refused unload: %s", firstDiff(m, want))
	}
	if err := Unmap(m); err != nil {
		t.Fatal(err)
	}
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatalf("unload after munmap: %v", err)
	}
}

func TestUnloadFailsWhileOpen(t *testing.T) {
	restoreAfter(t)
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	expectErrno(t, "unload while open", testenv.UnloadModule(ModuleName), unix.EAGAIN, unix.EBUSY)
	d.Close()
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatalf("unload after close: %v", err)
	}
}

// A fresh load starts from a zeroed buffer, padding included.
func TestFreshBufferIsZero(t *testing.T) {
	testenv.SkipIfNotVM(t)
	mod, err := testenv.Module(ModuleName)
	if err != nil {
		t.Fatal(err)
	}
	testenv.ReloadModule(t, ModuleName, mod.Params)
	d := openDev(t, unix.O_RDONLY)
	if !isZero(contents(t, d)) {
		t.Error("read() of a fresh buffer is not all zero")
	}
	if m := mapped(t, d, 0, int(pageAlign(devSize(t, d))), unix.PROT_READ, unix.MAP_SHARED); !isZero(m) {
		t.Error("mapping of a fresh buffer is not all zero")
	}
}

func TestReloadChangesMappableSize(t *testing.T) {
	for _, size := range []int64{1, 4096, 5000, 1 << 20} {
		t.Run(strconv.FormatInt(size, 10), func(t *testing.T) {
			testenv.SkipIfNotVM(t)
			testenv.ReloadModule(t, ModuleName, fmt.Sprintf("bufsize=%d", size))
			checkGeometry(t, size)
		})
	}
}

// checkGeometry holds the loaded driver to a buffer of size bytes.
func checkGeometry(t *testing.T, size int64) {
	d := openDev(t, unix.O_RDWR)
	if got := devSize(t, d); got != size {
		t.Fatalf("Size() = %d, want %d", got, size)
	}
	mappable := pageAlign(size)
	m := mapped(t, d, 0, int(mappable), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	for _, r := range [][2]int64{{0, mappable + pageSize}, {mappable, pageSize}} {
		b, err := d.Map(r[0], int(r[1]), unix.PROT_READ, unix.MAP_SHARED)
		if err == nil {
			Unmap(b)
		}
		expectErrno(t, fmt.Sprintf("map offset %d length %d", r[0], r[1]), err, unix.EINVAL)
	}
	m[size-1] = 0x42
	got := make([]byte, 2)
	if n, err := d.ReadAt(got, size-1); n != 1 || err != nil || got[0] != 0x42 {
		t.Errorf("last byte: read (%d, %v) %#x, want 1 byte 0x42", n, err, got[0])
	}
	if mappable > size {
		// Padding is reachable through mappings only.
		m[size] = 0x43
		if n, err := d.ReadAt(got, size); n != 0 || err != nil {
			t.Errorf("read in the padding = (%d, %v), want EOF", n, err)
		}
	}
	_, err := d.WriteAt([]byte{1}, size)
	expectErrno(t, "write at the end", err, unix.ENOSPC)
	if pos, err := d.Seek(0, unix.SEEK_END); pos != size || err != nil {
		t.Errorf("SEEK_END = (%d, %v), want %d", pos, err, size)
	}
}

func TestBadBufsizeRefused(t *testing.T) {
	path := restoreAfter(t)
	if err := testenv.UnloadModule(ModuleName); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		params string
		want   unix.Errno
		log    string // expected in the kernel log
	}{
		{"bufsize=0", unix.EINVAL, "bufsize=0 is out of range"},
		{fmt.Sprintf("bufsize=%d", MaxBufSize+1), unix.EINVAL, "is out of range"},
		{"bufsize=abc", unix.EINVAL, "invalid for parameter"},
		{"bufsize=-1", unix.EINVAL, "invalid for parameter"},
		{"bufsize=4294967296", unix.ERANGE, "invalid for parameter"}, // overflows uint
	} {
		t.Run(tc.params, func(t *testing.T) {
			k, err := testenv.OpenKmsg()
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			err = testenv.LoadModule(path, tc.params)
			if err == nil {
				testenv.UnloadModule(ModuleName)
			}
			expectErrno(t, "load "+tc.params, err, tc.want)
			if testenv.ModuleLoaded(ModuleName) {
				t.Error("module is loaded after a refused init")
			}
			lines, _ := k.Lines()
			if !strings.Contains(strings.Join(lines, "\n"), tc.log) {
				t.Errorf("kernel log lacks %q; got %q", tc.log, lines)
			}
		})
	}
	t.Run("largest", func(t *testing.T) {
		if err := testenv.LoadModule(path, fmt.Sprintf("bufsize=%d", MaxBufSize)); err != nil {
			t.Fatal(err)
		}
		defer testenv.UnloadModule(ModuleName)
		d, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if size, err := d.Size(); size != MaxBufSize || err != nil {
			t.Errorf("Size() = (%d, %v), want %d", size, err, MaxBufSize)
		}
		m, err := d.Map(0, MaxBufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		m[MaxBufSize-1] = 7
		got := []byte{0}
		if _, err := d.ReadAt(got, MaxBufSize-1); err != nil || got[0] != 7 {
			t.Errorf("last byte of the largest buffer did not read back (%v)", err)
		}
		Unmap(m)
	})
}
