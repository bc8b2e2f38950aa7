package srcbuild

import (
	"bufio"
	"strings"
)

// Missing lists the requests of a config fragment that the final .config
// does not honour: "CONFIG_X=v" lines must appear as they are, and
// "# CONFIG_X is not set" lines must not be set to anything. Kconfig drops
// an option whose dependencies are unmet without a word, so this check is
// what keeps a debug kernel from being silently weaker than asked.
func Missing(fragment, final string) []string {
	have := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(final))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			have[k] = v
		}
	}
	var missing []string
	sc = bufio.NewScanner(strings.NewReader(fragment))
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
