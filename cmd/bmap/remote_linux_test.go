package main

import (
	"bytes"
	"testing"
)

// TestRemoteToLoopDevice copies a raw image from a URL onto a loop device:
// only the mapped ranges are fetched and written.
func TestRemoteToLoopDevice(t *testing.T) {
	needRoot(t)
	f := readOnlyRemoteFixture(t)
	s := newRemoteServer(t, f.dir, nil)
	size := int(roundUp(int64(len(f.img.data))+8192, 4096))
	old := oldContent(size)
	dev := deviceWith(t, old)
	mustRun(t, nil, "copy", s.url("/disk.img"), dev)
	got := readDevice(t, dev, size)
	want := bytes.Clone(old)
	for _, rg := range f.m.Ranges {
		off, end := f.m.Offset(rg), f.m.Offset(rg)+f.m.Length(rg)
		copy(want[off:end], f.img.data[off:end])
	}
	sameBytes(t, dev, got, want)
	if sent := s.sentFor("/disk.img"); sent > f.m.MappedBytes()+f.m.MappedBytes()/50 {
		t.Errorf("the server sent %d bytes for %d mapped", sent, f.m.MappedBytes())
	}
}
