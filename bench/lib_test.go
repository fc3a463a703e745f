// Package bench holds the tests of the benchmark scripts' shared shell
// code, bench/lib.sh; the scripts themselves need root and the peers.
package bench

import (
	"os/exec"
	"strings"
	"testing"
)

// lib runs script with bench/lib.sh sourced and returns its output.
func lib(t *testing.T, env []string, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; . ./lib.sh; "+script)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSummary checks the median and spread that every bench script ends
// with, in the format the README's figures are copied from.
func TestSummary(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{`summary ratio "%.2fx" 2.59 1.79 1.94`, "ratio median 1.94x (min 1.79x, max 2.59x) over 3 runs\n"},
		{`summary pail "%.0f msg/s" 700 650 720 710`, "pail median 705 msg/s (min 650 msg/s, max 720 msg/s) over 4 runs\n"},
		{`summary "pail/nginx hot" "%.2fx" 1.5`, "pail/nginx hot median 1.50x (min 1.50x, max 1.50x) over 1 runs\n"},
		{`summary ratio "%.2fx" "$(ratio 3 2)" "$(ratio 1 4)" "$(ratio 10 10)"`, "ratio median 1.00x (min 0.25x, max 1.50x) over 3 runs\n"},
		{`echo $RUNS`, "3\n"},
	} {
		got, err := lib(t, nil, c.script)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.script, got, err, c.want)
		}
	}
	if got, err := lib(t, []string{"RUNS=5"}, `echo $RUNS`); err != nil || got != "5\n" {
		t.Errorf("RUNS=5: got %q (%v)", got, err)
	}
	for _, bad := range []string{"0", "x", "-1"} {
		got, err := lib(t, []string{"RUNS=" + bad}, `echo ran`)
		if err == nil || !strings.Contains(got, "RUNS must be") {
			t.Errorf("RUNS=%s: got %q (%v), want a refusal", bad, got, err)
		}
	}
}
