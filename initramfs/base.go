package initramfs

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/mkuimage/uimage/initramfs"
	"github.com/u-root/uio/llog"
	"golang.org/x/mod/modfile"
)

const (
	modulePath = "github.com/kmodvm/kmodvm"
	agentCmd   = "guest/cmd/kmodvm-agent"
)

// agentSources are the kmodvm directories whose Go files make the agent.
var agentSources = []string{"guest/agent", "guest/event", agentCmd}

// goInputs returns what every Go-built layer depends on: the source tree
// it is built from, the Go version and the GOARCH it is built for.
func (b *Builder) goInputs() (src, version, goarch string, err error) {
	if src, err = b.sourceDir(); err != nil {
		return "", "", "", err
	}
	if version, err = goVersion(); err != nil {
		return "", "", "", err
	}
	goarch, err = b.goarch()
	return src, version, goarch, err
}

// Base returns the base layer: the guest agent as /init, built for Linux
// on the Builder's architecture without cgo, plus the device nodes and
// directories of mkuimage's default root. It is cached by the agent's
// sources, go.mod and go.sum, the GOARCH and GOARM, the Go version and mkuimage's
// version.
func (b *Builder) Base(ctx context.Context) (string, error) {
	src, goVersion, _, err := b.goInputs()
	if err != nil {
		return "", err
	}
	genv, err := b.goEnv()
	if err != nil {
		return "", err
	}
	k := newKey("base", goVersion, strings.Join(genv, " "), goEnv(), depVersion("github.com/u-root/mkuimage"))
	if err := hashAgentSources(k, src); err != nil {
		return "", err
	}
	return b.cached(ctx, "base-"+k.sum()+".cpio", func(ctx context.Context, f *os.File) error {
		return buildBase(ctx, src, genv, f.Name())
	})
}

// buildBase builds the agent with the go command, which a cancelled ctx
// stops (with every compiler it started), and has mkuimage put it at /init
// on its default root. The agent is /init itself rather than u-root's init
// starting it as uinit: one exec less at boot, and nothing u-root's init
// sets up is needed. mkuimage builds no Go itself: it cannot be cancelled.
func buildBase(ctx context.Context, src string, genv []string, out string) error {
	tmp, err := os.MkdirTemp("", "kmodvm-mkuimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	agent := filepath.Join(tmp, "kmodvm-agent")
	// The flags mkuimage's binary builder uses: small and reproducible.
	cmd := proc.Command(ctx, "go", "build", "-o", agent, "-gcflags=all=-l", "-ldflags=-s -w -buildid=", "-trimpath", ".")
	cmd.Dir = filepath.Join(src, agentCmd)
	cmd.Env = append(append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0"), genv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build the guest agent: %w", context.Cause(ctx))
		}
		return fmt.Errorf("build the guest agent: %w\n%s", err, out)
	}
	var logBuf bytes.Buffer
	l := llog.New(slog.LevelWarn, func(format string, args ...any) {
		fmt.Fprintf(&logBuf, format+"\n", args...)
	})
	err = uimage.Create(l,
		uimage.WithTempDir(tmp),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithFiles(agent+":bin/kmodvm-agent"),
		uimage.WithInit("/bin/kmodvm-agent"),
		uimage.WithSkipLDD(),
		uimage.WithOutput(&initramfs.CPIOFile{Path: out}),
	)
	if err != nil {
		return fmt.Errorf("mkuimage: %w\n%s", err, logBuf.String())
	}
	return nil
}

// hashAgentSources hashes the non-test Go files the agent is built from and
// the module's dependency pins.
func hashAgentSources(k *keyHash, src string) error {
	files := []string{"go.mod", "go.sum"}
	for _, dir := range agentSources {
		err := filepath.WalkDir(filepath.Join(src, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				rel, _ := filepath.Rel(src, p)
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("hash agent sources: %w", err)
		}
	}
	sort.Strings(files[2:])
	for _, f := range files {
		if err := k.addFile(f, filepath.Join(src, f)); err != nil {
			return fmt.Errorf("hash agent sources: %w", err)
		}
	}
	return nil
}

// sourceDir finds the kmodvm module's source: the configured directory, the
// tree this package was compiled from (go test, go run, a build without
// -trimpath), or the module cache entry the go command knows.
func (b *Builder) sourceDir() (string, error) {
	if b.SourceDir != "" {
		return b.SourceDir, nil
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Dir(filepath.Dir(file))
		if isKmodvmRoot(dir) {
			return dir, nil
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || !isKmodvmRoot(dir) {
		return "", fmt.Errorf("find the %s source for the guest agent (set Builder.SourceDir): %v", modulePath, err)
	}
	return dir, nil
}

func isKmodvmRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && modfile.ModulePath(b) == modulePath
}

// goVersion is the version of the go command on PATH, read from its
// GOROOT's VERSION file: running `go env` would cost more than a warm build
// may take.
func goVersion() (string, error) {
	goroot := os.Getenv("GOROOT")
	if goroot == "" {
		gobin, err := exec.LookPath("go")
		if err != nil {
			return "", fmt.Errorf("find the go command: %w", err)
		}
		if gobin, err = filepath.EvalSymlinks(gobin); err != nil {
			return "", fmt.Errorf("find the go command: %w", err)
		}
		goroot = filepath.Dir(filepath.Dir(gobin))
	}
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		out, err := exec.Command("go", "env", "GOVERSION").Output()
		if err != nil {
			return "", fmt.Errorf("go version: %w", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return goroot + " " + line, nil
}

// depVersion is the version of a module compiled into this program.
func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Path + "@" + d.Replace.Version
			}
			return d.Version
		}
	}
	return "unknown"
}

// goEnv is the part of the environment that changes what the go command
// builds; GOOS, GOARCH and CGO_ENABLED are always set for the guest.
func goEnv() string {
	var parts []string
	for _, v := range []string{"GOFLAGS", "GOAMD64", "GOEXPERIMENT", "GOWORK", "GOTOOLCHAIN"} {
		parts = append(parts, v+"="+os.Getenv(v))
	}
	return strings.Join(parts, " ")
}
