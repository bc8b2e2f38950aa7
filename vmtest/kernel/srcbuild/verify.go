package srcbuild

import (
	"bufio"
	"strings"

	"github.com/kmodvm/kmodvm/vmtest/kernel"
)

// optionalMark ends a fragment line that is asked for but not checked:
// an option some versions do not have (UBSAN_SANITIZE_ALL went away in 6.9,
// UBSAN_SHIFT came in 5.11) or cannot set directly (7.x's CRC helpers
// are selected by their users only). Sanitizers are never optional.
const optionalMark = "# kmodvm: optional"

// splitOptional returns a fragment as merge_config.sh should see it (the
// marks removed) and the part of it the final .config is checked against.
func splitOptional(fragment string) (request, strict string) {
	var req, str strings.Builder
	for _, line := range strings.Split(fragment, "\n") {
		if opt, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), optionalMark); ok {
			req.WriteString(strings.TrimRight(opt, " \t") + "\n")
			continue
		}
		req.WriteString(line + "\n")
		str.WriteString(line + "\n")
	}
	return strings.TrimSuffix(req.String(), "\n"), strings.TrimSuffix(str.String(), "\n")
}

// Missing lists the requests of a config fragment that the final .config
// does not honour: "CONFIG_X=v" lines must appear as they are, and
// "# CONFIG_X is not set" lines must not be set to anything. Kconfig drops
// an option whose dependencies are unmet without a word, so this check is
// what keeps a debug kernel from being silently weaker than asked.
func Missing(fragment, final string) []string {
	have := kernel.ParseConfig(final)
	var missing []string
	sc := bufio.NewScanner(strings.NewReader(fragment))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			if got, ok := have[k]; !ok {
				missing = append(missing, k+"="+v+" (not set)")
			} else if got != v {
				missing = append(missing, k+"="+v+" (is "+got+")")
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# CONFIG_"); ok && strings.HasSuffix(rest, " is not set") {
			k := "CONFIG_" + strings.TrimSuffix(rest, " is not set")
			if got, ok := have[k]; ok && got != "n" {
				missing = append(missing, k+" unset (is "+got+")")
			}
		}
	}
	return missing
}
