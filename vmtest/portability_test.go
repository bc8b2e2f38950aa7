package vmtest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/vmtest"
	"github.com/kmodvm/kmodvm/vmtest/report"
)

// seedPortability applies testdata/<seed>/<script> to a copy of kmod/
// (seedKmod), whose driver must then contain want, the seeded line, or
// the script no longer applies.
func seedPortability(t *testing.T, seed, script, want string) string {
	t.Helper()
	dir, _, after := seedKmod(t, seed, seed+"/"+script)
	if !strings.Contains(after, want) {
		t.Fatalf("the sed script no longer seeds %q into kmod/mmapdrv.c: update testdata/%s", want, seed)
	}
	return dir
}

// seededSuite runs the bundled suite on the seeded module dir on 6.1 of
// amd64 and of arch, and returns the kernels by architecture. The amd64
// kernel must pass as the bundled driver does: W=1 without a warning,
// every test passed, no finding.
func seededSuite(t *testing.T, dir, arch string) map[string]*report.Kernel {
	t.Helper()
	if testing.Short() {
		t.Skip("boots kernels")
	}
	rep, err := vmtest.RunMatrix(t.Context(), vmtest.Config{
		Kernels: []string{"6.1"},
		Arch:    []string{"amd64", arch},
		Modules: []string{dir},
		Tests:   []string{filepath.Join("..", "guest", "mmapdrv")},
		W1:      true,
		OutDir:  t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	byArch := map[string]*report.Kernel{}
	for _, k := range rep.Kernels {
		byArch[k.Arch] = k
	}
	amd64, other := byArch["amd64"], byArch[arch]
	if len(rep.Kernels) != 2 || amd64 == nil || other == nil {
		t.Fatalf("%d kernels ran (%v): want 6.1 of amd64 and of %s", len(rep.Kernels), byArch, arch)
	}
	if amd64.Status != report.Pass || amd64.Build == nil || len(amd64.Build.Warnings) > 0 || len(amd64.Bugs()) > 0 {
		t.Errorf("%s: %s, build %+v, findings %+v: want a pass, as the bundled driver's", amd64.Name, amd64.Status, amd64.Build, amd64.Bugs())
	}
	if other.Status != report.Fail {
		t.Errorf("%s: %s, want fail", other.Name, other.Status)
	}
	var failed []string
	for _, tt := range other.Tests {
		if tt.Status.Failed() && !strings.Contains(tt.Name, "/") {
			failed = append(failed, tt.Name)
		}
	}
	t.Logf("%s: %d of %d tests failed: %s", other.Name, len(failed), len(other.Tests), strings.Join(failed, ", "))
	return byArch
}

// MMAPDRV_IOC_GET_SIZE's result written as a u32 where its ABI says a
// __u64 fills the low half of the caller's zeroed u64 on little-endian
// amd64, which reads the size right, and the high half on big-endian
// s390x, which reads it shifted by 32 bits: the suite's check of the
// ioctl's value against the bufsize parameter fails there, and the kernel
// has nothing to say.
func TestSeededIoctlWidthFailsOnBigEndianOnly(t *testing.T) {
	t.Parallel()
	dir := seedPortability(t, "ioctlwidth", "get-size-u32.sed", "put_user((u32)drv->size, (u32 __user *)argp)")
	k := seededSuite(t, dir, "s390x")["s390x"]
	tt := wantStatus(t, k, "TestSizeMatchesModuleParam", report.Fail)
	if want := "Size() = 175921860444160 (0xa00000000000), want bufsize 40960 (0xa000)"; !strings.Contains(tt.Output, want) {
		t.Errorf("%s: TestSizeMatchesModuleParam's output lacks %q:\n%s", k.Name, want, tt.Output)
	}
	if bugs := k.Bugs(); len(bugs) > 0 {
		t.Errorf("%s: findings %+v: want none, the kernel sees nothing wrong", k.Name, bugs)
	}
}

// mmap() counting a mapping's pages as 4 KiB ones passes on amd64's 4 KiB
// pages and refuses every mapping of a whole buffer on ppc64el's 64 KiB
// (bookworm's 6.1): a page of the 40960-byte buffer counts as 16 of its
// one. The suite's check of the largest valid mappings fails, naming the
// mapping and EINVAL.
func TestSeededPageSizeFailsOnLargerPages(t *testing.T) {
	t.Parallel()
	dir := seedPortability(t, "pagesize", "pages-4k.sed", "unsigned long pages = (vma->vm_end - vma->vm_start) >> 12;")
	k := seededSuite(t, dir, "ppc64el")["ppc64el"]
	tt := wantStatus(t, k, "TestMmapRejectsBadArguments", report.Fail)
	if want := "valid mapping offset 0 length 65536: mmap /dev/mmapdrv offset 0 length 65536: invalid argument"; !strings.Contains(tt.Output, want) {
		t.Errorf("%s: TestMmapRejectsBadArguments's output lacks %q:\n%s", k.Name, want, tt.Output)
	}
	if bugs := k.Bugs(); len(bugs) > 0 {
		t.Errorf("%s: findings %+v: want none, the kernel sees nothing wrong", k.Name, bugs)
	}
}
