//go:build !linux && !darwin

package flash

import (
	"errors"
	"os"
)

// openDirect opens path through the page cache: this system has no
// O_DIRECT.
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag, perm)
	return f, false, err
}

func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

func isEINVAL(error) bool { return false }
