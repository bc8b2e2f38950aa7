package debian

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/kmodvm/kmodvm/internal/atomicfile"
	"github.com/kmodvm/kmodvm/internal/proc"
	"github.com/kmodvm/kmodvm/vmtest/arch"
)

// EnvAllowExpired, set to 1, lets apt take a Release file past its
// Valid-Until date: for a mirror pinned to a date on purpose
// (snapshot.debian.org), never for a live one.
const EnvAllowExpired = "KMODVM_DEBIAN_ALLOW_EXPIRED"

// writeConfig writes the private apt configuration and returns its path.
// Release files are checked against the archive keyring, which must be
// there, and against their Valid-Until date: a signed index stays signed
// forever, and one past its date is what a mirror, or anyone between,
// would replay to hide a newer build (a security fix). EnvAllowExpired
// lifts the date check for a pinned mirror.
func (a *Archive) writeConfig(m Mirrors) (string, error) {
	d := a.Dir
	for _, sub := range []string{"lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "state"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return "", err
		}
	}
	keyring := a.keyring()
	if _, err := os.Stat(keyring); err != nil {
		return "", fmt.Errorf("apt needs Debian's archive keyring to verify the archive's indexes, and %s is missing: install the package debian-archive-keyring (make deps)", keyring)
	}
	if err := atomicfile.WriteBytes(filepath.Join(d, "etc", "sources.list"), []byte(sourcesList(m, a.suites(), keyring))); err != nil {
		return "", err
	}
	checkValid := "true"
	if os.Getenv(EnvAllowExpired) == "1" {
		checkValid = "false"
	}
	status := filepath.Join(d, "state", "status")
	if err := atomicfile.WriteBytes(status, nil); err != nil {
		return "", err
	}
	sandbox := "root"
	if u, err := user.Current(); err == nil {
		sandbox = u.Username
	}
	conf := fmt.Sprintf(`Dir::Etc "%[1]s/etc";
Dir::Etc::main "%[1]s/etc/apt.conf";
Dir::Etc::parts "%[1]s/etc/apt.conf.d";
Dir::Etc::sourcelist "%[1]s/etc/sources.list";
Dir::Etc::sourceparts "%[1]s/etc/sources.list.d";
Dir::Etc::preferences "%[1]s/etc/preferences";
Dir::Etc::preferencesparts "%[1]s/etc/preferences.d";
Dir::State "%[1]s/state";
Dir::State::lists "%[1]s/lists";
Dir::State::status "%[2]s";
Dir::Cache "%[1]s/cache";
APT::Architecture "%[4]s";
APT::Architectures { %[5]s };
APT::Sandbox::User "%[3]s";
Acquire::Languages "none";
Acquire::GzipIndexes "false";
Acquire::Retries "3";
Acquire::Check-Valid-Until "%[6]s";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";
Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
`, d, status, sandbox, arch.Host(), aptArchitectures(), checkValid)
	path := filepath.Join(d, "etc", "apt.conf")
	return path, atomicfile.WriteBytes(path, []byte(conf))
}

// aptArchitectures is the value of APT::Architectures: every architecture
// kmodvm runs kernels of, so that apt-get update fetches their Packages
// lists. apt only reads the lists; nothing is installed, so no multiarch
// dpkg state is involved.
func aptArchitectures() string {
	var b strings.Builder
	for _, a := range Architectures() {
		fmt.Fprintf(&b, "%q; ", a)
	}
	return b.String()
}

// ErrUnreachable means the archive could not be reached.
var ErrUnreachable = errors.New("cannot reach the Debian archive")

// ErrMissing means the mirror answered but does not serve a file its own
// index lists (HTTP 404): a mirror that has not caught up, or that keeps
// only some architectures of a build.
var ErrMissing = errors.New("the mirror does not serve a package its index lists")

// aptFailure returns a one-line cause from apt's output when it failed to
// fetch something (apt-get update exits 0 even then): the first "Err:"
// line's target and the reason on the line after it.
func aptFailure(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "Err:") {
			continue
		}
		f := strings.Fields(l)
		what := strings.Join(f[1:], " ")
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
			return what + ": " + strings.TrimSpace(lines[i+1])
		}
		return what
	}
	return ""
}

// apt runs an apt command with the private configuration in dir and
// returns its output. A non-nil progress receives the download percentage
// as apt reports it.
func (a *Archive) apt(ctx context.Context, conf, dir string, progress func(percent float64), name string, args ...string) (string, error) {
	var status *aptStatus
	if progress != nil {
		var err error
		if status, err = startStatus(progress); err != nil {
			return "", fmt.Errorf("apt status pipe: %w", err)
		}
		args = append(args, "-o", fmt.Sprintf("APT::Status-Fd=%d", statusFd))
	}
	cmd := proc.Command(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "APT_CONFIG="+conf, "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	w := io.Writer(&out)
	if a.Log != nil {
		w = io.MultiWriter(&out, a.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if status != nil {
		cmd.ExtraFiles = []*os.File{status.w} // fd 3: statusFd
		defer status.wait()
	}
	err := cmd.Start()
	if status != nil {
		status.started()
	}
	if err == nil {
		err = cmd.Wait()
	}
	if errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("%s not found: kmodvm needs apt (run `make deps` or use a Debian/Ubuntu host)", name)
	}
	if cause := aptFailure(out.String()); err != nil && cause != "" {
		if strings.Contains(cause, " 404 ") {
			return out.String(), fmt.Errorf("%w: %s", ErrMissing, cause)
		}
		return out.String(), fmt.Errorf("%w: %s", ErrUnreachable, cause)
	}
	if e := aptExpired(out.String()); e != nil {
		return out.String(), e
	}
	if err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, lastLines(out.String(), 3))
	}
	return out.String(), nil
}

// lastLines returns the last n non-empty lines of s, joined by "; ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
