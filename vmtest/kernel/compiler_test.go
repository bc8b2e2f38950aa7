package kernel

import (
	"os"
	"path/filepath"
	"testing"
)

// The compiler is named without the cross prefix a .kernelvariables may
// spell, whichever architecture's, and CONFIG_CC_VERSION_TEXT names it when
// the headers do not.
func TestDetectCompiler(t *testing.T) {
	tests := []struct {
		name, vars, text, want string
	}{
		{"native", "CC = gcc-12\n", "", "gcc-12"},
		{"cross variable", "CC = $(CROSS_COMPILE)gcc-14\n", "", "gcc-14"},
		{"amd64 prefix", "CC := x86_64-linux-gnu-gcc-12\n", "", "gcc-12"},
		{"arm64 prefix", "CC = aarch64-linux-gnu-gcc-12\n", "", "gcc-12"},
		{"clang", "CC = clang-16\n", "", "clang-16"},
		{"from the config", "", "gcc-12 (Debian 12.2.0-14) 12.2.0", "gcc-12"},
		{"versionless gcc", "", "gcc (GCC) 13.1.0", "gcc-13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ".kernelvariables"), []byte(tt.vars), 0o644); err != nil {
				t.Fatal(err)
			}
			config := filepath.Join(dir, "config")
			if err := os.WriteFile(config, []byte("CONFIG_CC_VERSION_TEXT=\""+tt.text+"\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got, text := DetectCompiler(dir, config); got != tt.want || text != tt.text {
				t.Errorf("detectCompiler = %q, %q; want %q, %q", got, text, tt.want, tt.text)
			}
		})
	}
}
