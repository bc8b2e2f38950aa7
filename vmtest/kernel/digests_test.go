package kernel

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sameSizeEdit rewrites the file at p with as many bytes and puts its
// modification time back (`touch -r`): only its content and change time
// differ.
func sameSizeEdit(t *testing.T, p string) {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x20
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestCacheDetectsAFileChangedInPlaceAtItsSize(t *testing.T) {
	for _, c := range []struct {
		name   string
		legacy bool // the entry was made before digests
	}{{"entry with digests", false}, {"entry made before digests, used once since", true}} {
		t.Run(c.name, func(t *testing.T) {
			cache := &Cache{Dir: t.TempDir()}
			k := makeEntry(t, cache, "k1", "6.1.0-57-amd64")
			if c.legacy {
				if err := os.Remove(filepath.Join(k.Dir, digestsFile)); err != nil {
					t.Fatal(err)
				}
				if _, err := cache.Get("k1"); err != nil {
					t.Fatalf("an intact entry without digests: %v", err)
				}
				if _, err := os.Stat(filepath.Join(k.Dir, digestsFile)); err != nil {
					t.Fatalf("its digests were not recorded: %v", err)
				}
			}
			sameSizeEdit(t, k.Config)
			_, err := cache.Get("k1")
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "root/config: content differs") {
				t.Fatalf("Get = %v, want ErrCorrupt naming root/config", err)
			}
			if _, bad := cache.VerifyAll(); bad["k1"] == nil {
				t.Error("VerifyAll does not report the damaged entry")
			}
		})
	}
}

// Touching a file (its content unchanged) costs one hash, not the entry.
func TestCacheAcceptsATouchedFileAndRecordsItsFingerprint(t *testing.T) {
	cache := &Cache{Dir: t.TempDir()}
	k := makeEntry(t, cache, "k1", "6.1.0-57-amd64")
	digests := filepath.Join(k.Dir, digestsFile)
	before, err := os.ReadFile(digests)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.Vmlinux, []byte("elf kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get("k1"); err != nil {
		t.Fatalf("Get after a rewrite of the same bytes: %v", err)
	}
	after, err := os.ReadFile(digests)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) == string(after) {
		t.Error("the new fingerprint was not written back")
	}
	if _, err := cache.Verify("k1"); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// A damaged entry is made again online; offline the error names the file.
func TestFetcherRemakesADamagedEntryOnlineAndNamesItOffline(t *testing.T) {
	p := &countingProvider{}
	f := &Fetcher{Cache: &Cache{Dir: t.TempDir()}}
	f.Use(p)
	sel, err := ParseSelector("6.1-debug")
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.Fetch(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	sameSizeEdit(t, k.BzImage)
	off := &Fetcher{Cache: f.Cache, Offline: true}
	off.Use(p)
	if _, err := off.Fetch(context.Background(), sel); err == nil || !strings.Contains(err.Error(), "bzImage: content differs") || !strings.Contains(err.Error(), "offline") {
		t.Errorf("offline fetch of a damaged entry: %v, want the file named", err)
	}
	if _, err := f.Fetch(context.Background(), sel); err != nil || p.made != 2 {
		t.Errorf("online fetch: %v, made %d times; want it made again", err, p.made)
	}
}
