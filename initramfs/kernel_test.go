package initramfs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodvm/kmodvm/guest/event"
	"github.com/kmodvm/kmodvm/internal/moddep"
	"github.com/ulikunitz/xz"
)

// buildModule compiles testdata/modules/modinfo.c into an ELF object whose
// .modinfo section holds the NUL-separated pairs, as a real module's does.
func buildModule(t *testing.T, out string, pairs ...string) []byte {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build .modinfo fixtures")
	}
	src, _ := filepath.Abs("testdata/modules/modinfo.c")
	def := `-DMODINFO="` + strings.Join(pairs, `\0`) + `"`
	tmp := filepath.Join(t.TempDir(), "m.o")
	if b, err := exec.Command(cc, "-c", def, "-o", tmp, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(out, ".xz") {
		var buf bytes.Buffer
		w, _ := xz.NewWriter(&buf)
		w.Write(data)
		w.Close()
		err = os.WriteFile(out, buf.Bytes(), 0o644)
	} else {
		err = os.WriteFile(out, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fixtureTree lays out a modules directory from testdata's modules.dep,
// with an ELF file at every path it names.
func fixtureTree(t *testing.T) (dir string, content map[string][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "lib/modules/6.1.0-test-amd64")
	content = map[string][]byte{}
	dep, err := os.ReadFile("testdata/modules/modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(dep)), "\n") {
		rel, _, _ := strings.Cut(line, ":")
		content[rel] = buildModule(t, filepath.Join(dir, rel), "name="+moddep.Name(rel))
	}
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		b, _ := os.ReadFile("testdata/modules/" + f)
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, content
}

func TestKernelResolvesDependencies(t *testing.T) {
	modDir, content := fixtureTree(t)
	ut := t.TempDir()
	drv := filepath.Join(ut, "my-drv.ko")
	buildModule(t, drv, "name=my_drv", "depends=videobuf2-v4l2,firmware_class,mc")
	helper := filepath.Join(ut, "drv_helper.ko")
	buildModule(t, helper, "name=drv_helper", "depends=my_drv,crc32_generic")
	missing := filepath.Join(ut, "needs.ko")
	buildModule(t, missing, "name=needs", "depends=nosuchmod")
	plain := filepath.Join(ut, "plain.ko")
	buildModule(t, plain, "depends=")

	tests := []struct {
		name    string
		modules []string
		want    []event.Module
		wantErr string
	}{
		{"deps before dependents, builtin skipped", []string{drv}, []event.Module{
			{Name: "mc", Path: "/kmodvm/modules/kernel/drivers/media/mc/mc.ko", Dep: true},
			{Name: "videodev", Path: "/kmodvm/modules/kernel/drivers/media/v4l2-core/videodev.ko", Dep: true},
			{Name: "videobuf2_common", Path: "/kmodvm/modules/kernel/drivers/media/common/videobuf2/videobuf2-common.ko", Dep: true},
			{Name: "videobuf2_v4l2", Path: "/kmodvm/modules/kernel/drivers/media/common/videobuf2/videobuf2-v4l2.ko", Dep: true},
			{Name: "my_drv", Path: "/kmodvm/modules/my-drv.ko"},
		}, ""},
		{"modules under test depending on each other", []string{helper, drv}, []event.Module{
			{Name: "mc", Path: "/kmodvm/modules/kernel/drivers/media/mc/mc.ko", Dep: true},
			{Name: "videodev", Path: "/kmodvm/modules/kernel/drivers/media/v4l2-core/videodev.ko", Dep: true},
			{Name: "videobuf2_common", Path: "/kmodvm/modules/kernel/drivers/media/common/videobuf2/videobuf2-common.ko", Dep: true},
			{Name: "videobuf2_v4l2", Path: "/kmodvm/modules/kernel/drivers/media/common/videobuf2/videobuf2-v4l2.ko", Dep: true},
			{Name: "my_drv", Path: "/kmodvm/modules/my-drv.ko"},
			{Name: "crc32_generic", Path: "/kmodvm/modules/kernel/crypto/crc32-generic.ko", Dep: true},
			{Name: "drv_helper", Path: "/kmodvm/modules/drv_helper.ko"},
		}, ""},
		{"name from file when modinfo has none", []string{plain}, []event.Module{
			{Name: "plain", Path: "/kmodvm/modules/plain.ko"},
		}, ""},
		{"unknown dependency", []string{missing}, nil, "needs module nosuchmod"},
	}
	b := &Builder{CacheDir: sharedCache}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layer, mods, err := b.Kernel(context.Background(), KernelLayer{ModulesDir: modDir, Modules: tt.modules})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalModules(mods, tt.want) {
				t.Fatalf("modules:\n got %+v\nwant %+v", mods, tt.want)
			}
			recs := readLayer(t, layer)
			for _, m := range mods {
				r, ok := recs[strings.TrimPrefix(m.Path, "/")]
				if !ok {
					t.Fatalf("%s missing from layer: %v", m.Path, names(recs))
				}
				if !m.Dep {
					continue
				}
				rel := strings.TrimPrefix(m.Path, "/kmodvm/modules/") + ".xz"
				if !bytes.Equal(r.Data, content[rel]) {
					t.Errorf("%s is not the decompressed %s", m.Path, rel)
				}
			}
		})
	}
}

func equalModules(a, b []event.Module) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKernelLayerKeyFollowsContent(t *testing.T) {
	modDir, _ := fixtureTree(t)
	drv := filepath.Join(t.TempDir(), "drv.ko")
	buildModule(t, drv, "name=drv", "depends=mc")
	data := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(data, []byte("test data"), 0o644)
	b := &Builder{CacheDir: sharedCache}
	kl := KernelLayer{ModulesDir: modDir, Modules: []string{drv}, Files: map[string]string{"/kmodvm/data/blob": data}}
	first, _, err := b.Kernel(context.Background(), kl)
	if err != nil {
		t.Fatal(err)
	}
	if got := readLayer(t, first)["kmodvm/data/blob"]; string(got.Data) != "test data" {
		t.Errorf("extra file holds %q", got.Data)
	}
	again, _, err := b.Kernel(context.Background(), kl)
	if err != nil || again != first {
		t.Fatalf("unchanged inputs gave %q (%v), want %q", again, err, first)
	}
	buildModule(t, filepath.Join(modDir, "kernel/drivers/media/mc/mc.ko.xz"), "name=mc", "version=2")
	changed, _, err := b.Kernel(context.Background(), kl)
	if err != nil || changed == first {
		t.Fatalf("a changed dependency gave %q (%v), the old layer", changed, err)
	}
}

func TestKernelNeedsModulesDep(t *testing.T) {
	drv := filepath.Join(t.TempDir(), "drv.ko")
	buildModule(t, drv, "name=drv")
	_, _, err := (&Builder{CacheDir: sharedCache}).Kernel(context.Background(), KernelLayer{ModulesDir: t.TempDir(), Modules: []string{drv}})
	if err == nil || !strings.Contains(err.Error(), "depmod") {
		t.Fatalf("err = %v, want a hint to run depmod", err)
	}
}
