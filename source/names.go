package source

import (
	"path"
	"strings"
)

// Sibling returns the name of the file beside name with suffix appended,
// such as its bmap (".bmap") or a bmap's signature (".asc").
func Sibling(name, suffix string) string { return name + suffix }

// BmapCandidates lists where bmaptool looks for the bmap of an image, in
// order: the image's name + ".bmap", then with one extension after another
// removed ("a.img.gz" → "a.img.gz.bmap", "a.img.bmap", "a.bmap").
func BmapCandidates(image string) []string {
	if image == Stdin {
		return nil
	}
	var out []string
	base := image
	for {
		out = append(out, Sibling(base, ".bmap"))
		ext := path.Ext(base)
		if ext == "" || ext == base || strings.HasSuffix(base, "/"+ext) {
			return out
		}
		base = strings.TrimSuffix(base, ext)
	}
}

// Base returns the last element of name, for messages ("image.wic.xz").
func Base(name string) string {
	if name == Stdin {
		return "stdin"
	}
	return path.Base(name)
}
