package decompress

import (
	"fmt"
	"strings"
)

// Archives with several files. The image is the regular file of the
// image's size (Options.ImageSize) if it is known: the first of that size,
// and an archive with none is an error that names its files and their
// sizes. Otherwise it is the largest file where every file is known before
// reading (a zip read through its central directory), and the first one
// in an archive read as a stream, which cannot go back. Notes name the file
// used, why, and the files ignored.

// A member is a regular file of an archive.
type member struct {
	name string
	size int64 // -1 if unknown (a streamed zip member with a data descriptor)
}

func (m member) String() string {
	if m.size < 0 {
		return fmt.Sprintf("%q (size unknown)", m.name)
	}
	return fmt.Sprintf("%q (%d bytes)", m.name, m.size)
}

// listMembers names up to memberLimit members, then says how many more.
func listMembers(ms []member) string {
	var parts []string
	for i, m := range ms {
		if i == memberLimit {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-i))
			break
		}
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// chooseMember returns the index of the image among ms, with why it was
// chosen, or -1 if size is known (> 0) and no member has it.
func chooseMember(ms []member, size int64) (int, string) {
	if size > 0 {
		for i, m := range ms {
			if m.size == size {
				return i, "the file of the image's size"
			}
		}
		return -1, ""
	}
	best := 0
	for i, m := range ms {
		if m.size > ms[best].size {
			best = i
		}
	}
	return best, "the largest file"
}

// noMemberOfSize is the error of an archive (format "tar" or "zip")
// without a file of the image's size.
func noMemberOfSize(format string, size int64, ms []member) error {
	return &Error{Format: format, Offset: -1, Err: fmt.Errorf("no file in the archive has the image's size, %d bytes: %s", size, listMembers(ms))}
}

// usingNote says which of several files is the image, and which are not.
func usingNote(what string, used member, why string, others []member) string {
	return fmt.Sprintf("%s has %d files; using %s, %s; ignoring %s", what, len(others)+1, used, why, listMembers(others))
}
