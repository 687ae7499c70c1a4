package job

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// writeOutput makes the file at path with write: a new or regular file is
// written beside it under a temporary name, synced and renamed over it only
// if write succeeds, so that path holds either its old content or the
// whole new one; anything else (a FIFO, /dev/stdout) is written in place.
func writeOutput(path string, write func(f *os.File) error) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeFileAtomic writes data to path as writeOutput does.
func writeFileAtomic(path string, data []byte) error {
	return writeOutput(path, func(f *os.File) error {
		n, err := f.Write(data)
		if err == nil && n < len(data) {
			err = errors.New("short write")
		}
		return err
	})
}
