package simg

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps simg a format package: it may use bmap, but not
// the copy engine, decompression, signatures or the command line.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"/flash", "/decompress", "/verify", "/cmd/"} {
			if strings.HasPrefix(dep, "github.com/bmap-tools/bmap") && strings.Contains(dep, banned) {
				t.Errorf("package simg depends on %s", dep)
			}
		}
	}
}
